"""The bureau's enrolment and collection figures as pure functions of frames (no database, no clock):
fund income from contributions, coverage by district, continuity, arrears by employer, the collection
report.  The frames are those of :meth:`yibao.enrolment.store.EnrolmentStore.frames` (or the synthetic
region's Parquet files); ratios are int in 1/10000 and money int fen.

Fund income (:func:`income_frame`) is what the fund capability reads as income: one row per month, fund
and source —

* employees: the employer part to the pool (310100, ``employer``); the individual part to the personal
  account (310200) as far as ``account_share_of_individual`` says, the rest to the pool (``individual``);
  a month paid after its grace, and a retiree's lump sum, is ``back_payment``;
* residents: the individual premium (``individual``), the assistance fund's payment for 低保/特困
  (``assistance``; the assistance fund 610100 pays it, the resident funds receive it) and the fiscal
  subsidy per head (``fiscal_subsidy``), split between the resident pool (390100) and the critical-illness
  fund (390200) by ``critical_illness_share``; a lapsed year paid afterwards (缴费修复) is ``back_payment``.

``basis`` ``cash`` books money in the month it was paid (the fiscal subsidy with its head's payment);
``accrual`` books employees' months in the contribution month and residents' money evenly over the 12
months of the benefit year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import polars as pl

from yibao.enrolment.contributions import collection_timing
from yibao.enrolment.policy import EnrolmentPolicy
from yibao.money import RATIO_ONE, apply_ratio, split_largest_remainder

INCOME_SCHEMA: dict[str, Any] = {
    "month": pl.String,
    "fund_pay_type": pl.String,
    "source": pl.String,
    "amount_fen": pl.Int64,
}
SOURCES = ("employer", "individual", "fiscal_subsidy", "assistance", "back_payment")


def _grace_end_expr(month: pl.Expr, grace_months: int) -> pl.Expr:
    """The last day a contribution month may be paid (``YYYY-MM`` text in, Date out)."""
    y = month.str.slice(0, 4).cast(pl.Int32)
    m = month.str.slice(5, 2).cast(pl.Int32)
    k = y * 12 + (m - 1) + grace_months + 1  # the month after the grace, 0-based
    return pl.date(k // 12, k % 12 + 1, 1) - pl.duration(days=1)


def income_frame(
    contributions: pl.DataFrame,
    premiums: pl.DataFrame,
    policy: EnrolmentPolicy,
    *,
    basis: Literal["cash", "accrual"] = "cash",
) -> pl.DataFrame:
    """Contributions and premiums as fund income: columns ``month`` ('YYYY-MM'), ``fund_pay_type``
    (310100, 310200, 390100, 390200), ``source`` (employer, individual, fiscal_subsidy, assistance,
    back_payment), ``amount_fen`` (Int64); sorted, zero rows left out.  Unpaid months are not income."""
    parts: list[pl.DataFrame] = []
    c = contributions.filter(pl.col("paid_on").is_not_null())
    if c.height:
        late = (pl.col("kind") == "top_up") | (
            pl.col("paid_on") > _grace_end_expr(pl.col("month"), policy.arrears_grace_months)
        )
        month = (
            pl.col("paid_on").dt.strftime("%Y-%m")
            if basis == "cash"
            else pl.when(pl.col("kind") == "top_up")
            .then(pl.col("paid_on").dt.strftime("%Y-%m"))
            .otherwise(pl.col("month"))
        )
        t = c.select(
            month.alias("month"),
            late.alias("late"),
            pl.col("employer_fen"),
            pl.col("account_fen"),
            (pl.col("individual_fen") - pl.col("account_fen")).alias("ind_pool"),
        )
        for col, fpt, src in (
            ("employer_fen", "310100", "employer"),
            ("ind_pool", "310100", "individual"),
            ("account_fen", "310200", "individual"),
        ):
            parts.append(
                t.select(
                    "month",
                    pl.lit(fpt).alias("fund_pay_type"),
                    pl.when(pl.col("late"))
                    .then(pl.lit("back_payment"))
                    .otherwise(pl.lit(src))
                    .alias("source"),
                    pl.col(col).cast(pl.Int64).alias("amount_fen"),
                )
            )
    if premiums.height:
        p = premiums.select(
            pl.col("paid_on").dt.strftime("%Y-%m").alias("month"),
            pl.col("year"),
            pl.col("kind"),
            pl.col("individual_fen"),
            pl.col("assistance_fen"),
            pl.col("subsidy_fen"),
        )
        rows = []
        for col, src in (
            ("individual_fen", "individual"),
            ("assistance_fen", "assistance"),
            ("subsidy_fen", "fiscal_subsidy"),
        ):
            rows.append(
                p.select(
                    "month",
                    "year",
                    pl.when(pl.col("kind") == "repair")
                    .then(pl.lit("back_payment"))
                    .otherwise(pl.lit(src))
                    .alias("source"),
                    pl.col(col).cast(pl.Int64).alias("amount_fen"),
                )
            )
        r = pl.concat(rows)
        if basis == "cash":
            agg = r.group_by("month", "source").agg(pl.col("amount_fen").sum())
        else:
            by_year = r.group_by("year", "source").agg(pl.col("amount_fen").sum())
            spread = []
            for year, src, amount in by_year.iter_rows():
                for i, share in enumerate(split_largest_remainder(int(amount), [1] * 12)):
                    spread.append((f"{year:04d}-{i + 1:02d}", src, share))
            agg = pl.DataFrame(
                spread, schema={"month": pl.String, "source": pl.String, "amount_fen": pl.Int64}, orient="row"
            )
        ci_rows = []
        for month, src, amount in agg.iter_rows():
            ci = apply_ratio(int(amount), policy.critical_illness_share)
            ci_rows.append((month, "390100", src, int(amount) - ci))
            ci_rows.append((month, "390200", src, ci))
        parts.append(pl.DataFrame(ci_rows, schema=INCOME_SCHEMA, orient="row"))
    if not parts:
        return pl.DataFrame(schema=INCOME_SCHEMA)
    out = (
        pl.concat([x.select(list(INCOME_SCHEMA)).cast(pl.Schema(INCOME_SCHEMA)) for x in parts])
        .group_by("month", "fund_pay_type", "source")
        .agg(pl.col("amount_fen").sum())
        .filter(pl.col("amount_fen") != 0)
        .sort("month", "fund_pay_type", "source")
    )
    return out.cast(pl.Schema(INCOME_SCHEMA))


def rate(numerator: int, denominator: int) -> int:
    """numerator / denominator in 1/10000, half up (0 when the denominator is 0)."""
    if denominator <= 0:
        return 0
    return (numerator * RATIO_ONE * 2 + denominator) // (2 * denominator)


def coverage_by_district(
    persons: pl.DataFrame,
    checked: pl.DataFrame,
    *,
    population: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """参保率 by district on a day: ``checked`` is :func:`~yibao.enrolment.check.check_frame` of one row per
    registered person on that day (``psn_no`` + the decision).  Population: the registered persons alive and
    not transferred out, unless ``population`` (常住人口 by district) is given.  Columns: district, population,
    insured (relation normal: psn_insu_stas 1), covered (may use benefits that day), coverage_rate and
    covered_rate (1/10000)."""
    t = persons.select("psn_no", "district").join(
        checked.select("psn_no", "reason_code", "psn_insu_stas", "covered"), on="psn_no", how="left"
    )
    g = (
        t.group_by("district")
        .agg(
            (~pl.col("reason_code").is_in(["deceased", "transferred_out"])).sum().alias("registered"),
            (pl.col("psn_insu_stas") == "1").sum().alias("insured"),
            pl.col("covered").sum().alias("covered"),
        )
        .sort("district")
    )
    rows = []
    for district, registered, insured, covered in g.iter_rows():
        pop = int(population.get(district, registered)) if population else int(registered)
        rows.append(
            (district, pop, int(insured), int(covered), rate(int(insured), pop), rate(int(covered), pop))
        )
    return pl.DataFrame(
        rows,
        schema={
            "district": pl.String,
            "population": pl.Int64,
            "insured": pl.Int64,
            "covered": pl.Int64,
            "coverage_rate": pl.Int64,
            "covered_rate": pl.Int64,
        },
        orient="row",
    )


INSURED_SCHEMA: dict[str, Any] = {
    "month": pl.String,
    "insutype": pl.String,
    "psn_type": pl.String,
    "insured": pl.Int64,
}
_OPENS = ("enrol", "transfer_in", "resume", "change_type")
_ENDS_NEXT_DAY = ("death",)  # covered on the day of death, not after it


def _month_end(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)


def insured_by_month(events: pl.DataFrame, premiums: pl.DataFrame, months: list[str]) -> pl.DataFrame:
    """参保人数 at the end of each month (``YYYY-MM``): persons whose relation is in force (正常参保) on the
    month's last day, by scheme and person type — a resident only with the premium of that year paid by
    then (annual or 缴费修复), an employee on the relation alone (the employer owes the months; arrears do
    not end the relation).  ``events``: the relation events (``psn_no``, ``seq``, ``day``, ``kind``,
    ``insutype``, ``psn_type``); suspension, termination and transfer out end the count from their day,
    death from the day after; a resumed or re-typed relation keeps the scheme and takes the new type.
    Columns: month, insutype, psn_type, insured (Int64); sorted."""
    if not months or events.height == 0:
        return pl.DataFrame(schema=INSURED_SCHEMA)
    e = (
        events.select(
            "psn_no",
            "seq",
            "day",
            "kind",
            pl.col("insutype").fill_null(""),
            pl.col("psn_type").fill_null(""),
        )
        .sort("psn_no", "day", "seq")
        .with_columns(
            pl.when(pl.col("kind").is_in(["enrol", "transfer_in"]) & (pl.col("insutype") != ""))
            .then(pl.col("insutype"))
            .otherwise(None)
            .forward_fill()
            .over("psn_no")
            .alias("insutype"),
            pl.when(pl.col("psn_type") != "")
            .then(pl.col("psn_type"))
            .otherwise(None)
            .forward_fill()
            .over("psn_no")
            .alias("psn_type"),
            pl.col("kind").is_in(list(_OPENS)).alias("active"),
            pl.when(pl.col("kind").is_in(list(_ENDS_NEXT_DAY)))
            .then(pl.col("day") + pl.duration(days=1))
            .otherwise(pl.col("day"))
            .alias("effective"),
        )
    )
    paid = premiums.filter(pl.col("paid_on").is_not_null() & pl.col("kind").is_in(["annual", "repair"]))
    parts = []
    for month in months:
        end = _month_end(month)
        last = (
            e.filter(pl.col("effective") <= end)
            .group_by("psn_no")
            .agg(pl.all().sort_by("effective", "seq").last())
            .filter(pl.col("active"))
        )
        covered = (
            paid.filter((pl.col("year") == end.year) & (pl.col("paid_on") <= end))
            .select("psn_no")
            .unique()
            .with_columns(pl.lit(True).alias("_paid"))
        )
        last = last.join(covered, on="psn_no", how="left").filter(
            (pl.col("insutype") != "390") | pl.col("_paid").fill_null(False)
        )
        parts.append(
            last.group_by("insutype", "psn_type")
            .agg(pl.len().cast(pl.Int64).alias("insured"))
            .with_columns(pl.lit(month).alias("month"))
        )
    out = pl.concat(parts).select(list(INSURED_SCHEMA)).cast(pl.Schema(INSURED_SCHEMA))
    return out.sort("month", "insutype", "psn_type")


def insured_years(contributions: pl.DataFrame, premiums: pl.DataFrame) -> pl.DataFrame:
    """(psn_no, scheme, year) for every person-year with a paid annual premium (390) or a paid month (310)."""
    emp = contributions.filter(pl.col("paid_on").is_not_null() & (pl.col("kind") == "normal")).select(
        "psn_no", pl.lit("310").alias("scheme"), pl.col("month").str.slice(0, 4).cast(pl.Int32).alias("year")
    )
    res = premiums.filter(pl.col("kind") == "annual").select(
        "psn_no", pl.lit("390").alias("scheme"), pl.col("year").cast(pl.Int32)
    )
    return pl.concat([emp, res]).unique()


def continuity_rate(contributions: pl.DataFrame, premiums: pl.DataFrame, year: int) -> pl.DataFrame:
    """续保率: of the persons insured in ``year − 1`` (by scheme), how many are insured again in ``year``
    (in any scheme).  Columns: scheme, insured_prev, continued, continuity_rate (1/10000)."""
    iy = insured_years(contributions, premiums)
    prev = iy.filter(pl.col("year") == year - 1).select("psn_no", "scheme").unique()
    now = (
        iy.filter(pl.col("year") == year).select("psn_no").unique().with_columns(pl.lit(True).alias("again"))
    )
    t = (
        prev.join(now, on="psn_no", how="left")
        .group_by("scheme")
        .agg(pl.len().alias("insured_prev"), pl.col("again").fill_null(False).sum().alias("continued"))
    )
    rows = [(s, int(a), int(b), rate(int(b), int(a))) for s, a, b in t.sort("scheme").iter_rows()]
    return pl.DataFrame(
        rows,
        schema={
            "scheme": pl.String,
            "insured_prev": pl.Int64,
            "continued": pl.Int64,
            "continuity_rate": pl.Int64,
        },
        orient="row",
    )


def arrears_by_employer(contributions: pl.DataFrame, on: dt.date, policy: EnrolmentPolicy) -> pl.DataFrame:
    """欠费: per employer, the due months unpaid on ``on`` whose grace ended before it.  Columns: emp_no,
    persons, months, amount_fen (employer + individual parts), oldest_month; largest amount first."""
    t = contributions.filter(
        (pl.col("kind") == "normal")
        & (_grace_end_expr(pl.col("month"), policy.arrears_grace_months) < pl.lit(on))
        & (pl.col("paid_on").is_null() | (pl.col("paid_on") > pl.lit(on)))
    )
    return (
        t.group_by("emp_no")
        .agg(
            pl.col("psn_no").n_unique().alias("persons"),
            pl.len().alias("months"),
            (pl.col("employer_fen") + pl.col("individual_fen")).sum().cast(pl.Int64).alias("amount_fen"),
            pl.col("month").min().alias("oldest_month"),
        )
        .sort(["amount_fen", "emp_no"], descending=[True, False])
        .cast({"persons": pl.Int64, "months": pl.Int64})
    )


def collection_report(premiums: pl.DataFrame, year: int, policy: EnrolmentPolicy) -> dict[str, Any]:
    """征缴报告 of a benefit year: persons paid, when (collection period, extension, late), repairs (缴费修复)
    of lapsed years, and the money by source (fen)."""
    p = premiums.filter(pl.col("year") == year)
    annual = p.filter(pl.col("kind") == "annual")
    timing: dict[str, int] = {"period": 0, "extended": 0, "late": 0}
    for paid_on, count in annual.group_by("paid_on").agg(pl.len()).iter_rows():
        timing[collection_timing(year, paid_on, policy)] += int(count)
    ry = policy.resident_year(year)
    by_identity = {
        (ident or "-"): int(n)
        for ident, n in annual.group_by("identity").agg(pl.len()).sort("identity").iter_rows()
    }
    return {
        "year": year,
        "collection_period": (
            {
                "opens": ry.collection.opens.isoformat(),
                "closes": ry.collection.closes.isoformat(),
                "extended_to": ry.collection.extended_to.isoformat() if ry.collection.extended_to else None,
                "individual_fen": ry.individual_fen,
                "fiscal_subsidy_fen": ry.fiscal_subsidy_fen,
                "source": policy.cite(ry.source),
            }
            if ry
            else None
        ),
        "persons_paid": annual.height,
        "paid_in_period": timing["period"],
        "paid_in_extension": timing["extended"],
        "paid_late": timing["late"],
        "repairs": p.filter(pl.col("kind") == "repair").height,
        "individual_fen": int(annual["individual_fen"].sum() or 0),
        "assistance_fen": int(annual["assistance_fen"].sum() or 0),
        "fiscal_subsidy_fen": int(annual["subsidy_fen"].sum() or 0),
        "assisted_by_identity": by_identity,
    }
