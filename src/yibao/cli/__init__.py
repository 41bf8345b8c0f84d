"""The ``yibao`` command line (Typer + Rich).  Thin: it parses, calls a capability, prints."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from yibao.errors import FieldError
from yibao.policy.loader import PolicyError, example_path, load_region

app = typer.Typer(
    help="yibao 医保平台 — policy as data, one-stop settlement, ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="政策文件 policy files", no_args_is_help=True)
ledger_app = typer.Typer(help="账本 ledger", no_args_is_help=True)
bench_app = typer.Typer(help="基准测试 benchmarks (JSON lines)", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")


def _mount_optional() -> None:
    """Capabilities with their own Typer apps, mounted here so the entry point stays thin."""
    from yibao.bench.api import bench_api_cmd
    from yibao.bench.crossregion import bench_crossregion_cmd
    from yibao.bench.faults import bench_faults_cmd
    from yibao.bench.fund import bench_fund_cmd
    from yibao.cli.assess import assess_app
    from yibao.cli.audit import audit_app
    from yibao.cli.audit_cases import cases_app
    from yibao.cli.care import care_app
    from yibao.cli.consult import consult_app
    from yibao.cli.crossregion import crossregion_app
    from yibao.cli.drg import drg_app
    from yibao.cli.encounter import encounter_app
    from yibao.cli.enrol import enrol_app
    from yibao.cli.fund import fund_app
    from yibao.cli.payment import payment_app
    from yibao.cli.portal import portal_app
    from yibao.cli.serve import serve_cmd
    from yibao.cli.simulate import simulate_cmd
    from yibao.cli.synth import synth_app
    from yibao.cli.users import users_app
    from yibao.cli.voucher import voucher_app

    app.add_typer(users_app, name="users", help="登录用户 logins: create-admin, passwd, disable")
    app.add_typer(synth_app, name="synth", help="合成统筹区数据 synthetic region year (Parquet)")
    app.command(
        "simulate", help="政策模拟 what-if: re-settle a year under a baseline and a candidate policy"
    )(simulate_cmd)
    app.command(
        "serve", help="启动医保服务 HTTP service (national transactions, REST, FHIR R4, portal, dashboard)"
    )(serve_cmd)
    bench_app.command(
        "api", help="api.settle.8: 2207 over HTTP on PostgreSQL, 8 clients in a separate process"
    )(bench_api_cmd)
    bench_app.command(
        "faults",
        help="faults: settle over HTTP while killing the server, cutting and restarting PostgreSQL, filling its disk",
    )(bench_faults_cmd)
    app.add_typer(portal_app, name="portal", help="参保人服务门户 patient portal (seed, due, queue)")
    audit_app.add_typer(
        cases_app, name="cases", help="稽核案件 audit cases: 疑点 → 告知 → 申诉 → 裁定 → 扣款"
    )
    app.add_typer(audit_app, name="audit", help="智能审核 smart audit: rules, models, evaluation, cases")
    app.add_typer(drg_app, name="drg", help="DRG 分组 DRG grouping (chs-drg-demo, ms-drg-v43)")
    app.add_typer(payment_app, name="payment", help="DRG/DIP 医院付费 hospital payment (点数法 / 按病种分值)")
    app.add_typer(voucher_app, name="voucher", help="医保电子凭证 electronic insurance voucher")
    app.add_typer(
        encounter_app, name="encounter", help="国家接口就诊流程 national visit flow: institutions, cards"
    )
    app.add_typer(care_app, name="care", help="互联网医疗 internet care scenes")
    app.add_typer(
        consult_app, name="consult", help="政策征求意见 public consultations on a draft policy (共治)"
    )
    app.add_typer(
        crossregion_app, name="crossregion", help="异地就医直接结算 clearing hub, demo, monthly clearing"
    )
    app.add_typer(fund_app, name="fund", help="医保基金 fund: accounts, warnings, projection, budget")
    app.add_typer(assess_app, name="assess", help="定点机构年度考核 institution assessment and appeals")
    bench_app.command(
        "crossregion",
        help="crossregion.settle (3 regions + hub, 8 clients) and crossregion.clearing (1M, 30 regions)",
    )(bench_crossregion_cmd)
    bench_app.command("fund", help="fund.project (10M persons) and assess.score (2,000)")(bench_fund_cmd)
    app.add_typer(
        enrol_app, name="enrol", help="参保登记与缴费 enrolment, contributions, the benefit check (2001)"
    )


_mount_optional()
console = Console()
err = Console(stderr=True)

DEFAULT_DB = Path(".yibao") / "demo.db"
RegionOpt = Annotated[
    str, typer.Option("--region", "-r", help="example region name (xian, weinan) or a file")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]


def _db_url(db: str | None) -> str:
    return db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_DB}"


def _region_path(region: str) -> Path:
    return Path(region) if Path(region).exists() else example_path(region)


def _fail(payload: dict[str, Any], code: int = 2) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2))
    raise typer.Exit(code)


@policy_app.command("validate")
def policy_validate(files: Annotated[list[Path], typer.Argument(help="region files (YAML)")]) -> None:
    """Validate region files; errors name the file, the path inside it and the reason."""
    bad = 0
    for f in files:
        try:
            loaded = load_region(f)
        except PolicyError as exc:
            bad += 1
            for p in exc.problems:
                err.print(f"[red]✗[/] {exc.file}: [bold]{p.path or '<root>'}[/]: {p.reason}")
            continue
        r = loaded.region
        n_items = sum(len(c) for c in loaded.catalogues.values())
        console.print(
            f"[green]✓[/] {f}: {r.region.name} ({r.region.admdvs}) · {len(r.versions)} versions "
            f"({', '.join(f'{v.id}: {v.effective_from}…{v.effective_to}' for v in r.versions)}) · "
            f"{sum(len(v.benefits) for v in r.versions)} benefits · "
            f"{sum(len(v.layers) for v in r.versions)} layers · {n_items} catalogue items · "
            f"{len(r.sources)} sources"
        )
    if bad:
        raise typer.Exit(1)


@app.command()
def settle(
    visit_file: Annotated[Path, typer.Argument(help="visit JSON (see examples/), '-' for stdin")],
    pre: Annotated[
        bool, typer.Option("--pre", help="pre-settle (2206): compute only, write nothing")
    ] = False,
    msgid: Annotated[
        str | None, typer.Option(help="message id (idempotency key); default from the file")
    ] = None,
    region: RegionOpt = "xian",
    db: DbOpt = None,
    explain_: Annotated[bool, typer.Option("--explain/--no-explain", help="include the explanation")] = True,
) -> None:
    """Settle (2207) or pre-settle (2206) a visit for a person in the ledger; prints the 2207 JSON."""
    from yibao.care.store import CoverLookup
    from yibao.ledger import Ledger
    from yibao.policy.book import PolicyBook
    from yibao.settings import Settings
    from yibao.settlement import io
    from yibao.settlement.allocation import line_splits
    from yibao.settlement.explain import explain
    from yibao.settlement.model import SettlementError
    from yibao.usecases import settlement as usecase
    from yibao.usecases.eligibility import open_source

    try:
        text = sys.stdin.read() if str(visit_file) == "-" else visit_file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail({"infcode": -1, "field": "visit_file", "err_msg": f"cannot read {visit_file}: {exc.strerror}"})
    try:
        raw = io.loads(text)
        visit = io.parse_visit(raw)
        mid = msgid or (raw.get("msgid") if isinstance(raw, dict) else None)
        if not pre and not mid:
            raise SettlementError(
                "msgid",
                "结算须提供报文号 is required to settle (use --pre to pre-settle without one)",
                "missing",
            )
        settings = Settings(region=str(_region_path(region)), database_url=_db_url(db))
        book = PolicyBook.from_file(settings.region_path())
        ledger = Ledger.open(settings.database_url)
        source = open_source(settings.database_url, book.loaded)
        covers = CoverLookup(ledger.sa_url)
        try:
            # the same use case, in-event audit, benefit check and commercial cover as the national 2206/2207
            out = usecase.settle(
                ledger,
                book,
                visit,
                str(mid or "PRESETTLE"),
                audit=settings.audit_hook(),
                pre=pre,
                eligibility=source,
                covers=covers,
            )
        finally:
            covers.close()
            ledger.close()
            if source is not None:
                source.store.close()
    except FieldError as exc:
        _fail(
            {"infcode": -1, "field": exc.field, "reason": exc.reason, "code": exc.code, "err_msg": str(exc)}
        )
    except PolicyError as exc:
        _fail({"infcode": -1, "field": "region", "err_msg": str(exc)})
    s = out.settlement
    policy = book.for_date(book.settlement_day(visit.begin_date, visit.end_date))
    payload: dict[str, Any] = {
        "infcode": 0,
        "infno": "2206" if pre else "2207",
        "replayed": out.replayed,
        "output": {"setlinfo": io.setlinfo(s, None if pre else out.setl_id), "setldetail": io.setldetail(s)},
        "lines": io.line_rows(line_splits(s, visit.lines)),
    }
    if explain_:
        payload["explanation"] = explain(s, visit, policy)
    print(json.dumps(payload, ensure_ascii=False, indent=2))


@app.command()
def cancel(
    setl_id: Annotated[str, typer.Argument(help="settlement id to cancel (2208)")],
    msgid: Annotated[str, typer.Option(help="message id of this cancel (idempotency key)")],
    db: DbOpt = None,
) -> None:
    """Cancel a settlement (2208 门诊结算撤销); accumulators and the account are restored exactly."""
    _reversal("cancel", setl_id, msgid, db)


@app.command()
def reverse(
    omsgid: Annotated[str, typer.Argument(help="msgid of the transaction to reverse (2601 冲正)")],
    msgid: Annotated[str, typer.Option(help="message id of this reversal (idempotency key)")],
    db: DbOpt = None,
) -> None:
    """Reverse (2601 冲正) the transaction sent with ``omsgid``."""
    _reversal("reverse", omsgid, msgid, db)


def _reversal(kind: str, key: str, msgid: str, db: str | None) -> None:
    from dataclasses import asdict, is_dataclass

    from yibao.ledger import Ledger
    from yibao.usecases import settlement as usecase

    ledger = Ledger.open(_db_url(db))
    try:
        out = (
            usecase.cancel(ledger, None, key, msgid)
            if kind == "cancel"
            else usecase.reverse(ledger, None, key, msgid)
        )
    except FieldError as exc:
        _fail(
            {"infcode": -1, "field": exc.field, "reason": exc.reason, "code": exc.code, "err_msg": str(exc)}
        )
    finally:
        ledger.close()
    body = asdict(out) if is_dataclass(out) and not isinstance(out, type) else {"result": str(out)}
    print(
        json.dumps(
            {"infcode": 0, "infno": "2208" if kind == "cancel" else "2601", "output": body},
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    )


@ledger_app.command("verify")
def ledger_verify(db: DbOpt = None) -> None:
    """Recompute every hash chain of the journal; exit 1 on an edited, inserted or deleted row."""
    from yibao.ledger import Ledger

    ledger = Ledger.open(_db_url(db))
    try:
        report = ledger.verify()
    finally:
        ledger.close()
    if report.ok:
        console.print(
            f"[green]✓ 账本完整 journal intact[/]: {report.rows:,} rows in {report.chains:,} chains; "
            f"root {report.root}"
        )
        return
    for p in report.problems:
        err.print(f"[red]✗[/] {p}")
    err.print(f"[red]{len(report.problems)} problem(s)[/]; root {report.root}")
    raise typer.Exit(1)


anchor_app = typer.Typer(
    help="账本锚点 daily anchors of the journal (root digest + time)", no_args_is_help=True
)
ledger_app.add_typer(anchor_app, name="anchor")


@anchor_app.command("export")
def anchor_export(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write the anchor here (else print it)")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Export today's anchor: the journal's root digest as of a minute ago, with that time.  Keep the file
    outside the database (publish it, sign it, send it to the payer's security office)."""
    from yibao.ledger import Ledger

    with Ledger.open(_db_url(db)) as ledger:
        a = ledger.export_anchor()
    if out is None:
        print(a.to_json(), end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(a.to_json(), encoding="utf-8")
    console.print(
        f"[green]✓ 锚点已导出 anchor exported[/]: {out} (root {a.root[:16]}…, {a.rows:,} rows as of {a.at})"
    )


@anchor_app.command("check")
def anchor_check(
    files: Annotated[list[Path], typer.Argument(help="anchor files exported earlier")],
    db: DbOpt = None,
) -> None:
    """Check anchors against today's journal; exit 1 if the journal before any anchor's moment changed
    (an edited row re-hashed forward included)."""
    from yibao.ledger import Ledger
    from yibao.ledger.anchor import Anchor

    bad = 0
    with Ledger.open(_db_url(db)) as ledger:
        for f in files:
            r = ledger.check_anchor(Anchor.from_json(f.read_text(encoding="utf-8")))
            if r.ok:
                console.print(f"[green]✓[/] {f}: {r.anchor.rows:,} rows as of {r.anchor.at} unchanged")
            else:
                bad += 1
                err.print(f"[red]✗[/] {f}: {r.problem}")
    if bad:
        raise typer.Exit(1)


@ledger_app.command("migrate")
def ledger_migrate(db: DbOpt = None) -> None:
    """Create or upgrade the ledger schema (Alembic migrations)."""
    from yibao.ledger import Ledger

    ledger = Ledger.open(_db_url(db))
    try:
        ledger.migrate()
    finally:
        ledger.close()
    console.print("[green]✓ schema at head")


@app.command()
def demo(
    region: RegionOpt = "xian",
    persons: Annotated[int, typer.Option(min=10, help="synthetic insured persons")] = 1_000,
    visits: Annotated[
        int, typer.Option(min=0, help="settle at most this many visits (0: the whole year)")
    ] = 0,
    year: Annotated[int, typer.Option(help="settlement year (a policy version must cover it)")] = 2025,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same result)")] = 7,
    db_file: Annotated[Path, typer.Option("--db-file", help="SQLite file to (re)create")] = DEFAULT_DB,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start the HTTP service afterwards")
    ] = True,
    host: Annotated[str, typer.Option(help="service address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="service port")] = 8000,
) -> None:
    """Settle a synthetic year, pay hospitals by DRG/DIP, then serve the portal and dashboard (演示)."""
    from yibao.demo.run import run_demo

    run_demo(
        console,
        region=region,
        persons=persons,
        visits=visits,
        year=year,
        seed=seed,
        db_path=db_file,
        serve=serve,
        host=host,
        port=port,
    )


@bench_app.command("batch")
def bench_batch(
    persons: Annotated[
        int, typer.Option(help="synthetic persons (about 25 lines each; 400k ≈ 10M lines)")
    ] = 400_000,
    region: RegionOpt = "xian",
    data: Annotated[
        Path | None, typer.Option(help="a year already written by `yibao synth generate` (skips generating)")
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, help="settlements, each in a fresh process")] = 1,
    compare: Annotated[
        str | None, typer.Option(help="another checkout's src directory: runs alternate between the two")
    ] = None,
) -> None:
    """Print JSON lines: synth.generate throughput, batch.settle wall, CPU, lines/s and peak memory."""
    from yibao.bench.batch import run

    for rec in run(persons, region=region, data=data, repeat=repeat, compare=compare):
        print(json.dumps(rec), flush=True)


