"""The demo's fund stage: given the demo database (a settled year in the ledger) and its synthetic data,
book the funds, raise and acknowledge a warning, project with a backtest, set and clear the global budget,
score the institutions (with a survey and an appeal) and lay out the service network.

    from yibao.demo.fund import fund_stage
    summary = fund_stage("sqlite:///.yibao/demo.db", Path(".yibao/demo-data"), year=2025)
    for line in summary["lines"]: print(line)

Prior years: the ledger holds one year, so ``history_years`` earlier years are restated — a synthetic
region of the same size for each, settled under the current policy with the batch engine, booked as that
year (按现行政策重算的历史年度).  They give the growth indicators, the multi-year fit, the ex-ante budget of
the demo year and the institutions' budget history.  Everything here is labelled as synthetic."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from yibao.fund import accounts, data
from yibao.fund import service as fs
from yibao.fund.store import FundStore
from yibao.money import fmt_yuan

RESTATED = "按现行政策重算的历史年度（合成数据） prior year restated under current policy (synthetic)"


def _relabel(df: pl.DataFrame, year: int) -> pl.DataFrame:
    """Move the dates of a restated year (generated and settled as the current policy year) to ``year``."""
    out = df
    for col in ("begin_date", "end_date"):
        out = out.with_columns(pl.date(pl.lit(year), pl.col(col).dt.month(), pl.col(col).dt.day()).alias(col))
    return out.with_columns(pl.col("end_date").dt.strftime("%Y-%m").alias("month"))


def restated_year(
    book: Any, out_dir: Path, region_path: Path, persons: int, policy_year: int, year: int, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(settled frame, persons frame, grouping cases) of a synthetic year generated and settled under the
    ``policy_year`` policy, dated ``year``."""
    from yibao.batch import settle_batch
    from yibao.synth import generate

    if not (out_dir / "manifest.json").exists():
        generate(region_path, out_dir, persons=persons, year=policy_year, seed=seed)
    ppl = pl.read_parquet(out_dir / "persons.parquet")
    vis = pl.read_parquet(out_dir / "visits.parquet")
    lines = pl.read_parquet(out_dir / "lines.parquet")
    res = settle_batch(book, ppl, vis, lines).visits
    money = [c for c in data.MONEY if c in res.columns]
    settled = (
        vis.select(
            "visit_id",
            "psn_id",
            "med_type",
            "fixmedins_code",
            "hosp_lv",
            "begin_date",
            "end_date",
            "locality",
            pl.col("diagnoses").str.split("|").list.first().fill_null("").alias("diagnosis"),
        )
        .join(res.select("visit_id", *money), on="visit_id")
        .join(ppl.select("psn_id", "psn_no", "insutype", "psn_type"), on="psn_id")
        .with_columns(pl.col("visit_id").cast(pl.String).alias("setl_id"))
    )
    settled = _relabel(settled, year)
    persons_df = ppl.select(
        "psn_no",
        "gender",
        pl.col("birth_date").dt.offset_by(f"{year - policy_year}y"),
        "insutype",
        "psn_type",
        "identities",
    )
    return settled, persons_df, vis


def _claims(vis: pl.DataFrame, ppl_dir: Path, year: int, policy_year: int) -> pl.DataFrame:
    from yibao.demo.payment import claims_from_grouped
    from yibao.drg import cases_from_synth, group_frame, load_scheme

    cases = cases_from_synth(
        vis,
        pl.read_parquet(ppl_dir / "persons.parquet"),
        pl.read_parquet(ppl_dir / "lines.parquet", columns=["visit_id", "amount"]),
    )
    grouped = group_frame(load_scheme("chs-drg-demo"), cases)
    claims = claims_from_grouped(cases, grouped, f"{year}-")
    shift = year - policy_year
    return claims.with_columns(pl.col("discharge_date").dt.offset_by(f"{shift}y")) if shift else claims


