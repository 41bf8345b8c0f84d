"""``yibao demo``: load an example region, make people and visits, settle them through the ledger."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yibao.ledger import Ledger, PersonRecord
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.explain import explain
from yibao.settlement.model import FUND_FIELDS, Settlement, SettlementError, Visit, identity_violations
from yibao.synth import generate, read_visits_as_engine_inputs


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
        data_dir = db_path.parent / "demo-data"
        with console.status("生成合成统筹区 generating a synthetic region …"):
            manifest = generate(path, data_dir, persons=persons, year=year, seed=seed)
        people = pl.read_parquet(data_dir / "persons.parquet")
        psn_no = dict(zip(people["psn_id"].to_list(), people["psn_no"].to_list(), strict=True))
        jan1 = dt.date(year, 1, 1)
        ledger.add_persons(
            PersonRecord(psn_no=r["psn_no"], name=r["certno"][-4:], certno=r["certno"], gender=r["gender"],
                         birth_date=r["birth_date"], insutype=r["insutype"], psn_type=r["psn_type"],
                         insuplc_admdvs=info.admdvs, account_balance=r["account_balance"],
                         identities=[(c, jan1, None) for c in r["identities"].split("|") if c],
                         family=[psn_no[r["family_payer_id"]]] if r["family_payer_id"] >= 0 else [])
            for r in people.iter_rows(named=True)
        )
        total_visits = manifest.rows["visits"] if not visits else min(visits, manifest.rows["visits"])
        console.print(f"参保人 insured persons: [bold]{people.height:,}[/] · 就诊 visits: [bold]{total_visits:,}[/] "
                      f"({manifest.rows['lines']:,} 明细 lines in {data_dir}) · 数据库 database: {db_path}")
        by_key: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 9)
        errors: dict[str, int] = defaultdict(int)
        sample: tuple[Settlement, Visit] | None = None
        settled: list[str] = []
        t0 = time.perf_counter()
        with Progress(TextColumn("[bold blue]结算 settling"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("settle", total=total_visits, rate="")
            for k, (_person, visit) in enumerate(read_visits_as_engine_inputs(data_dir, limit=total_visits)):
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


def _wan(fen: int) -> str:
    """Fen as 万元 with two decimals, for a summary that fits a terminal."""
    return f"{fen / 1_000_000:,.2f}"


def _summary(console: Console, region: object, by_key: dict[tuple[str, str], list[int]]) -> None:
    from yibao.policy.model import Region

    assert isinstance(region, Region)
    schemes = {s.code: s.name[:2] for s in region.schemes}
    vtypes = {v.code: v.name for v in region.visit_types}
    table = Table(title="谁付了多少 · who paid what（万元 = 10k yuan）", show_lines=False, pad_edge=False,
                  caption="scheme · visit type · visits · total · pooled fund · critical-illness/large-amount · "
                          "assistance · account · cash")
    heads = ("险种", "类型", "人次", "医疗费", "统筹", "大病大额", "救助", "个账", "现金")
    for i, col in enumerate(heads):
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
    total = [0] * 9
    for (scheme, med_type), row in sorted(by_key.items()):
        table.add_row(schemes.get(scheme, scheme), vtypes.get(med_type, med_type), f"{row[0]:,}",
                      _wan(row[1]), _wan(row[2]), _wan(row[3]), _wan(row[4]), _wan(row[6]), _wan(row[7]))
        total = [a + b for a, b in zip(total, row, strict=True)]
    table.add_row("[bold]合计", "[bold]total", f"[bold]{total[0]:,}", *[f"[bold]{_wan(total[i])}"
                                                                       for i in (1, 2, 3, 4, 6, 7)])
    console.print(table)
    if total[1]:
        console.print(f"基金支付 funds {fmt_yuan(total[5])} 元 ({total[5] * 100 / total[1]:.1f}%) · 个人账户 account "
                      f"{fmt_yuan(total[6])} 元 · 现金 cash {fmt_yuan(total[7])} 元 · 家庭共济 family aid "
                      f"{fmt_yuan(total[8])} 元")


__all__ = ["FUND_FIELDS", "msgid_for", "run_demo"]