@bench_app.command("spark")
def bench_spark(
    lines: Annotated[
        str, typer.Option(help="sizes in fee lines, comma-separated")
    ] = "1000000,10000000,30000000",
    cores: Annotated[str, typer.Option(help="executor cores of local mode, comma-separated")] = "1,2",
    data: Annotated[Path, typer.Option(help="where the generated years are kept")] = Path(
        ".yibao/bench-spark"
    ),
    region: RegionOpt = "xian",
) -> None:
    """Print JSON lines: spark.batch throughput (lines, cores), session start and cost per partition."""
    from yibao.bench.spark import run

    sizes, ncores = [int(x) for x in lines.split(",")], [int(x) for x in cores.split(",")]
    for rec in run(sizes, ncores, data=data, region=region):
        print(json.dumps(rec), flush=True)


@bench_app.command("settle")
def bench_settle(
    visits: Annotated[int, typer.Option(help="visits for the engine benchmark")] = 100_000,
    db_visits: Annotated[int, typer.Option(help="settlements per database benchmark")] = 5_000,
    postgres: Annotated[bool, typer.Option("--postgres/--no-postgres")] = True,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL admin URL for the scratch database")] = None,
) -> None:
    """Print JSON lines: settle.engine, settle.sqlite.1, settle.postgres.1, settle.postgres.8."""
    from yibao.bench.settle import run

    for rec in run(visits=visits, db_visits=db_visits, postgres=postgres, pg_url=pg_url):
        print(json.dumps(rec), flush=True)


