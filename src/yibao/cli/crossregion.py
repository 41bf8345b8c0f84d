"""``yibao crossregion``: the clearing hub service, the demo (hub + two regions), filings at the counter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

crossregion_app = typer.Typer(
    help="异地就医直接结算 cross-region direct settlement: clearing hub, demo, clearing", no_args_is_help=True
)


@crossregion_app.command("hub")
def hub(
    region: Annotated[
        list[str],
        typer.Option(
            "--region", "-r", help="a region as CODE=URL (repeat), e.g. 610100=http://127.0.0.1:8001"
        ),
    ],
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port")] = 9000,
    host: Annotated[str, typer.Option("--host", help="interface to bind")] = "127.0.0.1",
    db: Annotated[str, typer.Option("--db", help="the hub's own database URL")] = "sqlite:///.yibao/hub.db",
    key: Annotated[
        str, typer.Option("--key", envvar="YIBAO_HUB_KEY", help="key shared with the regions")
    ] = "",
    timeout: Annotated[float | None, typer.Option("--timeout", help="seconds to wait for a region")] = None,
) -> None:
    """启动清算中心 Start the clearing hub (stands for the national platform)."""
    import uvicorn

    from yibao.crossregion.params import load_params
    from yibao.web.hub import create_hub_app

    regions: dict[str, str] = {}
    for item in region:
        code, sep, url = item.partition("=")
        if not sep or len(code) != 6 or not code.isdigit() or not url.startswith("http"):
            raise typer.BadParameter(f"{item!r}: 应为 区划代码=地址 expected CODE=URL", param_hint="--region")
        regions[code] = url
    if not key:
        raise typer.BadParameter(
            "清算中心密钥必填 a hub key is required (--key or YIBAO_HUB_KEY)", param_hint="--key"
        )
    if db.startswith("sqlite:///"):
        Path(db[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    app = create_hub_app(db, regions, key, timeout or load_params().timeout_seconds)
    typer.echo(f"yibao 清算中心 clearing hub http://{host}:{port}/  regions: {', '.join(sorted(regions))}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
