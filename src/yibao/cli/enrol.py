"""``yibao enrol``: enrolment, contributions and the benefit check on the command line (mounted as ``enrol``).

yibao enrol import collection-2025.csv            # the tax authority's resident premium collection file
yibao enrol import roster-E001-2025-03.csv        # an employer's monthly roster (kind detected from the header)
yibao enrol load-synth synth-out                  # the synthetic region's enrolment files
yibao enrol event P000000123 --kind death --day 2025-06-01
yibao enrol status P000000123 --on 2025-06-01
yibao enrol check P000000123 --date 2025-06-01 --med-type 21      # 2001 人员待遇享受检查
yibao enrol collection-report --year 2025 --on 2025-12-31
yibao enrol income --basis cash

Every command takes ``--db`` (default ``$YIBAO_DATABASE_URL``, else the demo SQLite file), ``--region``
and ``--json`` (machine-readable output; errors then print the national error shape and exit 2).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from yibao.enrolment.check import check, insuinfo_1101, refusal, trtinfo_2001
from yibao.enrolment.figures import (
    arrears_by_employer,
    collection_report,
    continuity_rate,
    coverage_by_district,
    income_frame,
)
from yibao.enrolment.history import status_on
from yibao.enrolment.model import EventKind, ImportRejected, RelationEvent
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.errors import FieldError
from yibao.money import fmt_yuan
from yibao.policy.loader import PolicyError, example_path, load_region

enrol_app = typer.Typer(
    help="参保登记与缴费 enrolment, contributions and the benefit check", no_args_is_help=True
)
console = Console()
DEFAULT_DB = Path(".yibao") / "demo.db"

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]
RegionOpt = Annotated[
    str, typer.Option("--region", "-r", help="example region name (xian, weinan) or a file")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def _url(db: str | None) -> str:
    return db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_DB}"


def _policy(region: str) -> EnrolmentPolicy:
    path = Path(region) if Path(region).exists() else example_path(region)
    pol = policy_for_region(load_region(path))
    if pol is None:
        raise FieldError(
            "region", f"该统筹区没有参保政策文件 no enrolment policy file for {region}", "no_policy"
        )
    return pol


def _store(db: str | None, region: str) -> Any:
    from yibao.enrolment.store import EnrolmentStore

    return EnrolmentStore(_url(db), _policy(region))


def _sync_ledger(db: str | None, store: Any, psn_nos: list[str] | None = None) -> int:
    """Carry the registry's current schemes and person types to the ledger's person rows (same database)."""
    from yibao.ledger import Ledger
    from yibao.usecases.enrolment import sync_ledger

    led = Ledger.open(_url(db))
    try:
        return len(sync_ledger(led, store, psn_nos))
    finally:
        led.close()


def _fail(exc: Exception, as_json: bool) -> None:
    if isinstance(exc, ImportRejected):
        payload: dict[str, Any] = {
            "infcode": -1,
            "field": exc.field,
            "err_msg": exc.reason,
            "code": exc.code,
            "total": exc.total,
            "problems": [p.as_dict() for p in exc.problems],
        }
    elif isinstance(exc, FieldError):
        payload = {"infcode": -1, "field": exc.field, "err_msg": exc.reason, "code": exc.code}
    else:
        payload = {"infcode": -1, "field": "region", "err_msg": str(exc), "code": "policy"}
    if as_json:
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        console.print(f"[red]✗ {payload['field']}: {payload['err_msg']}[/]")
        for p in payload.get("problems", [])[:50]:
            console.print(f"  第{p['row']}行 [bold]{p['field']}[/]: {p['reason']}")
        if payload.get("total", 0) > 50:
            console.print(f"  … 共{payload['total']}处 ({payload['total']} in all)")
    raise typer.Exit(2)


def _day(text: str | None, field: str) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FieldError(
            field, f"日期须为YYYY-MM-DD date must be YYYY-MM-DD, not {text!r}", "invalid"
        ) from None


def _emit(payload: Any, as_json: bool) -> bool:
    if as_json:
        print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    return as_json


@enrol_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="collection file or employer roster (CSV or Parquet)")],
    kind: Annotated[
        str, typer.Option("--kind", help="collection | roster | auto (from the header)")
    ] = "auto",
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """Import a file in one transaction: every bad row is reported (line, column, reason) and nothing is written."""
    try:
        if kind == "auto":
            kind = _detect(file)
        if kind not in ("collection", "roster"):
            raise FieldError("kind", f"未知的文件类型 {kind!r}（collection/roster） unknown kind", "invalid")
        store = _store(db, region)
        try:
            out = store.import_collection(file) if kind == "collection" else store.import_roster(file)
            synced = _sync_ledger(db, store)
        finally:
            store.close()
    except (FieldError, PolicyError) as exc:
        _fail(exc, as_json)
    if not _emit({"infcode": 0, "output": {**out.as_dict(), "ledger_persons_updated": synced}}, as_json):
        console.print(
            f"[green]✓ 已导入 imported[/] {file.name}: {out.rows:,} 行 rows · 新登记 {out.persons_registered:,} "
            f"persons registered · {out.events:,} 参保变更 events · 批次 batch {out.batch_id} · {out.elapsed_s:.1f}s"
            f" · 账本人员险种更新 ledger persons updated {synced:,}"
        )


def _detect(file: Path) -> str:
    if not file.exists():
        raise FieldError("file", f"文件不存在 file not found: {file}", "missing")
    if file.suffix.lower() == ".parquet":
        import polars as pl

        cols = set(pl.read_parquet_schema(file))
    else:
        with file.open(encoding="utf-8") as f:
            cols = {c.strip().lstrip("\ufeff") for c in f.readline().split(",")}
    if "emp_no" in cols:
        return "roster"
    if "year" in cols:
        return "collection"
    raise FieldError(
        "file", "无法识别文件类型（缺少 year 或 emp_no 列） cannot tell the kind: give --kind", "invalid"
    )


@enrol_app.command("load-synth")
def load_synth_cmd(
    directory: Annotated[Path, typer.Argument(help="output directory of `yibao synth generate`")],
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """Load the synthetic region's registry, histories, premiums and contributions (one transaction)."""
    try:
        store = _store(db, region)
        try:
            out = store.load_synth(directory)
            _sync_ledger(db, store)
        finally:
            store.close()
    except (FieldError, PolicyError, OSError) as exc:
        if isinstance(exc, OSError):
            exc = FieldError("directory", f"无法读取 cannot read {directory}: {exc}", "missing")
        _fail(exc, as_json)
    if not _emit({"infcode": 0, "output": out.as_dict()}, as_json):
        console.print(
            f"[green]✓ 已载入 loaded[/] {out.rows:,} persons · {out.events:,} events · {out.elapsed_s:.1f}s"
        )