@bench_app.command("his")
def bench_his(
    hospitals: Annotated[int, typer.Option(help="hospitals playing their day in parallel")] = 8,
    visits: Annotated[int, typer.Option(help="outpatient visits per hospital (stays come on top)")] = 40,
    workers: Annotated[int, typer.Option(help="yibao serve worker processes")] = 2,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL admin URL for the scratch database")] = None,
) -> None:
    """Print JSON lines his.day: throughput (settled visits/s, each its whole sequence of transactions),
    p99 per transaction, failures — the HIS simulator against yibao serve on PostgreSQL."""
    from yibao.bench.his import bench_his as run

    for rec in run(hospitals=hospitals, visits=visits, url=pg_url, workers=workers):
        print(json.dumps(rec, ensure_ascii=False), flush=True)


@bench_app.command("drg")
def bench_drg(
    cases: Annotated[int, typer.Option(help="generated cases")] = 1_000_000,
    scheme: Annotated[str, typer.Option(help="scheme id")] = "chs-drg-demo",
    workers: Annotated[int, typer.Option(help="worker processes")] = 2,
) -> None:
    """Print JSON lines: drg.group throughput (cases/s), elapsed, cases per CPU-second."""
    from yibao.bench.drg import bench_drg as run

    run(cases, scheme, workers)


