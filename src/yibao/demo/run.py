"""``yibao demo``: load an example region, make people and visits, settle them through the ledger."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.audit.scenarios import SCENARIOS
from yibao.demo.enrolment import load_enrolment, scene_lines, waiting_scene
from yibao.demo.logins import DemoLogin
from yibao.demo.region import login_order, person_records
from yibao.ledger import Ledger
from yibao.money import fmt_yuan
from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settings import Settings
from yibao.settlement.explain import explain
from yibao.settlement.model import (
    FUND_FIELDS,
    Settlement,
    SettlementError,
    Visit,
    identity_violations,
)
from yibao.settlement.trace import NotEntitled
from yibao.synth import generate, read_visits_as_engine_inputs
from yibao.usecases import settlement as usecase
from yibao.usecases.eligibility import BenefitRefused


def msgid_for(visit: Visit, k: int) -> str:
    """30-character msgid: institution code (12) + yyyyMMddHHmmss (14) + sequence (4), as the national interface defines 报文ID."""
    stamp = dt.datetime.combine(visit.begin_date, dt.time(8)) + dt.timedelta(seconds=k // 10_000)
    return f"{visit.fixmedins_code:<12.12}".replace(" ", "0") + f"{stamp:%Y%m%d%H%M%S}" + f"{k % 10_000:04d}"


def demo_knowledge(data_dir: Path, out: Path) -> Path:
    """The demo bureau's knowledge directory: the shipped EXAMPLE tables plus the region's registers a bureau
    keeps — its 医保医师库 as ``physicians.csv`` (the in-event audit checks physicians' titles), its 门慢门特
    register as ``registered_conditions.csv`` (long prescriptions of registered persons are not over-long)
    and its institutions' type and district as ``institution_types.csv``."""
    import shutil

    from yibao.audit.knowledge import example_dir

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(example_dir(), out)
    pl.read_parquet(data_dir / "physicians.parquet").select("dr_code", "fixmedins_code", "title").write_csv(
        out / "physicians.csv"
    )
    if (data_dir / "registered_conditions.parquet").exists():
        pl.read_parquet(data_dir / "registered_conditions.parquet").select(
            "psn_no", "icd_prefix", "condition"
        ).write_csv(out / "registered_conditions.csv")
    inst = pl.read_parquet(data_dir / "institutions.parquet")
    inst.select("fixmedins_code", pl.col("kind").alias("inst_type"), "district").write_csv(
        out / "institution_types.csv"
    )
    return out


def run_demo(
    console: Console,
    *,
    region: str,
    persons: int,
    visits: int,
    year: int,
    seed: int,
    db_path: Path,
    serve: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> dict[str, int]:
    """Settle a synthetic year through the ledger, pay the hospitals by DRG and DIP, create the demo logins
    and (``serve``) start the HTTP service with the portal and the dashboard."""
    from yibao.demo.logins import seed_demo_users

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
            manifest = generate(
                path,
                data_dir,
                persons=persons,
                year=year,
                seed=seed,
                inject=SCENARIOS,
                limits=prescribing_limits(),
            )
        knowledge_dir = demo_knowledge(data_dir, db_path.parent / "demo-knowledge")
        # one configuration for settling the year here and for the service started below
        settings = Settings(
            database_url=f"sqlite:///{db_path}",
            region=str(path),
            demo=True,
            audit_knowledge=str(knowledge_dir),
        )
        hook = settings.audit_hook()
        people = pl.read_parquet(data_dir / "persons.parquet")
        records = person_records(people, info.admdvs, year)
        ledger.add_persons(records)
        # the region's enrolment: every visit passes the benefit check (待遇享受检查) on its date
        with console.status("登记参保缴费 loading the enrolment histories …"):
            source = load_enrolment(f"sqlite:///{db_path}", loaded, data_dir)
        refused: Counter[str] = Counter()
        self_paid = 0
        total_visits = manifest.rows["visits"] if not visits else min(visits, manifest.rows["visits"])
        console.print(
            f"参保人 insured persons: [bold]{people.height:,}[/] · 就诊 visits: [bold]{total_visits:,}[/] "
            f"({manifest.rows['lines']:,} 明细 lines in {data_dir}) · 数据库 database: {db_path}"
        )
        by_key: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 9)
        errors: dict[str, int] = defaultdict(int)
        sample: tuple[Settlement, Visit] | None = None
        findings: Counter[str] = Counter()  # 事中 findings by severity
        settled: list[str] = []
        per_person: Counter[str] = Counter()
        stayed: set[str] = set()
        by_inst: Counter[str] = Counter()
        levels: dict[str, str] = {}  # institution → hospital level, for the national visit flow (2201/2401)
        t0 = time.perf_counter()
        with Progress(
            TextColumn("[bold blue]结算 settling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("settle", total=total_visits, rate="")
            for k, (_person, visit) in enumerate(read_visits_as_engine_inputs(data_dir, limit=total_visits)):
                try:
                    out = usecase.settle(
                        ledger, book, visit, msgid_for(visit, k), audit=hook, eligibility=source
                    )
                except BenefitRefused as exc:
                    refused[exc.code] += 1
                    bar.advance(task)
                    continue
                except (SettlementError, NoPolicyVersion) as exc:
                    errors[exc.code] += 1
                    bar.advance(task)
                    continue
                s = out.settlement
                self_paid += any(isinstance(x, NotEntitled) for x in s.steps)
                findings.update(f.severity for f in s.audit)
                if identity_violations(s):
                    errors["identity"] += 1
                settled.append(out.setl_id)
                per_person[visit.psn_no] += 1
                if s.med_type == "21" and s.hifp_pay > 0:
                    stayed.add(visit.psn_no)
                by_inst[visit.fixmedins_code] += 1
                levels.setdefault(visit.fixmedins_code, visit.hosp_lv)
                row = by_key[(s.insutype, s.med_type)]
                for i, amt in enumerate(
                    (
                        1,
                        s.medfee_sumamt,
                        s.hifp_pay,
                        s.hifmi_pay + s.hifob_pay,
                        s.maf_pay,
                        s.fund_pay_sumamt,
                        s.acct_pay,
                        s.psn_cash_pay,
                        s.acct_mulaid_pay,
                    )
                ):
                    row[i] += amt
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
            f"事中审核 in-event audit: 不予支付 blocked {findings['block']:,} 条，提示 flagged "
            f"{findings['flag'] + findings['warn']:,} 条 (rules and knowledge in {knowledge_dir})"
        )
        console.print(
            f"账本核验 journal verify: {'[green]通过 OK' if report.ok else '[red]失败 FAILED'}[/] "
            f"({report.rows:,} 行 rows, {report.chains:,} 条链 chains, root {report.root[:16]}…)"
        )
        if source is not None:
            console.print(
                f"待遇享受检查 benefit check: 拒绝 refused {sum(refused.values()):,} 笔 {dict(refused)}；"
                f"按全自费结算 settled self-paid {self_paid:,} 笔 (等待期、欠费等 waiting period, arrears …)"
            )
            scene = waiting_scene(ledger, book, source, data_dir, year)
            if scene is not None:
                console.rule(
                    "晚参保：等待期内与等待期后 · a late enrolee before and after the waiting period"
                )
                for zh, en in scene_lines(scene):
                    console.print(f"  {zh}\n  [dim]{en}[/]")
        if sample is not None:
            s, v = sample
            policy = book.for_date(v.begin_date)
            text = explain(s, v, policy)
            console.rule(f"一笔住院结算的说明 · why each fen went where ({s.mdtrt_id})")
            for zh, en in list(zip(text["zh"], text["en"], strict=True))[:8]:
                console.print(f"  {zh}\n  [dim]{en}[/]")
        result = {
            "settled": sum(r[0] for r in by_key.values()),
            "cancelled": cancelled,
            "rejected": sum(errors.values()),
            "refused_by_check": sum(refused.values()),
            "self_paid": self_paid,
            "verify_ok": int(report.ok),
            "count": totals.get("count", 0),
        }
    finally:
        ledger.close()
    url = f"sqlite:///{db_path}"
    result.update(_payment_stage(console, url, path, data_dir, persons=persons, year=year, seed=seed))
    busiest = by_inst.most_common(1)[0][0]  # the demo hospital login's institution
    result.update(_audit_stage(console, url, data_dir, year=year, open_for=busiest))
    _fund_stage(console, url, data_dir, path, year=year, seed=seed)
    _care_stage(console, url, region=region)
    logins = seed_demo_users(url, login_order(records, per_person, frozenset(stayed)), fixmedins_code=busiest)
    _logins_table(console, logins, host, port)
    _consult_stage(console, url, data_dir, path)
    _register_institutions(url, levels, loaded.region.region.admdvs)
    console.print(
        "\n下一步 next: [bold]./yb settle examples/visit-inpatient.json --pre[/]  ·  "
        "[bold]./yb ledger verify[/]  ·  [bold]./yb payment demo[/]  ·  "
        f"[bold]YIBAO_AUDIT_KNOWLEDGE={knowledge_dir} ./yb serve --db {url} --region {region}[/]"
    )
    if serve:
        from yibao.web.serve import run as serve_http

        console.rule(
            f"[bold green]服务已启动 service running at http://{host}:{port}/  (Ctrl+C 停止 to stop)"
        )
        serve_http(
            host,
            port,
            settings,
            log_level="warning",
        )
    return result


def _payment_stage(
    console: Console, url: str, region_path: Path, data_dir: Path, *, persons: int, year: int, seed: int
) -> dict[str, int]:
    """Group the year's discharges with the demonstration CHS-DRG scheme and pay the hospitals by DRG
    (点数法) and by DIP; the history years the weights and scores need are synthesised alongside."""
    from yibao.demo.payment import claims_from_grouped, region_claims
    from yibao.drg import cases_from_synth, group_frame, load_scheme
    from yibao.payment.dip import pay_dip
    from yibao.payment.drg import pay_drg
    from yibao.payment.policy import example_policy_path, load_policy
    from yibao.payment.store import save_payment

    policy = load_policy(example_policy_path("demo")).model_copy(update={"year": year})
    with console.status("DRG/DIP: 合成历史年度并分组 synthesising history years and grouping …"):
        # the same seeded population for every history year: a stable region, so last year's cost (the
        # budget basis) is comparable with this year's and the demo shows payment, not sampling noise
        history = pl.concat(
            [
                region_claims(str(region_path), data_dir.parent / "demo-history", [y], persons, seed)
                for y in range(year - 3, year)
            ]
        )
        cases = cases_from_synth(
            pl.read_parquet(data_dir / "visits.parquet"),
            pl.read_parquet(data_dir / "persons.parquet"),
            pl.read_parquet(data_dir / "lines.parquet", columns=["visit_id", "amount"]),
        )
        grouped = group_frame(load_scheme("chs-drg-demo"), cases)
        current = claims_from_grouped(cases, grouped, f"{year}-")
    out: dict[str, int] = {"discharges": current.height}
    pays = [pay_drg(current, policy, history), pay_dip(current, policy, history)]
    for pay in pays:
        stored = save_payment(url, pay, run_id=f"demo-{pay.method}-{year}", policy_name=policy.name)
        out[f"{pay.method}_due"] = stored.due_fen
        out[f"{pay.method}_pool"] = pay.pool_fen
    drg, dip = (p.hospitals.select("fixmedins_code", "hosp_lv", "cases", "cost_fen", "due_fen") for p in pays)
    both = drg.join(dip.select("fixmedins_code", pl.col("due_fen").alias("dip_fen")), on="fixmedins_code")
    table = Table(
        title=f"医院付费 hospital payment {year} · 出院 {current.height:,} 例 discharges（万元）",
        caption="机构 · 级别 · 出院 · 实际费用 · DRG 应付 · DIP 应付 — institution, level, discharges, "
        "actual cost, due under DRG (点数法) and DIP (按病种分值)",
        pad_edge=False,
    )
    for i, col in enumerate(("机构", "级别", "出院", "费用", "DRG", "DIP")):
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
    for r in both.iter_rows(named=True):
        table.add_row(
            r["fixmedins_code"],
            str(r["hosp_lv"]),
            f"{r['cases']:,}",
            _wan(r["cost_fen"]),
            _wan(r["due_fen"]),
            _wan(r["dip_fen"]),
        )
    table.add_row(
        "[bold]合计 total",
        "",
        f"[bold]{current.height:,}",
        f"[bold]{_wan(int(both['cost_fen'].sum()))}",
        f"[bold]{_wan(out['drg_due'])}",
        f"[bold]{_wan(out['dip_due'])}",
    )
    console.print(table)
    last = history.filter(pl.col("discharge_date").dt.year() == year - 1)["medfee_sumamt"].sum()
    ok = all(out[f"{m}_due"] == out[f"{m}_pool"] for m in ("drg", "dip"))
    growth = policy.budget.growth
    basis = (
        f" = 上年住院费用 {year - 1} inpatient cost {fmt_yuan(int(last))} 元 × (1 + {growth / 10_000:.0%})"
        if growth is not None
        else ""
    )
    console.print(
        f"预算 budget {fmt_yuan(pays[0].pool_fen)} 元{basis}；Σ 应付 due "
        f"{'[green]= 预算 equals the budget (DRG, DIP)' if ok else '[red]≠ 预算 does NOT equal the budget'}[/]"
    )
    return out


def _audit_stage(
    console: Console, url: str, data_dir: Path, *, year: int, open_for: str | None = None
) -> dict[str, int]:
    """After-the-fact audit (事后审核) of the year: rules and models → suspect items (疑点) → one case per
    institution, each sent its notice (告知书) early the next year, so their appeal windows are long over
    and the auditor has cases to finish; the case of ``open_for`` (the demo hospital login's institution)
    is notified when the demo runs, so that hospital can still appeal (申诉) and upload its evidence."""
    from yibao.audit.cases import AuditCaseError, CaseStore, notify, open_cases
    from yibao.audit.evaluate import read_physicians, run_audit

    frames = [
        pl.read_parquet(data_dir / f"{f}.parquet") for f in ("persons", "visits", "lines", "institutions")
    ]
    with console.status("事后审核 auditing the year: rules and models …"):
        flags, _, _ = run_audit(
            frames[0], frames[1], frames[2], frames[3], None, True, physicians=read_physicians(data_dir)
        )
    now = dt.datetime(year + 1, 1, 5, 9, tzinfo=dt.UTC)
    with CaseStore(url) as store:
        cases = open_cases(store, flags, f"{year}", now)
        for c in cases:
            # two weeks before today: the 20-working-day window is still open when the demo is tried (and its
            # end stays inside the years the holiday calendar covers); the fixed date when it is not
            recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=14)
            try:
                notify(store, c.case_id, recent if c.fixmedins_code == open_for else now, "demo-auditor")
            except AuditCaseError:
                notify(store, c.case_id, now, "demo-auditor")
    table = Table(
        title=f"事后审核 audit {year}: 疑点 {flags.height:,} 条 suspect items → {len(cases)} 个案件 cases",
        pad_edge=False,
        caption="规则/模型 · 疑点 · 涉及金额(元) — rule or model, items, amount at stake",
    )
    for i, col in enumerate(("规则 rule", "类别 class", "疑点", "金额")):
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
    top = (
        flags.group_by("rule_code", "rule_class")
        .agg(pl.len().alias("n"), pl.col("amount_fen").sum())
        .sort("amount_fen", descending=True)
        .head(10)
    )
    for r in top.iter_rows(named=True):
        table.add_row(r["rule_code"], r["rule_class"], f"{r['n']:,}", fmt_yuan(int(r["amount_fen"])))
    console.print(table)
    return {"audit_flags": flags.height, "audit_cases": len(cases)}


def _logins_table(console: Console, logins: list[DemoLogin], host: str, port: int) -> None:
    roles = {
        "insured": "参保人 insured",
        "institution": "定点医院 institution",
        "auditor": "稽核 auditor",
        "admin": "管理员 admin",
    }
    table = Table(
        title=f"演示登录 demo logins · http://{host}:{port}/login",
        pad_edge=False,
        caption=f"密码 password (all): {logins[0].password}",
    )
    for col in ("用户 user", "角色 role", "说明 who"):
        table.add_column(col, no_wrap=True)
    for lg in logins:
        who = lg.psn_no or lg.fixmedins_code or ""
        table.add_row(lg.username, roles.get(lg.role, lg.role), f"{lg.display_name} {who}".strip())
    console.print(table)


def _wan(fen: int) -> str:
    """Fen as 万元 with two decimals, for a summary that fits a terminal."""
    return f"{fen / 1_000_000:,.2f}"


def _register_institutions(url: str, levels: dict[str, str], admdvs: str) -> None:
    """The demo's institutions with their levels, so a HIS can register visits there (2201 / 2401)."""
    from yibao.encounter.store import EncounterStore, Institution
    from yibao.ledger import Ledger

    with Ledger.open(url) as led:
        sa_url = led.sa_url
    store = EncounterStore.open(sa_url)
    try:
        for code, level in sorted(levels.items()):
            store.add_institution(Institution(code, f"示范机构 {code}", level, admdvs))
    finally:
        store.close()


def _summary(console: Console, region: object, by_key: dict[tuple[str, str], list[int]]) -> None:
    from yibao.policy.model import Region

    assert isinstance(region, Region)
    schemes = {s.code: s.name[:2] for s in region.schemes}
    vtypes = {v.code: v.name for v in region.visit_types}
    table = Table(
        title="谁付了多少 · who paid what（万元 = 10k yuan）",
        show_lines=False,
        pad_edge=False,
        caption="scheme · visit type · visits · total · pooled fund · critical-illness/large-amount · "
        "assistance · account · cash",
    )
    heads = ("险种", "类型", "人次", "医疗费", "统筹", "大病大额", "救助", "个账", "现金")
    for i, col in enumerate(heads):
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
    total = [0] * 9
    for (scheme, med_type), row in sorted(by_key.items()):
        table.add_row(
            schemes.get(scheme, scheme),
            vtypes.get(med_type, med_type),
            f"{row[0]:,}",
            _wan(row[1]),
            _wan(row[2]),
            _wan(row[3]),
            _wan(row[4]),
            _wan(row[6]),
            _wan(row[7]),
        )
        total = [a + b for a, b in zip(total, row, strict=True)]
    table.add_row(
        "[bold]合计",
        "[bold]total",
        f"[bold]{total[0]:,}",
        *[f"[bold]{_wan(total[i])}" for i in (1, 2, 3, 4, 6, 7)],
    )
    console.print(table)
    if total[1]:
        console.print(
            f"基金支付 funds {fmt_yuan(total[5])} 元 ({total[5] * 100 / total[1]:.1f}%) · 个人账户 account "
            f"{fmt_yuan(total[6])} 元 · 现金 cash {fmt_yuan(total[7])} 元 · 家庭共济 family aid "
            f"{fmt_yuan(total[8])} 元"
        )


__all__ = ["FUND_FIELDS", "msgid_for", "run_demo"]


def _fund_stage(console: Console, url: str, data_dir: Path, region: Path, *, year: int, seed: int) -> None:
    """The funds' year with real income and expenditure, a warning raised and acknowledged, the projection
    with its backtest, the budget and each institution's assessment (docs/FUND.md, docs/ASSESSMENT.md)."""
    from yibao.demo.fund import fund_stage

    with console.status("基金与考核 fund accounts, warnings, projection, budget and assessment …") as status:
        out = fund_stage(url, data_dir, region=region, year=year, seed=seed, progress=status.update)
    console.rule("基金运行与机构考核 funds and institution assessment")
    for line in out["lines"]:
        console.print(line)


def _care_stage(console: Console, url: str, *, region: str) -> None:
    """Internet care and the electronic voucher, scene by scene (docs/INTERNET_CARE.md)."""
    from yibao.demo.care import run_care_demo

    console.rule("互联网医疗与医保电子凭证 internet care and the electronic insurance voucher")
    table = Table(show_header=True, header_style="bold")
    table.add_column("场景 scene")
    table.add_column("结果 outcome")
    for scene, outcome in run_care_demo(url, region=region):
        table.add_row(scene, outcome)
    console.print(table)


def _consult_stage(console: Console, url: str, data_dir: Path, region_path: Path) -> None:
    """共治: a draft policy published for opinions with its simulated impact (docs/PORTAL.md)."""
    from yibao.demo.consult import publish_demo_consultation

    console.rule("政策征求意见 a draft policy put to the public (共治)")
    done = publish_demo_consultation(url, data_dir, region_path)
    if done is None:
        console.print("本地区没有候选政策可供模拟，未发布征求意见 no candidate policy for this region")
        return
    for line in done.explanation:
        console.print(f"  {line}")
    console.print(
        f"  意见 {done.opinions} 条（隐藏 {done.hidden} 条），听证会 1 场；公开页面 /consult/{done.consult_id}"
    )
