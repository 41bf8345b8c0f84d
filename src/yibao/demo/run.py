"""``yibao demo``: load an example region, make people and visits, settle them through the ledger."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yibao.demo.population import make_people, make_visits
from yibao.ledger import Ledger, PersonRecord
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.explain import explain
from yibao.settlement.model import FUND_FIELDS, Settlement, SettlementError, Visit, identity_violations


def msgid_for(visit: Visit, k: int) -> str:
    """30-character msgid: institution code (12) + yyyyMMddHHmmss (14) + sequence (4), DOMAIN.md §2.1."""
    stamp = dt.datetime.combine(visit.begin_date, dt.time(8)) + dt.timedelta(seconds=k // 10_000)
    return f"{visit.fixmedins_code:<12.12}".replace(" ", "0") + f"{stamp:%Y%m%d%H%M%S}" + f"{k % 10_000:04d}"


def run_demo(console: Console, *, region: str, persons: int, visits: int, year: int, seed: int,
             db_path: Path) -> dict[str, int]:
    path = example_path(region) if not Path(region).exists() else Path(region)
    loaded = load_region(path)
    book = PolicyBook(loaded)
    info = loaded.region.region
    console.rule(f"[bold]yibao 演示 demo · {info.name} {info.name_en} ({info.admdvs})")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if db_path.exists():
        db_path.unlink()
    ledger = Ledger.open(f"sqlite:///{db_path}")
    try:
        ledger.migrate()
        people = make_people(loaded, persons, year, seed)
        ledger.add_persons(
            PersonRecord(psn_no=p.psn_no, name=p.name, certno=p.certno, gender=p.gender, birth_date=p.birth_date,
                         insutype=p.insutype, psn_type=p.psn_type, insuplc_admdvs=info.admdvs,
                         account_balance=p.account_balance,
                         identities=[(c, dt.date(year, 1, 1), None) for c in p.identities], family=list(p.family))
            for p in people
        )
        console.print(f"参保人 insured persons: [bold]{len(people):,}[/]  ·  数据库 database: {db_path}")
        by_key: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 9)
        errors: dict[str, int] = defaultdict(int)
        sample: tuple[Settlement, Visit] | None = None
        settled: list[str] = []
        t0 = time.perf_counter()
        with Progress(TextColumn("[bold blue]结算 settling"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("settle", total=visits, rate="")
            for k, visit in enumerate(make_visits(loaded, people, visits, year, seed)):
                try:
                    out = ledger.settle(book, visit, msgid_for(visit, k))
                except SettlementError as exc:
                    errors[exc.code] += 1
                    bar.advance(task)
                    continue
                s = out.settlement
                if identity_violations(s):
                    errors["identity"] += 1
                settled.append(out.setl_id)
                row = by_key[(s.insutype, s.med_type)]
                for i, v in enumerate((1, s.medfee_sumamt, s.hifp_pay, s.hifmi_pay + s.hifob_pay, s.maf_pay,
                                       s.fund_pay_sumamt, s.acct_pay, s.psn_cash_pay, s.acct_mulaid_pay)):
                    row[i] += v
                if sample is None and s.med_type == "21" and s.hifp_pay and s.acct_pay:
                    sample = (s, visit)
                bar.update(task, advance=1, rate=f"{(k + 1) / (time.perf_counter() - t0):,.0f}/s")
        elapsed = time.perf_counter() - t0
        # undo the five most recent settlements (2208 cancel) to show the ledger restoring state
        cancelled = 0
        for setl_id in reversed(settled[-5:]):
            ledger.cancel(setl_id, f"CANCEL{setl_id}"[:30])
            cancelled += 1
        _summary(console, loaded.region, by_key)
        report = ledger.verify()
        totals = ledger.totals()
        console.print(
            f"结算 {sum(r[0] for r in by_key.values()):,} 笔，用时 {elapsed:.1f} 秒；撤销 cancelled {cancelled} 笔；"
            f"拒绝 rejected {sum(errors.values())} 笔 {dict(errors) if errors else ''}"
        )
        console.print(
            f"账本核验 journal verify: {'[green]通过 OK' if report.ok else '[red]失败 FAILED'}[/] "
            f"({report.rows:,} 行 rows, {report.chains:,} 条链 chains, root {report.root[:16]}…)"
        )
        if sample is not None:
            s, v = sample
            policy = book.for_date(v.begin_date)
            text = explain(s, v, policy)
            console.rule(f"一笔住院结算的说明 · why each fen went where ({s.mdtrt_id})")
            for zh, en in list(zip(text["zh"], text["en"], strict=True))[:8]:
                console.print(f"  {zh}\n  [dim]{en}[/]")
        console.print("\n下一步 next: [bold]./yb settle examples/visit-inpatient.json --pre[/]  ·  "
                      "[bold]./yb ledger verify[/]  ·  [bold]./yb policy validate "
                      "src/yibao/policy/regions/xian.yaml[/]")
        return {"settled": sum(r[0] for r in by_key.values()), "cancelled": cancelled,
                "rejected": sum(errors.values()), "verify_ok": int(report.ok), "count": totals.get("count", 0)}
    finally:
        ledger.close()


def _summary(console: Console, region: object, by_key: dict[tuple[str, str], list[int]]) -> None:
    from yibao.policy.model import Region

    assert isinstance(region, Region)
    schemes = {s.code: s.name for s in region.schemes}
    vtypes = {v.code: v.name for v in region.visit_types}
    table = Table(title="谁付了多少 · who paid what (元)", show_lines=False)
    for col in ("险种 scheme", "类型 visit", "人次 visits", "医疗费 total", "统筹 pool", "大病/大额 CI/large",
                "救助 MA", "基金合计 funds", "个账 account", "现金 cash", "共济 family"):
        table.add_column(col, justify="right" if "scheme" not in col and "visit" not in col else "left")
    total = [0] * 9
    for (scheme, med_type), row in sorted(by_key.items()):
        table.add_row(schemes.get(scheme, scheme), vtypes.get(med_type, med_type), f"{row[0]:,}",
                      *[fmt_yuan(x) for x in row[1:]])
        total = [a + b for a, b in zip(total, row, strict=True)]
    table.add_row("[bold]合计 total", "", f"[bold]{total[0]:,}", *[f"[bold]{fmt_yuan(x)}" for x in total[1:]])
    console.print(table)
    if total[1]:
        console.print(f"基金支付占比 fund share {total[5] * 100 / total[1]:.1f}% · 个人负担 patient share "
                      f"{(total[6] + total[7]) * 100 / total[1]:.1f}%")


__all__ = ["FUND_FIELDS", "msgid_for", "run_demo"]