@bench_app.command("audit")
def bench_audit(
    lines: Annotated[
        int, typer.Option(help="fee lines in the synthetic region (cached between runs)")
    ] = 10_000_000,
    settle_visits: Annotated[
        int, typer.Option(help="visits for the in-event hook benchmark (0: leave it out)")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="synthetic region seed")] = 1,
    cache_dir: Annotated[
        Path | None, typer.Option(help="directory of the cached synthetic region (default: /tmp)")
    ] = None,
) -> None:
    """Print JSON lines: settle.engine with/without the in-event hook; audit.rules, audit.models, audit.queue,
    audit.full (elapsed and CPU seconds)."""
    from yibao.bench.audit import run

    for rec in run(lines=lines, settle_visits=settle_visits, seed=seed, cache_dir=cache_dir):
        print(json.dumps(rec), flush=True)


@bench_app.command("audit-cases")
def bench_audit_cases(
    flags: Annotated[int, typer.Option(help="suspect items to group into cases")] = 1_000_000,
    cases: Annotated[int, typer.Option(help="cases taken through notice, expiry and deduction")] = 200,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL database URL (default: SQLite only)")] = None,
) -> None:
    """Print JSON lines: case grouping throughput and workflow steps per second (SQLite, PostgreSQL)."""
    from yibao.bench.audit_cases import run

    for rec in run(flags=flags, cases=cases, pg_url=pg_url):
        print(json.dumps(rec), flush=True)