@enrol_app.command("event")
def event_cmd(
    psn_no: Annotated[str, typer.Argument(help="人员编号 person number")],
    kind: Annotated[str, typer.Option("--kind", help=", ".join(k.value for k in EventKind))],
    day: Annotated[str, typer.Option("--day", help="effective date YYYY-MM-DD")],
    insutype: Annotated[str, typer.Option(help="scheme (enrol / transfer_in)")] = "",
    psn_type: Annotated[str, typer.Option(help="person type (enrol / transfer_in / change_type)")] = "",
    emp_no: Annotated[str, typer.Option(help="employer")] = "",
    other_admdvs: Annotated[str, typer.Option(help="transfer: the other region")] = "",
    months_carried: Annotated[int, typer.Option(help="contribution months carried over")] = 0,
    years_carried: Annotated[int, typer.Option(help="continuous insured years carried over")] = 0,
    insured_until: Annotated[str | None, typer.Option(help="last insured day in the other region")] = None,
    reason: Annotated[str, typer.Option(help="reason (free text)")] = "",
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """Record one relation event (death, transfer, suspension …) after checking the history stays valid."""
    try:
        try:
            k = EventKind(kind)
        except ValueError:
            raise FieldError("kind", f"未知的变更类型 {kind!r} unknown event kind", "invalid") from None
        ev = RelationEvent(
            psn_no,
            _day(day, "day"),
            k,
            insutype,
            psn_type,
            emp_no,
            "",
            other_admdvs,
            months_carried,
            years_carried,
            _day(insured_until, "insured_until") if insured_until else None,
            reason,
        )
        store = _store(db, region)
        try:
            n = store.record_events([ev])
            synced = _sync_ledger(db, store, [psn_no])
        finally:
            store.close()
    except (FieldError, PolicyError) as exc:
        _fail(exc, as_json)
    if not _emit({"infcode": 0, "output": {"events": n, "ledger_persons_updated": synced}}, as_json):
        console.print(f"[green]✓ 已记录 recorded[/] {kind} {psn_no} {day}")


@enrol_app.command("status")
def status_cmd(
    psn_no: Annotated[str, typer.Argument(help="人员编号 person number")],
    on: Annotated[str | None, typer.Option("--on", help="day YYYY-MM-DD (default today)")] = None,
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """参保信息: the relation (1101 insuinfo) on a day, the history, premiums, contributions and status intervals."""
    try:
        day = _day(on, "on")
        store = _store(db, region)
        try:
            rec = store.person(psn_no)
            if rec is None:
                raise FieldError("psn_no", f"人员编号不存在 unknown person {psn_no}", "unknown")
            st = store.status(psn_no)
        finally:
            store.close()
    except (FieldError, PolicyError) as exc:
        _fail(exc, as_json)
    rel = status_on(rec.events, day)
    payload: dict[str, Any] = {
        "baseinfo": {
            "psn_no": psn_no,
            "psn_name": rec.name,
            "certno": rec.certno,
            "gend": rec.facts.gender,
            "brdy": rec.facts.birth_date.isoformat(),
            "district": rec.district,
            "household_no": rec.household_no,
        },
        "insuinfo": insuinfo_1101(rel, insuplc_admdvs=store.policy.admdvs, emp_name=rel.emp_no),
        "events": [
            {
                "seq": e.seq,
                "day": e.day.isoformat(),
                "kind": e.kind.value,
                "insutype": e.insutype,
                "psn_type": e.psn_type,
                "emp_no": e.emp_no,
                "other_admdvs": e.other_admdvs,
                "months_carried": e.months_carried,
                "reason": e.reason,
            }
            for e in rec.events
        ],
        "premiums": [
            {
                "year": p.year,
                "kind": p.kind,
                "paid_on": p.paid_on.isoformat(),
                "individual": str(fmt_yuan(p.individual_fen)),
                "assistance": str(fmt_yuan(p.assistance_fen)),
                "subsidy": str(fmt_yuan(p.subsidy_fen)),
            }
            for p in rec.premiums
        ],
        "contributions": [
            {
                "month": f"{c.month[0]:04d}-{c.month[1]:02d}",
                "kind": c.kind,
                "emp_no": c.emp_no,
                "base": fmt_yuan(c.base_fen),
                "employer": fmt_yuan(c.employer_fen),
                "individual": fmt_yuan(c.individual_fen),
                "paid_on": c.paid_on.isoformat() if c.paid_on else None,
            }
            for c in rec.contributions
        ],
        "intervals": [
            {
                "from": a.isoformat(),
                "to": b.isoformat() if b else None,
                "covered": d.covered,
                "reason_code": d.reason_code,
                "reason_zh": d.reason_zh,
                "reason_en": d.reason_en,
            }
            for a, b, d, _ in (st.intervals() if st else [])
        ],
    }
    if _emit(payload, as_json):
        return
    e = check(st, day, "11")
    colour = "green" if e.covered else "red"
    console.print(f"[bold]{rec.name}[/] {psn_no} · {rec.certno} · {rec.district}")
    console.print(f"{day}: [{colour}]{e.reason_zh}[/] ({e.reason_en})")
    t = Table("起 from", "止 to", "享受 covered", "说明 reason")
    for row in payload["intervals"]:
        t.add_row(
            str(row["from"]), str(row["to"] or "—"), "✓" if row["covered"] else "✗", str(row["reason_zh"])
        )
    console.print(t)


@enrol_app.command("check")
def check_cmd(
    psn_no: Annotated[str, typer.Argument(help="人员编号 person number")],
    date: Annotated[str | None, typer.Option("--date", help="visit day YYYY-MM-DD (default today)")] = None,
    med_type: Annotated[str, typer.Option("--med-type", help="医疗类别 (11, 14, 21, 41 …)")] = "11",
    insutype: Annotated[str, typer.Option(help="2001 input insutype (optional)")] = "",
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """人员待遇享受检查 (2001): may the person use benefits for a visit on the day?"""
    try:
        day = _day(date, "date")
        store = _store(db, region)
        try:
            rec = store.person(psn_no)
            st = store.status(psn_no)
        finally:
            store.close()
    except (FieldError, PolicyError) as exc:
        _fail(exc, as_json)
    e = check(st, day, med_type)
    idents = rec.facts.identities_on(day) if rec else frozenset()
    payload = {
        "infno": "2001",
        **refusal(e),
        "output": {"trtinfo": trtinfo_2001(psn_no, e, identities=idents, insutype=insutype)},
        "eligibility": {
            "covered": e.covered,
            "reason_code": e.reason_code,
            "reason_zh": e.reason_zh,
            "reason_en": e.reason_en,
            "insutype": e.insutype,
            "psn_type": e.psn_type,
            "since": e.since,
            "until": e.until,
            "self_pay_instead": e.self_pay_instead,
            "account_usable": e.account_usable,
            "continuous_years": e.continuous_years,
            "ci_cap_uplift_fen": e.ci_cap_uplift_fen,
            "waiting_months": e.waiting_months,
            "source": e.source,
        },
    }
    if _emit(payload, as_json):
        return
    colour = "green" if e.covered else ("yellow" if e.self_pay_instead else "red")
    verdict = (
        "享受待遇 covered"
        if e.covered
        else ("按全自费结算 self-paid" if e.self_pay_instead else "拒绝 refused")
    )
    console.print(f"[{colour}]{verdict}[/] · {psn_no} · {day} · 医疗类别 {med_type}")
    console.print(f"  {e.reason_zh}\n  {e.reason_en}")
    if e.source:
        console.print(f"  依据 source: {e.source}")


@enrol_app.command("collection-report")
def collection_report_cmd(
    year: Annotated[int, typer.Option("--year", help="benefit year")] = dt.date.today().year,
    on: Annotated[
        str | None, typer.Option("--on", help="day for coverage and arrears (default today)")
    ] = None,
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """征缴与参保情况: the collection of a benefit year, coverage by district, continuity and arrears."""
    import polars as pl

    from yibao.enrolment.check import check_frame, status_frame

    try:
        day = _day(on, "on")
        store = _store(db, region)
        try:
            frames = store.frames()
            statuses = list(store.statuses())
        finally:
            store.close()
    except (FieldError, PolicyError) as exc:
        _fail(exc, as_json)
    pol = store.policy
    people = frames["persons"].select(
        "psn_no", pl.lit(day).alias("visit_date"), pl.lit("11").alias("med_type")
    )
    checked = check_frame(people, status_frame(statuses), pol.account_only_med_types)
    payload: dict[str, Any] = {
        "collection": collection_report(frames["premiums"], year, pol),
        "coverage_by_district": coverage_by_district(frames["persons"], checked).to_dicts(),
        "continuity": continuity_rate(frames["contributions"], frames["premiums"], year).to_dicts(),
        "arrears_by_employer": arrears_by_employer(frames["contributions"], day, pol).head(50).to_dicts(),
        "not_covered_on_day": checked.filter(~pl.col("covered"))
        .group_by("reason_code")
        .agg(pl.len().alias("persons"))
        .sort("persons", descending=True)
        .to_dicts(),
    }
    if _emit(payload, as_json):
        return
    c = payload["collection"]
    console.print(
        f"[bold]{year}年度居民医保征缴[/] collection: {c['persons_paid']:,} 人缴费 paid · 集中期 {c['paid_in_period']:,} · "
        f"延长期 {c['paid_in_extension']:,} · 逾期 late {c['paid_late']:,} · 修复 repairs {c['repairs']:,}"
    )
    console.print(
        f"  个人 individual {fmt_yuan(c['individual_fen'])} 元 · 救助资助 assistance {fmt_yuan(c['assistance_fen'])} 元 · "
        f"财政补助 subsidy {fmt_yuan(c['fiscal_subsidy_fen'])} 元"
    )
    t = Table("区县 district", "人口 population", "参保 insured", "参保率 rate", "可享受 covered")
    for r in payload["coverage_by_district"]:
        t.add_row(
            r["district"] or "—",
            f"{r['population']:,}",
            f"{r['insured']:,}",
            f"{r['coverage_rate'] / 100:.2f}%",
            f"{r['covered_rate'] / 100:.2f}%",
        )
    console.print(t)
    for r in payload["continuity"]:
        console.print(
            f"  续保率 continuity {r['scheme']}: {r['continuity_rate'] / 100:.2f}% ({r['continued']:,}/{r['insured_prev']:,})"
        )
    for r in payload["arrears_by_employer"][:10]:
        console.print(
            f"  欠费 arrears {r['emp_no']}: {r['persons']} 人 · {r['months']} 人月 · {fmt_yuan(r['amount_fen'])} 元 · 自 {r['oldest_month']}"
        )


@enrol_app.command("income")
def income_cmd(
    basis: Annotated[str, typer.Option("--basis", help="cash | accrual")] = "cash",
    db: DbOpt = None,
    region: RegionOpt = "xian",
    as_json: JsonOpt = False,
) -> None:
    """基金收入: contributions and premiums by month, fund (fund_pay_type) and source — what the fund reads."""
    try:
        if basis not in ("cash", "accrual"):
            raise FieldError("basis", f"须为cash或accrual must be cash or accrual, not {basis!r}", "invalid")
        store = _store(db, region)
        try:
            frames = store.frames()
        finally:
            store.close()
    except (FieldError, PolicyError) as exc:
        _fail(exc, as_json)
    inc = income_frame(frames["contributions"], frames["premiums"], store.policy, basis=basis)  # type: ignore[arg-type]
    if _emit(inc.to_dicts(), as_json):
        return
    t = Table("月份 month", "基金 fund", "来源 source", "金额 amount (元)")
    for r in inc.iter_rows(named=True):
        t.add_row(r["month"], r["fund_pay_type"], r["source"], fmt_yuan(r["amount_fen"]))
    console.print(t)
