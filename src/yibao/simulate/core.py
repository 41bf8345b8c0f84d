"""Re-settle a year of claims under two policies and measure what changes for the fund and for people."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from yibao.batch import settle_batch
from yibao.policy.book import PolicyBook
from yibao.simulate import metrics as m
from yibao.simulate.assumptions import AnalysisOptions, FundAssumptions, HouseholdModel, as_dict
from yibao.simulate.diff import as_rows, policy_diff
from yibao.simulate.narrative import narrative

Progress = Callable[[str], None]
"""Called with a stage name when the stage starts: read, baseline, candidate, metrics."""

PERSON_COLS = (
    "psn_id",
    "insutype",
    "psn_type",
    "identities",
    "family_payer_id",
    "account_balance",
    "age",
    "household_id",
    "household_size",
    "household_income",
)
VISIT_COLS = (
    "visit_id",
    "seq",
    "mdtrt_id",
    "psn_id",
    "med_type",
    "hosp_lv",
    "begin_date",
    "end_date",
    "locality",
    "emergency",
    "use_account",
    "account_payer_id",
    "n_lines",
)
LINE_COLS = ("visit_id", "feedetl_sn", "code", "qty", "price", "amount")
MONEY_KEEP = (
    *(f for f, _, _ in m.FUNDS),
    "acct_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "psn_cash_pay",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "medfee_sumamt",
    "act_pay_dedc",
)
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("insutype", "险种", "scheme"),
    ("hosp_lv", "医院等级", "hospital level"),
    ("med_type", "就诊类型", "visit type"),
    ("age_band", "年龄组", "age band"),
    ("quintile", "收入五等分组", "income quintile"),
)


@dataclass
class SimulationReport:
    """Everything the HTML and JSON outputs show.  Money is integer fen in keys ending ``_fen``."""

    meta: dict[str, Any]
    assumptions: dict[str, Any]
    funds: list[dict[str, Any]]
    oop: list[dict[str, Any]]
    ratios: dict[str, list[dict[str, Any]]]
    oop_by_quintile: list[dict[str, Any]]
    che: dict[str, Any]
    equity: dict[str, Any]
    months_payable: list[dict[str, Any]]
    winners: dict[str, Any]
    policy_diff: list[dict[str, Any]]
    narrative: dict[str, str] = field(default_factory=dict)


def data_files(path: Path) -> tuple[Path, Path, Path]:
    """(persons, visits, lines) Parquet paths from the synth directory or its visits.parquet."""
    d = path if path.is_dir() else path.parent
    visits = path if path.is_file() else d / "visits.parquet"
    files = (d / "persons.parquet", visits, d / "lines.parquet")
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(
            f"缺少模拟地区数据文件 missing synthetic-region file(s): {', '.join(missing)} "
            "(generate a region with `yibao synth` first)"
        )
    return files


def read_data(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.LazyFrame]:
    """Read persons and visits (the columns the simulator uses) and scan lines lazily."""
    pf, vf, lf = data_files(path)
    p_cols = [c for c in PERSON_COLS if c in pl.read_parquet_schema(pf)]
    v_cols = [c for c in VISIT_COLS if c in pl.read_parquet_schema(vf)]
    persons = pl.read_parquet(pf, columns=p_cols)
    visits = pl.read_parquet(vf, columns=v_cols)
    lines = pl.scan_parquet(lf).select(*LINE_COLS)
    return persons, visits, lines


def simulate(
    baseline: PolicyBook,
    candidate: PolicyBook,
    data_dir: Path,
    fund: FundAssumptions | None = None,
    progress: Progress | None = None,
    household: HouseholdModel | None = None,
    options: AnalysisOptions | None = None,
    benefit_check: bool = False,
) -> SimulationReport:
    """Read the synthetic region in ``data_dir`` (or its visits.parquet) and compare the two policies.

    ``benefit_check``: check every visit against the region's enrolment (its generated enrolment files,
    :mod:`yibao.batch.eligibility`) as settlement does — refused visits are not settled by either policy,
    visits of people in a waiting period or in arrears are settled with no fund paying."""
    if progress:
        progress("read")
    t0 = time.perf_counter()
    persons, visits, lines = read_data(Path(data_dir))
    if benefit_check:
        from yibao.batch.eligibility import with_region_eligibility

        d = Path(data_dir)
        visits = with_region_eligibility(d.parent if d.suffix == ".parquet" else d, baseline.loaded, visits)
    report = simulate_frames(
        baseline,
        candidate,
        persons,
        visits,
        lines,
        fund=fund,
        progress=progress,
        household=household,
        options=options,
    )
    report.meta["data"] = str(data_dir)
    report.meta["seconds"]["read"] = round(time.perf_counter() - t0 - sum(report.meta["seconds"].values()), 3)
    return report


def _settle(
    book: PolicyBook, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    return settle_batch(book, persons, visits, lines).visits.select("visit_id", *MONEY_KEEP)


def simulate_frames(
    baseline: PolicyBook,
    candidate: PolicyBook,
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    lines: pl.DataFrame | pl.LazyFrame,
    *,
    fund: FundAssumptions | None = None,
    progress: Progress | None = None,
    household: HouseholdModel | None = None,
    options: AnalysisOptions | None = None,
) -> SimulationReport:
    """The simulation on in-memory frames (the synth Parquet schema; see docs/SIMULATE.md)."""
    fund = fund or FundAssumptions()
    household = household or HouseholdModel()
    options = options or AnalysisOptions()
    seconds: dict[str, float] = {}
    if progress:
        progress("baseline")
    t = time.perf_counter()
    res_b = _settle(baseline, persons, visits, lines)
    seconds["baseline"] = round(time.perf_counter() - t, 3)
    if progress:
        progress("candidate")
    t = time.perf_counter()
    res_c = _settle(candidate, persons, visits, lines)
    seconds["candidate"] = round(time.perf_counter() - t, 3)
    if progress:
        progress("metrics")
    t = time.perf_counter()
    report = _measure(baseline, candidate, persons, visits, res_b, res_c, fund, household, options)
    seconds["metrics"] = round(time.perf_counter() - t, 3)
    report.meta["seconds"] = seconds
    return report


def report_from_settled(
    baseline: PolicyBook,
    candidate: PolicyBook,
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    res_b: pl.DataFrame,
    res_c: pl.DataFrame,
    *,
    fund: FundAssumptions | None = None,
    household: HouseholdModel | None = None,
    options: AnalysisOptions | None = None,
) -> SimulationReport:
    """The report from per-visit settlements made by another executor (Spark): ``res_b`` / ``res_c``
    hold ``visit_id`` and MONEY_KEEP; the metrics are the same code as :func:`simulate_frames`."""
    return _measure(
        baseline,
        candidate,
        persons,
        visits,
        res_b,
        res_c,
        fund or FundAssumptions(),
        household or HouseholdModel(),
        options or AnalysisOptions(),
    )


def _attrs(persons: pl.DataFrame, options: AnalysisOptions) -> pl.DataFrame:
    q = m.income_groups(persons, options.n_income_groups)
    return persons.select(
        "psn_id",
        "insutype",
        "household_id",
        "household_size",
        "household_income",
        age_band=m.age_band(pl.col("age"), options.age_bands),
    ).join(q, on="psn_id", how="left")


def _measure(
    baseline: PolicyBook,
    candidate: PolicyBook,
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    res_b: pl.DataFrame,
    res_c: pl.DataFrame,
    fund: FundAssumptions,
    household: HouseholdModel,
    options: AnalysisOptions,
) -> SimulationReport:
    attrs = _attrs(persons, options)
    vattr = visits.select("visit_id", "psn_id", "med_type", "hosp_lv").join(
        attrs.select("psn_id", "insutype", "age_band", "quintile"), on="psn_id", how="left"
    )
    sb = vattr.join(res_b, on="visit_id", how="inner")
    sc = vattr.join(res_c, on="visit_id", how="inner")

    # --- funds and OOP
    fb, fc = m.fund_expenditure(sb), m.fund_expenditure(sc)
    fund_rows = []
    for key, zh, en in (
        *m.FUNDS,
        m.ACCOUNT,
        ("fund_pay_sumamt", "基金支付合计", "all funds (fund_pay_sumamt)"),
        ("total_with_account", "含个人账户合计", "all funds + personal account"),
    ):
        fund_rows.append(_pair(key, zh, en, fb[key], fc[key]))
    ob, oc = m.out_of_pocket(sb), m.out_of_pocket(sc)
    oop_rows = [
        _pair(k, zh, en, ob[k], oc[k])
        for k, zh, en in (
            ("total", "个人负担合计（账户+现金）", "out-of-pocket, total (account + cash)"),
            ("cash", "现金支付", "cash only"),
            ("account", "个人账户支付", "personal account"),
            ("in_scope", "政策范围内个人负担", "in policy scope"),
            (
                "out_of_scope",
                "政策范围外（全自费+超限价）",
                "outside policy scope (C-class + over price cap)",
            ),
            ("deductible", "起付线内自付", "deductible paid (act_pay_dedc)"),
            ("medfee", "医疗总费用", "total medical cost"),
        )
    ]

    # --- effective ratios
    labels = _labels(baseline, options)
    ratios: dict[str, list[dict[str, Any]]] = {}
    overall_b = fb["fund_pay_sumamt"] / ob["medfee"] if ob["medfee"] else None
    overall_c = fc["fund_pay_sumamt"] / oc["medfee"] if oc["medfee"] else None
    ratios["overall"] = [
        {
            "group": "all",
            "label": "全部 all",
            "visits": sb.height,
            "medfee_fen": ob["medfee"],
            "baseline_fund_fen": fb["fund_pay_sumamt"],
            "candidate_fund_fen": fc["fund_pay_sumamt"],
            "baseline_ratio": overall_b,
            "candidate_ratio": overall_c,
            "change_pp": _pp(overall_b, overall_c),
        }
    ]
    for dim, _zh, _en in DIMENSIONS:
        eb, ec = m.effective_ratio(sb, dim), m.effective_ratio(sc, dim)
        j = eb.join(
            ec.select(dim, pl.col("fund").alias("fund_c"), pl.col("ratio").alias("ratio_c")),
            on=dim,
            how="left",
            nulls_equal=True,
        )
        ratios[dim] = [
            {
                "group": _s(r[dim]),
                "label": labels[dim].get(_s(r[dim]), _s(r[dim])),
                "visits": int(r["visits"]),
                "medfee_fen": int(r["medfee"]),
                "baseline_fund_fen": int(r["fund"]),
                "candidate_fund_fen": int(r["fund_c"] or 0),
                "baseline_ratio": r["ratio"],
                "candidate_ratio": r["ratio_c"],
                "change_pp": _pp(r["ratio"], r["ratio_c"]),
            }
            for r in j.iter_rows(named=True)
        ]

    # --- per-person OOP, quintiles
    pb = m.person_oop(sb, persons)
    pc = m.person_oop(sc, persons)
    people = attrs.join(pb.rename({"oop": "base"}), on="psn_id").join(pc.rename({"oop": "cand"}), on="psn_id")
    by_q = (
        people.group_by("quintile")
        .agg(
            persons=pl.len(),
            base=pl.col("base").sum(),
            cand=pl.col("cand").sum(),
            pc_income=pl.col("pc_income").mean(),
        )
        .sort("quintile")
    )
    oop_by_q = [
        {
            "quintile": int(r["quintile"]),
            "label": labels["quintile"][str(r["quintile"])],
            "persons": int(r["persons"]),
            "baseline_fen": int(r["base"]),
            "candidate_fen": int(r["cand"]),
            "baseline_per_person_fen": round(r["base"] / r["persons"]),
            "candidate_per_person_fen": round(r["cand"] / r["persons"]),
            "mean_pc_income_fen": round(r["pc_income"]),
            **_chg(int(r["base"]), int(r["cand"])),
        }
        for r in by_q.iter_rows(named=True)
    ]

    # --- catastrophic and impoverishing spending
    oop_field = "psn_part_amt" if household.oop_includes_account else "psn_cash_pay"
    che_b_oop = pb if oop_field == "psn_part_amt" else m.person_oop(sb, persons, oop_field)
    che_c_oop = pc if oop_field == "psn_part_amt" else m.person_oop(sc, persons, oop_field)
    hh_b = m.households(persons, che_b_oop)
    hh_c = m.households(persons, che_c_oop)
    line = m.subsistence_line(hh_b, household)
    bur_b = m.household_burden(hh_b, household, line)
    bur_c = m.household_burden(hh_c, household, line)
    hq = attrs.group_by("household_id").agg(pl.col("quintile").min())
    che = _che(bur_b, bur_c, hq, labels["quintile"], line, oop_field)

    # --- equity
    income = people["pc_income"].to_numpy()
    ci_b = m.concentration_index(people["base"].to_numpy(), income)
    ci_c = m.concentration_index(people["cand"].to_numpy(), income)
    ben_b = m.person_oop(sb, persons, "fund_pay_sumamt")
    ben_c = m.person_oop(sc, persons, "fund_pay_sumamt")
    bb = attrs.select("psn_id", "pc_income").join(ben_b, on="psn_id")
    bc = attrs.select("psn_id", "pc_income").join(ben_c, on="psn_id")
    equity = {
        "oop_ci_baseline": ci_b,
        "oop_ci_candidate": ci_c,
        "oop_ci_change": (ci_c - ci_b) if ci_b is not None and ci_c is not None else None,
        "benefit_ci_baseline": m.concentration_index(bb["oop"].to_numpy(), bb["pc_income"].to_numpy()),
        "benefit_ci_candidate": m.concentration_index(bc["oop"].to_numpy(), bc["pc_income"].to_numpy()),
        "rank_variable": "per-capita household income (household_income / household_size)",
    }

    # --- months payable per scheme
    counts = dict(persons.group_by("insutype").len().iter_rows())
    mp = []
    for scheme, sf in fund.schemes.items():
        if scheme not in counts:
            continue
        fields = list(sf.expenditure_fields)
        eb_ = int(sb.filter(pl.col("insutype") == scheme).select(pl.sum_horizontal(fields).sum()).item() or 0)
        ec_ = int(sc.filter(pl.col("insutype") == scheme).select(pl.sum_horizontal(fields).sum()).item() or 0)
        mp.append(m.fund_projection(scheme, int(counts[scheme]), eb_, ec_, fund))

    # --- gainers and losers
    winners = m.gainers_losers(
        people.select("psn_id", "insutype", "age_band", "quintile", "base", "cand"), options
    )
    delta = (people["cand"] - people["base"]).to_numpy()
    winners["histogram"] = m.histogram(delta[delta != 0], options.histogram_bins, options.histogram_clip)
    for row in winners["top_gainers"] + winners["top_losers"]:
        row["scheme_label"] = labels["insutype"].get(row["insutype"], row["insutype"])
        row["quintile_label"] = labels["quintile"].get(str(row["quintile"]), str(row["quintile"]))

    dates = visits["begin_date"]
    meta: dict[str, Any] = {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "baseline": _book_meta(baseline),
        "candidate": _book_meta(candidate),
        "persons": persons.height,
        "households": int(persons["household_id"].n_unique()),
        "visits": visits.height,
        "lines": int(visits["n_lines"].sum()) if "n_lines" in visits.columns else None,
        "period": [str(dates.min()), str(dates.max())] if visits.height else None,
        "settled_visits": sb.height,
    }
    report = SimulationReport(
        meta=meta,
        assumptions={"fund": as_dict(fund), "household": as_dict(household), "options": as_dict(options)},
        funds=fund_rows,
        oop=oop_rows,
        ratios=ratios,
        oop_by_quintile=oop_by_q,
        che=che,
        equity=equity,
        months_payable=mp,
        winners=winners,
        policy_diff=as_rows(policy_diff(baseline, candidate)),
    )
    report.narrative = narrative(report, fund)
    return report


def _che(
    bur_b: pl.DataFrame,
    bur_c: pl.DataFrame,
    hq: pl.DataFrame,
    qlabels: dict[str, str],
    line: float,
    oop_field: str,
) -> dict[str, Any]:
    def summary(b: pl.DataFrame) -> dict[str, Any]:
        return {
            "che_households": int(b["che"].sum()),
            "che_rate": m.incidence(b["che"]),
            "che_persons": int(b.filter(pl.col("che"))["members"].sum()),
            "impoverished_households": int(b["impoverished"].sum()),
            "impoverished_rate": m.incidence(b["impoverished"]),
            "impoverished_persons": int(b.filter(pl.col("impoverished"))["members"].sum()),
        }

    sb, sc = summary(bur_b), summary(bur_c)
    by_q = []
    jb = bur_b.join(hq, on="household_id", how="left")
    jc = bur_c.join(hq, on="household_id", how="left")
    for q in sorted(x for x in jb["quintile"].unique().to_list() if x is not None):
        qb, qc = jb.filter(pl.col("quintile") == q), jc.filter(pl.col("quintile") == q)
        by_q.append(
            {
                "quintile": int(q),
                "label": qlabels.get(str(q), str(q)),
                "households": qb.height,
                "baseline_che_rate": m.incidence(qb["che"]),
                "candidate_che_rate": m.incidence(qc["che"]),
                "baseline_impoverished_rate": m.incidence(qb["impoverished"]),
                "candidate_impoverished_rate": m.incidence(qc["impoverished"]),
            }
        )
    return {
        "households": bur_b.height,
        "oop_field": oop_field,
        "subsistence_per_eq_adult_fen": round(line),
        "poor_before_oop_households": int(bur_b["poor"].sum()),
        "baseline": sb,
        "candidate": sc,
        "che_rate_change_pp": (sc["che_rate"] - sb["che_rate"]) * 100.0,
        "impoverished_rate_change_pp": (sc["impoverished_rate"] - sb["impoverished_rate"]) * 100.0,
        "by_quintile": by_q,
    }


def _labels(book: PolicyBook, options: AnalysisOptions) -> dict[str, dict[str, str]]:
    r = book.loaded.region
    q = options.n_income_groups
    ql = {
        str(i): f"Q{i}" + (" 最低 poorest" if i == 1 else " 最高 richest" if i == q else "")
        for i in range(1, q + 1)
    }
    return {
        "insutype": {s.code: f"{s.name} {s.name_en}" for s in r.schemes},
        "hosp_lv": {x.code: f"{x.name} {x.name_en}" for x in r.hospital_levels},
        "med_type": {x.code: f"{x.name} {x.name_en}" for x in r.visit_types},
        "age_band": {b: b for b in m.age_band_labels(options.age_bands)},
        "quintile": ql,
    }


def _book_meta(book: PolicyBook) -> dict[str, Any]:
    r = book.loaded.region
    return {
        "file": book.loaded.file,
        "admdvs": r.region.admdvs,
        "name": r.region.name,
        "name_en": r.region.name_en,
        "versions": [v.id for v in r.versions],
    }


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _pp(a: float | None, b: float | None) -> float | None:
    return (b - a) * 100.0 if a is not None and b is not None else None


def _chg(base: int, cand: int) -> dict[str, Any]:
    c = m.change(base, cand)
    return {"change_fen": c["change"], "pct": c["pct"]}


def _pair(key: str, zh: str, en: str, base: int, cand: int) -> dict[str, Any]:
    return {
        "key": key,
        "name": zh,
        "name_en": en,
        "baseline_fen": base,
        "candidate_fen": cand,
        **_chg(base, cand),
    }