@bench_app.command("payment")
def bench_payment(
    cases: Annotated[int, typer.Option(help="discharges per year (4 years are generated)")] = 1_000_000,
) -> None:
    """Print JSON lines: payment.drg / payment.dip throughput (cases/s) and wall time."""
    from yibao.bench.payment import run

    for rec in run(cases):
        print(json.dumps(rec), flush=True)


@bench_app.command("eligibility")
def bench_eligibility(
    persons: Annotated[int, typer.Option(help="synthetic persons whose statuses are checked")] = 20_000,
    visits: Annotated[int, typer.Option(help="benefit checks timed")] = 1_000_000,
    import_persons: Annotated[
        int, typer.Option(help="rows of the collection file imported (0: skip)")
    ] = 5_000_000,
    postgres: Annotated[bool, typer.Option("--postgres/--no-postgres")] = True,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL admin URL for the scratch database")] = None,
) -> None:
    """Print JSON lines: eligibility.check latency_mean (µs), check_frame throughput, enrol.import elapsed (s)."""
    from yibao.bench.eligibility import run

    for rec in run(
        persons=persons, visits=visits, import_persons=import_persons, postgres=postgres, pg_url=pg_url
    ):
        print(json.dumps(rec, ensure_ascii=False), flush=True)


@bench_app.command("portal")
def bench_portal(
    persons: Annotated[int, typer.Option(help="synthetic persons in the seeded database")] = 200,
    requests: Annotated[int, typer.Option(help="requests per page")] = 200,
) -> None:
    """Print JSON lines: portal page latencies (in-process) and the decision aid."""
    from yibao.bench.portal import run

    for rec in run(persons=persons, requests=requests):
        print(json.dumps(rec), flush=True)


@bench_app.command("voucher")
def bench_voucher(
    tokens: Annotated[int, typer.Option(help="vouchers issued and verified in memory")] = 50_000,
    db_tokens: Annotated[int, typer.Option(help="vouchers verified against the SQLite nonce table")] = 2_000,
    visits: Annotated[
        int, typer.Option(help="online follow-ups settled with commercial cover in memory (0: skip)")
    ] = 100_000,
) -> None:
    """Print JSON lines: voucher.issue, voucher.verify (one core), replay refusal, SQLite verify, and the
    engine part of an online follow-up settled with commercial cover (care.followup.*)."""
    from yibao.bench.voucher import run

    for rec in run(tokens=tokens, db_tokens=db_tokens, visits=visits):
        print(json.dumps(rec), flush=True)


@bench_app.command("care")
def bench_care(
    visits: Annotated[int, typer.Option(help="online follow-ups settled in memory")] = 100_000,
) -> None:
    """Print JSON lines: care.followup.engine — follow-up settlement with commercial cover (engine part)."""
    from yibao.bench.care import run

    for rec in run(visits):
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":  # pragma: no cover
    app()
