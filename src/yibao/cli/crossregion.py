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


@crossregion_app.command("demo")
def demo(
    workdir: Annotated[Path, typer.Option(help="folder for the databases and logs (replaced)")] = Path(
        ".yibao/crossregion-demo"
    ),
    month: Annotated[str, typer.Option(help="month to clear (YYYY-MM)")] = "2025-06",
) -> None:
    """演示：清算中心 + 西安、渭南两个统筹区；双向结算异地就医、月度清算、打印清算单。
    Start the hub and two regions, settle visitors both ways, clear the month, print the statements."""
    from rich.console import Console
    from rich.table import Table

    from yibao.demo.crossregion import run_demo
    from yibao.money import fmt_yuan

    names = {"610100": "西安", "610500": "渭南"}
    con = Console()
    con.print("启动清算中心与两个统筹区（各自独立进程与数据库）… starting the hub and two regions")
    r = run_demo(workdir, month)
    t = Table(title="异地就医直接结算 visitors settled (就医地目录、参保地政策)")
    for col in (
        "就医地 care",
        "参保地 insured",
        "人员 person",
        "备案 filing",
        "总额",
        "起付线",
        "基金",
        "账户",
        "现金",
        "结果",
    ):
        t.add_column(col)
    for s in r.settlements:
        loc = {"remote_longterm": "长期居住", "remote_filed": "临时备案", "remote_unfiled": "未备案"}
        t.add_row(names[s["care"]], names[s["insu"]], s["psn_no"], loc.get(s["locality"], s["locality"]), s["medfee_sumamt"],
                  s["act_pay_dedc"], s["fund_pay_sumamt"], s["acct_pay"], s["psn_cash_pay"],
                  "成功 ok" if s["infcode"] == 0 else str(s["err"]))  # fmt: skip
    con.print(t)
    cl = r.clearing
    t = Table(title=f"{cl['month']} 清算单 clearing statements (就医地垫付，参保地应付)")
    for col in ("就医地 care", "参保地 insured", "笔数", "应付 owed", "疑点暂缓 held"):
        t.add_column(col)
    for p in cl["pairs"]:
        t.add_row(names.get(p["care_admdvs"], p["care_admdvs"]), names.get(p["insu_admdvs"], p["insu_admdvs"]),
                  str(p["count"]), fmt_yuan(p["amount_fen"]), ", ".join(p["held"]) or "—")  # fmt: skip
    con.print(t)
    t = Table(title="净额与预付金 net positions and prepayment funds (预付金 ≈ 2 个月)")
    for col in (
        "统筹区",
        "应收 receivable",
        "应付 payable",
        "净额 net",
        "期初预付金",
        "清算后",
        "核定额 target",
        "补缴(+)/返还(−)",
    ):
        t.add_column(col)
    pre = {x["region"]: x for x in cl["prepayments"]}
    for p in cl["positions"]:
        q = pre[p["region"]]
        t.add_row(names.get(p["region"], p["region"]), fmt_yuan(p["receivable_fen"]), fmt_yuan(p["payable_fen"]),
                  fmt_yuan(p["net_fen"]), fmt_yuan(q["opening_fen"]), fmt_yuan(q["after_clearing_fen"]),
                  fmt_yuan(q["target_fen"]), fmt_yuan(q["top_up_fen"]))  # fmt: skip
    con.print(t)
    con.print(f"净额合计 Σ net = {cl['net_sum_fen']} 分 (must be 0)")
    for k, breaks in r.verified.items():
        con.print(f"清算单逐笔核对 {k}: " + ("核对无误 verified" if not breaks else "; ".join(breaks)))
    for code, rec in r.reconciliation.items():
        con.print(f"对账 {names[code]}（就医地）与清算中心: {len(rec['breaks'])} 处不符 breaks")
    if cl["carried_disputes"]:
        con.print("疑点结转下月 disputes carried: " + ", ".join(d["msgid"] for d in cl["carried_disputes"]))


@crossregion_app.command("reconcile")
def reconcile_cmd(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="CSV with columns msgid,status,owed (owed in 元)")
    ],
    admdvs: Annotated[str, typer.Option(help="the region whose records these are")],
    side: Annotated[str, typer.Option(help="care (就医地) or insured (参保地)")] = "care",
    hub: Annotated[str, typer.Option(help="clearing hub URL")] = "http://127.0.0.1:9000",
    key: Annotated[str, typer.Option(envvar="YIBAO_HUB_KEY", help="hub key")] = "",
) -> None:
    """对账：把本方记录（文件）与清算中心逐笔核对，列出不符及处理办法。
    Reconcile a region's (or a hospital's) own records, fed in as a file, against the hub."""
    import csv
    import json

    from yibao.crossregion.client import JsonClient, Unreachable
    from yibao.money import MoneyError, yuan_to_fen

    if side not in ("care", "insured"):
        raise typer.BadParameter("care 或 insured", param_hint="--side")
    records = []
    with open(file, encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                records.append(
                    {"msgid": row["msgid"], "status": row["status"], "owed": yuan_to_fen(row["owed"])}
                )
            except (KeyError, MoneyError) as exc:
                raise typer.BadParameter(f"第 {i} 行 row {i}: {exc}", param_hint="--file") from None
    client = JsonClient(hub, key, 30.0)
    try:
        out = client.post("/hub/v1/reconcile", {"admdvs": admdvs, "side": side, "records": records})
    except Unreachable as exc:
        typer.echo(f"清算中心不可达 hub not reachable: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    raise typer.Exit(1 if out.get("breaks") else 0)