def _survey_csv(path: Path, codes: list[str], seed: int) -> Path:
    """A synthetic third-party survey: per institution 40–160 respondents, satisfaction drawn around 86 %
    with a few institutions well below (the demo needs someone under the 80 % line)."""
    rng = random.Random(seed)
    rows = ["fixmedins_code,respondents,satisfied"]
    for i, c in enumerate(codes):
        n = rng.randint(40, 160)
        p = 0.72 if i % 5 == 2 else min(0.97, max(0.6, rng.gauss(0.87, 0.04)))
        rows.append(f"{c},{n},{sum(rng.random() < p for _ in range(n))}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _clear_remote_visits(store: FundStore, settled: pl.DataFrame, admdvs: str, year: int) -> dict[str, Any]:
    """The region's filed remote visits as the clearing hub would have routed and cleared them: each is
    recorded on the insured side (``xr_inbound``) against its settlement, the hub clears every month
    (one line disputed and accepted the next month, one disputed and rejected), and the closed months feed
    the fund's cross-region outflow (:func:`yibao.usecases.fund.cleared_outflow`).  Synthetic: the demo
    has one region, so the care regions are made-up codes."""
    from yibao.crossregion.clearing import Dispute, Route, clear_month
    from yibao.crossregion.schema import xr_inbound
    from yibao.crossregion.store import RouteTable
    from yibao.usecases.fund import cleared_outflow
    from yibao.web.hub import clearing_json

    filed = settled.filter(pl.col("locality").is_in(["remote_filed", "remote_longterm"])).sort("setl_id")
    inbound = RouteTable(store.engine, xr_inbound)
    care = ("110000", "310000", "440100")
    routes = []
    for i, r in enumerate(filed.iter_rows(named=True)):
        msgid = f"XR{r['setl_id']}"[:64]
        inbound.insert(
            msgid,
            "settled",
            care_admdvs=care[i % len(care)],
            psn_no=r["psn_no"],
            setl_id=r["setl_id"],
            medfee_sumamt=r["medfee_sumamt"],
            fund_pay_sumamt=r["fund_pay_sumamt"],
            acct_pay=r["acct_pay"],
            setl_date=r["end_date"].isoformat(),
        )
        routes.append(
            Route(
                msgid,
                care[i % len(care)],
                admdvs,
                "settled",
                r["medfee_sumamt"],
                r["fund_pay_sumamt"],
                r["acct_pay"],
                r["month"],
            )
        )
    disputes: list[Dispute] = []
    early = [x for x in routes if x.month < f"{year}-12"]
    if len(early) >= 2:
        a, b = early[0], early[1]
        nxt = accounts.add_months(a.month, 1)
        disputes = [
            Dispute(a.msgid, a.month, "accepted", nxt, "费用明细待核 items to check"),
            Dispute(
                b.msgid, b.month, "rejected", accounts.add_months(b.month, 1), "非备案就医机构 not filed"
            ),
        ]
    docs = [
        clearing_json(clear_month(m, routes, disputes), closed=True)
        for m in accounts.month_range(f"{year}-01", f"{year}-12")
    ]
    res = cleared_outflow(docs, admdvs, inbound.all(), settled)
    store.record_cleared_outflow(
        res.rows,
        source="跨省异地就医清算结果（演示：清算中心按月清算的合成结果） cross-region clearing (demo)",
        actor="demo",
    )
    return {
        "months": len(res.months),
        "lines": len(routes),
        "cleared_fen": int(res.rows["cleared_fen"].sum()) if res.rows.height else 0,
        "routed_fen": int(res.rows["routed_fen"].sum()) if res.rows.height else 0,
        "held": sum(d.state == "accepted" for d in disputes),
        "rejected": sum(d.state == "rejected" for d in disputes),
        "unmatched": len(res.unmatched),
    }


def fund_stage(
    url: str,
    data_dir: Path,
    *,
    region: str | Path = "xian",
    year: int = 2025,
    seed: int = 7,
    history_years: int = 3,
    workdir: Path | None = None,
    simulate_candidate: str | None = "xian-lower-deductible",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the fund, assessment and network stages on the demo database; return the figures and the
    Chinese summary lines (``lines``) the demo prints."""
    from yibao.assess.params import load_params as load_assess
    from yibao.assess.service import assess_year
    from yibao.assess.store import AssessStore
    from yibao.assess.survey import parse_survey_csv
    from yibao.demo.reconcile import demo_reconciliations
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path
    from yibao.synth.geo import write_geo
    from yibao.usecases.enrolment import fund_income, fund_members
    from yibao.usecases.reconciliation import reconciliations_of_year
    from yibao.workdays import national_calendar

    def say(msg: str) -> None:
        if progress:
            progress(msg)

    region_path = Path(region) if Path(region).exists() else example_path(str(region))
    book = PolicyBook.from_file(region_path)
    s = fs.setup_for_region(region_path)
    workdir = workdir or data_dir.parent / "demo-fund"
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"lines": []}
    lines: list[str] = out["lines"]
    store = FundStore.open(url)
    eng = store.engine
    now = dt.datetime(year + 1, 1, 8, 9, tzinfo=dt.UTC)
    try:
        settled = data.settled_frame(eng, year)
        persons = data.persons_frame(eng)
        n_persons = persons.height
        # ---------------------------------------------------------------- books: restated years, then the ledger's
        hist_claims: list[pl.DataFrame] = []
        prev_settled: pl.DataFrame | None = None
        prev_persons: pl.DataFrame | None = None
        for k in range(history_years, 0, -1):
            hy = year - k
            say(f"重算历史年度 restating {hy}")
            st_h, ps_h, vis_h = restated_year(
                book, workdir / f"restated-{hy}", region_path, n_persons, year, hy, seed + 1000 + k
            )
            opening = None
            if k == history_years:
                monthly = {f: 0 for f in s.fp.codes()}
                for f in s.fp.funds:
                    for pb in f.paid_by:
                        part = st_h if pb.insutype is None else st_h.filter(pl.col("insutype") == pb.insutype)
                        monthly[f.code] += int(part[pb.field].sum())
                opening = {f: v * s.fp.demo.opening_months.get(f, 6) // 12 for f, v in monthly.items()}
            fs.book_year(
                store,
                s,
                hy,
                st_h,
                ps_h,
                opening=opening,
                opening_source=s.fp.sources[s.fp.demo.source].title,
                tag="restated",
                source=RESTATED,
                actor="demo",
                now=now,
            )
            hist_claims.append(_claims(vis_h, workdir / f"restated-{hy}", hy, year))
            prev_settled, prev_persons = st_h, ps_h
        opening_now = None
        if history_years == 0:
            monthly = {}
            for f in s.fp.funds:
                monthly[f.code] = sum(
                    int(
                        (
                            settled
                            if pb.insutype is None
                            else settled.filter(pl.col("insutype") == pb.insutype)
                        )[pb.field].sum()
                    )
                    for pb in f.paid_by
                )
            opening_now = {f: v * s.fp.demo.opening_months.get(f, 6) // 12 for f, v in monthly.items()}
        say(f"记账 booking {year}")
        # the year's income from the enrolment tables when the demo loaded them (accrual: a synthetic region
        # has no collection for the next year), else the stand-in contributions
        enrol_income = fund_income(url, book.loaded, year, basis="accrual")
        counts = fund_members(url, book.loaded, year)
        members_m = fs.members_from_frame(counts, s.groups) if counts is not None and counts.height else None
        fs.book_year(
            store,
            s,
            year,
            settled,
            persons,
            income_frame=enrol_income,
            members_by_month=members_m,
            opening=opening_now,
            opening_source=s.fp.sources[s.fp.demo.source].title,
            tag="ledger",
            actor="demo",
            now=now,
        )
        pos = fs.positions(store, s)
        ys = {f: [y for y in accounts.yearly(rows) if y.year == year] for f, rows in pos.items()}
        for f in s.fp.funds:
            y = ys[f.code][0] if ys.get(f.code) else None
            if y is None:
                continue
            mp = "—" if y.months_x100 is None else f"{y.months_x100 / 100:.1f}"
            lines.append(
                f"{f.name}：收入 {fmt_yuan(y.income)} 元，支出 {fmt_yuan(y.payments)} 元，利息 {fmt_yuan(y.interest)} 元，"
                f"年末结余 {fmt_yuan(y.closing)} 元，可支付 {mp} 个月"
            )
        if members_m:
            first, last = members_m[f"{year}-01"], members_m[f"{year}-12"]
            lines.append(
                f"参保人数（参保登记关系历史，月末在保）：1 月 在职 {first.in_service}、退休 {first.retired}、"
                f"居民 {first.residents} → 12 月 在职 {last.in_service}、退休 {last.retired}、居民 {last.residents}"
            )
        out["members_monthly"] = bool(members_m)
        out["funds"] = {
            f: {
                "income": v[0].income,
                "payments": v[0].payments,
                "closing": v[0].closing,
                "months_x100": v[0].months_x100,
            }
            for f, v in ys.items()
            if v
        }
        # ---------------------------------------------------------------- DRG / DIP payment (for outliers and the assessment)
        say("DRG/DIP 付费 paying DRG/DIP")
        from yibao.payment.dip import pay_dip
        from yibao.payment.drg import pay_drg
        from yibao.payment.policy import example_policy_path, load_policy

        policy = load_policy(example_policy_path("demo")).model_copy(update={"year": year})
        cur_claims = _claims(pl.read_parquet(data_dir / "visits.parquet"), data_dir, year, year)
        history = pl.concat(hist_claims) if hist_claims else None
        drg = pay_drg(cur_claims, policy, history)
        dip = pay_dip(cur_claims, policy, history)
        outliers = {
            "drg": (int(drg.cases["outlier"].is_in(["high", "low"]).sum()), drg.cases.height),
            "dip": (int(dip.cases["deviation"].is_in(["high", "low"]).sum()), dip.cases.height),
        }
        # ---------------------------------------------------------------- the outflow cleared with other regions
        say("跨省清算 cross-region clearing")
        xr = _clear_remote_visits(store, settled, book.admdvs, year)
        out["cleared_outflow"] = xr
        if xr["lines"]:
            lines.append(
                f"跨省异地就医清算：{xr['months']} 个月，本统筹区参保人经清算中心结算 {xr['lines']} 笔，"
                f"已清算基金 {fmt_yuan(xr['cleared_fen'])} 元（疑点暂缓 {xr['held']} 笔、拒付 {xr['rejected']} 笔），"
                f"计入异地就医基金支出占比"
            )
        # ---------------------------------------------------------------- warnings: raise, acknowledge, follow up
        say("预警 early warning")
        readings, _ = fs.warn(store, s, outliers=outliers, now=now)
        breaches = [r for r in readings if r.breach]
        outflow = [r for r in readings if r.indicator == "cross_region_outflow" and r.value is not None]
        if outflow:
            names = s.scope_names()
            lines.append(
                f"{year}-12 异地就医基金支出占比（按清算口径）："
                + "，".join(
                    f"{names.get(r.scope, (r.scope,))[0]} {(r.value or 0) / 100:.1f}%" for r in outflow
                )
            )
        alerts = store.alerts(open_only=True)
        out["readings"] = len(readings)
        out["alerts"] = len(alerts)
        if alerts:
            rank = {"months_payable": 0, "balance_rate": 1, "admission_rate": 2}
            a = min(alerts, key=lambda x: (rank.get(x.indicator, 9), x.level != "red", x.alert_id))
            store.move_alert(
                a.alert_id,
                "acknowledged",
                actor="演示稽核员 demo-auditor",
                note="已收到，提交基金运行分析会研究",
                now=now,
            )
            store.move_alert(
                a.alert_id,
                "following_up",
                actor="演示稽核员 demo-auditor",
                note="已约谈相关定点机构并核查住院率；下月复核",
                now=now + dt.timedelta(days=3),
            )
            out["acknowledged"] = a.alert_id
            lines.append(
                f"预警 {len(alerts)} 条（本月指标越线 {len(breaches)} 项）；已确认并跟进：{a.message_zh}"
            )
        # ---------------------------------------------------------------- projection with the backtest
        policy_change, policy_label = None, ""
        if simulate_candidate:
            say("政策模拟 measuring a policy change")
            try:
                from yibao.simulate.candidates import resolve_policy
                from yibao.simulate.core import simulate

                rep = simulate(book, PolicyBook.from_file(resolve_policy(Path(simulate_candidate))), data_dir)
                row = next(r for r in rep.funds if r["key"] == "fund_pay_sumamt")
                if row["baseline_fen"]:
                    policy_change = row["candidate_fen"] / row["baseline_fen"] - 1
                    policy_label = simulate_candidate
            except Exception as exc:  # the scenario is optional: say why it is missing
                lines.append(f"政策情景未生成 policy scenario skipped: {exc}")
        say("精算预测 projecting 60 months × 1,000 paths")
        proj = fs.project(
            store,
            s,
            persons,
            settled,
            base_month=f"{year}-12",
            policy_change=policy_change,
            policy_label=policy_label,
            run_id=f"demo-{year}",
            now=now,
        )
        bt = proj["backtest"]
        out["backtest_mape_monthly"] = bt["mape_monthly"]
        out["backtest_mape_yearly"] = bt["mape_yearly"]
        res_fund = "390100" if "390100" in proj["funds"] else proj["funds"][0]
        base_sc = proj["scenarios"]["baseline"]["funds"][res_fund]
        red = next((c for c in base_sc["crossings"] if c["line"] == s.fp.months_payable.red_below), None)
        lines.append(
            f"精算预测（{proj['horizon']} 个月 × {proj['paths']} 条路径）：{s.scope_names()[res_fund][0]}中位可支付月数 "
            f"{base_sc['fan']['p50'][11]} → {base_sc['fan']['p50'][-1]}；"
            f"跌破 {s.fp.months_payable.red_below} 个月：{(red or {}).get('month') or '预测期内不会'}；"
            f"回测（前 {bt['fit_years']} 年拟合、后 {bt['years'] - bt['fit_years']} 年检验）月度 MAPE {bt['mape_monthly']:.1%}，年度 {bt['mape_yearly']:.1%}"
        )
        # ---------------------------------------------------------------- budgets: next year (forward) and this year (ex ante)
        say("总额预算 global budget")
        season = proj["fit"]["season"]
        nxt = fs.set_budget(
            store,
            s,
            year + 1,
            fs.projected_year(proj, year + 1),
            run_id=f"demo-budget-{year + 1}",
            projection_run=f"demo-{year}",
            season=season,
            now=now,
        )
        out["budget_next"] = nxt.region_budget
        ex_ante = None
        if prev_settled is not None and prev_persons is not None:
            prior = fs.project(
                store,
                s,
                prev_persons,
                prev_settled,
                base_month=f"{year - 1}-12",
                horizon=12,
                paths=200,
                with_backtest=False,
            )
            ex_ante = fs.set_budget(
                store,
                s,
                year,
                fs.projected_year(prior, year),
                run_id=f"demo-budget-{year}",
                season=prior["fit"]["season"],
                now=now + dt.timedelta(seconds=1),
            )
            out["budget"] = ex_ante.region_budget
            out["budget_institutions_sum"] = sum(ex_ante.by_institution().values())
            lines.append(
                f"{year} 年总额预算（按 {year - 1} 年末预测）{fmt_yuan(ex_ante.region_budget)} 元，分配至 "
                f"{len(ex_ante.by_institution())} 家机构，合计 {fmt_yuan(out['budget_institutions_sum'])} 元（到分相等）；"
                f"{year + 1} 年预算 {fmt_yuan(nxt.region_budget)} 元"
            )
        # ---------------------------------------------------------------- assessment: survey, score, appeal
        say("年度考核 assessing institutions")
        ap = load_assess()
        ast = AssessStore(eng)
        inst = pl.read_parquet(data_dir / "institutions.parquet")
        assessed = inst.filter(pl.col("kind").is_in(ap.kinds))
        survey = parse_survey_csv(
            _survey_csv(
                data_dir / f"survey-{year}.csv", assessed["fixmedins_code"].to_list(), seed
            ).read_text(encoding="utf-8"),
            "演示第三方调查公司 demo survey co.",
        )
        ast.import_survey(year, survey, f"survey-{year}.csv", now=now)
        with eng.connect() as c:
            ln = c.execute(
                sa.text(
                    "SELECT s.setl_id, l.code, l.amount, l.fulamt_ownpay_amt FROM settlement_line l "
                    "JOIN settlement s ON s.setl_id = l.setl_id WHERE s.status = 'active'"
                )
            ).all()
        lines_df = pl.DataFrame(
            [tuple(r) for r in ln],
            schema={
                "setl_id": pl.String,
                "code": pl.String,
                "amount": pl.Int64,
                "fulamt_ownpay_amt": pl.Int64,
            },
            orient="row",
        ).join(settled.select("setl_id", "fixmedins_code"), on="setl_id")
        kinds: dict[str, str] = {}
        for v in book.loaded.region.versions:
            kinds.update({c: it.kind for c, it in book.for_date(v.effective_from).catalogue.items()})
        notified = dt.date(year + 1, 1, 12)
        # the hospitals' 3201 / 3202 reconciliations of the year (kept as the national interface keeps
        # them), then read back through the use case the assessment is fed by
        say("对账 reconciling (3201 / 3202)")
        with_settled = set(settled["fixmedins_code"].unique().to_list())
        recon = demo_reconciliations(
            eng,
            settled,
            sorted(c for c in assessed["fixmedins_code"].to_list() if c in with_settled),
            year,
            book.loaded.region.region.admdvs,
        )
        recon_frame = reconciliations_of_year(eng, year)
        _, scores = assess_year(
            ast,
            ap,
            year,
            inst.select("fixmedins_code", "level", "kind"),
            run_id=f"demo-assess-{year}",
            notified_on=notified,
            names=dict(inst.select("fixmedins_code", "name").iter_rows()),
            settled=settled,
            previous=prev_settled,
            lines=lines_df,
            kinds=kinds,
            drg_cases=drg.cases.select("fixmedins_code", "drg", "rw", "medfee_sumamt", "los_days", "outlier"),
            reconciliations=recon_frame,
            now=now,
        )
        out["assessed"] = len(scores)
        inst_names = dict(inst.select("fixmedins_code", "name").iter_rows())
        rates = {
            x.code: next(i.value for i in x.indicators if i.key == "reconciliation_break_rate")
            for x in scores
        }
        out["reconciliation"] = {
            "kept": recon.kept,
            "breaks": recon.breaks,
            "institutions": len(recon.institutions),
            "break_rates": {c: rates.get(c) for c in recon.with_break},
        }
        lines.append(
            f"对账（3201 总账对账 / 3202 明细对账）：{len(recon.institutions)} 家机构 {recon.kept} 次，不平 {recon.breaks} 次；"
            + "；".join(
                f"{inst_names.get(c, c)} 对账不平率 {(rates.get(c) or 0) / 100:.1f}%"
                for c in recon.with_break
            )
            + "（按对账记录计算，见考核说明）"
        )
        low = [x for x in scores if x.coefficient != 10_000]
        lines.append(
            f"年度考核 {len(scores)} 家机构：平均 {sum(x.score_x100 for x in scores) / max(len(scores), 1) / 100:.1f} 分，"
            f"满意度低于 80%（支付系数 0.95）{len(low)} 家"
        )
        # an appeal: the lowest-scored institution disputes its drug share; upheld with a corrected value
        cal = national_calendar()
        target = min(scores, key=lambda x: x.score_x100)
        disputed = next(
            (i for i in target.indicators if i.value is not None and i.points_x100 < i.weight_x100), None
        )
        if disputed is not None:
            a1 = ast.file_appeal(
                f"demo-assess-{year}",
                target.code,
                disputed.key,
                "部分费用系外院检查结果互认录入错误，附更正后的明细",
                actor=f"{target.code}-医保办",
                today=notified + dt.timedelta(days=5),
                p=ap,
                cal=cal,
                now=now,
            )
            ast.move_appeal(
                a1.appeal_id, "under_review", actor="演示稽核员 demo-auditor", role="auditor", p=ap, now=now
            )
            m = ap.indicators[disputed.key]
            ast.move_appeal(
                a1.appeal_id,
                "upheld",
                actor="演示稽核员 demo-auditor",
                role="auditor",
                note="核实明细后更正指标值",
                revised_value=m.full,
                p=ap,
                now=now + dt.timedelta(days=2),
            )
            a1 = ast.get_appeal(a1.appeal_id)
            out["appeal"] = a1.appeal_id
            lines.append(
                f"申诉 {a1.appeal_id}（{inst_names.get(target.code, target.code)}，{m.name}）：成立，得分 {a1.score_before / 100:.2f} → {(a1.score_after or 0) / 100:.2f}"
            )
        # ---------------------------------------------------------------- clearing with the assessment
        if ex_ante is not None:
            say("年度清算 annual clearing")
            stored = store.budget_run(f"demo-budget-{year}")
            assert stored is not None
            cl = fs.clear_year(
                store, s, f"demo-budget-{year}", stored, fs.assessments_from_run(eng, f"demo-assess-{year}")
            )
            cut = sum(c.determined_fen - c.adjusted_fen for c in cl)
            kept = sum(c.forfeited_fen for c in cl)
            out["clearing_balance"] = sum(c.balance_fen for c in cl)
            lines.append(
                f"{year} 年度清算：{len(cl)} 家机构，满意度系数扣减 {fmt_yuan(cut)} 元，质量保证金不予返还 {fmt_yuan(kept)} 元，"
                f"清算净额 {fmt_yuan(out['clearing_balance'])} 元"
            )
            out["clearing"] = {}
            for cr in sorted(cl, key=lambda x: (x.score_x100 is None, -(x.score_x100 or 0))):
                out["clearing"][cr.code] = {
                    "score_x100": cr.score_x100,
                    "release_ratio": cr.release_ratio,
                    "coefficient": cr.coefficient,
                    "balance_fen": cr.balance_fen,
                }
                score = "—" if cr.score_x100 is None else f"{cr.score_x100 / 100:.2f}"
                lines.append(
                    f"  {inst_names.get(cr.code, cr.code)}：考核 {score} 分，保证金返还 {cr.release_ratio / 100:.0f}%"
                    f"（{fmt_yuan(cr.released_fen)} / {fmt_yuan(cr.withheld_fen)} 元），满意度系数 "
                    f"{cr.coefficient / 10_000:.2f}，清算 {fmt_yuan(cr.balance_fen)} 元"
                )
        # ---------------------------------------------------------------- the service network
        say("服务网络 service network")
        if not (data_dir / "region.geojson").exists():
            write_geo(data_dir, seed)
        out["geojson"] = str(data_dir / "region.geojson")
        from yibao.network.report import network_report

        net = network_report(data_dir, seed, settled=settled)
        region_rows = {r["tier"]: r for r in net["beyond"] if r["district"].startswith("全区")}
        far = "，".join(
            f"{net['tiers'][t]['name']} {r['line_minutes']} 分钟外 {r['beyond_share'] / 100:.1f}%"
            for t, r in region_rows.items()
        )
        flows = net["outflow"]
        fund_all = sum(x["fund_fen"] for x in flows)
        fund_out = sum(x["fund_out_fen"] for x in flows)
        if fund_all:
            far += f"；跨区县就医基金支付占比 {fund_out * 100 / fund_all:.1f}%"
        lines.append(
            f"服务网络（合成区县地图 {data_dir / 'region.geojson'}）：居民就医路程超出时限的比例 {far}"
        )
        best: dict[str, dict[str, Any]] = {}
        for site in net["sites"]:
            best.setdefault(site["tier"], site)
        for t, site in best.items():
            lines.append(
                f"  建议新增{net['tiers'][t]['name']}：{site['district']}（{site['lon']:.3f}, {site['lat']:.3f}），"
                f"可使 {site['gain']} 名居民进入 {net['tiers'][t]['minutes']} 分钟范围"
            )
        out["network"] = {"beyond": region_rows, "sites": list(best.values())}
    finally:
        store.close()
    return out
