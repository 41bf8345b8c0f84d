"""``yibao serve``: the HTTP service (the lead mounts :func:`serve_cmd` on the main Typer app)."""

from __future__ import annotations

from typing import Annotated

import typer

from yibao.settings import Settings


def serve_cmd(
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port")] = 8000,
    host: Annotated[str, typer.Option("--host", help="interface to bind (0.0.0.0 for all)")] = "127.0.0.1",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="uvicorn worker processes")] = 1,
    db: Annotated[
        str | None,
        typer.Option("--db", help="database URL (default $YIBAO_DATABASE_URL, else .yibao/yibao.db)"),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="example region name or region file")
    ] = None,
    no_access_log: Annotated[bool, typer.Option("--no-access-log", help="do not log every request")] = False,
    hub_url: Annotated[
        str | None, typer.Option("--hub-url", help="cross-region clearing hub to route visitors through")
    ] = None,
    hub_key: Annotated[str | None, typer.Option("--hub-key", help="key shared with the clearing hub")] = None,
) -> None:
    """启动医保服务 Start the service: national transactions, REST, FHIR R4 (OpenAPI at /openapi.json)."""
    from yibao.web.serve import run

    overrides: dict[str, object] = {}
    if db:
        overrides["database_url"] = db
    if region:
        overrides["region"] = region
    if hub_url:
        overrides["hub_url"] = hub_url
    if hub_key:
        overrides["hub_key"] = hub_key
    settings = Settings.from_env(**overrides)
    typer.echo(f"yibao 医保服务 http://{host}:{port}/  (OpenAPI: /openapi.json, docs: /docs)")
    run(host, port, settings, workers=workers, access_log=not no_access_log)
