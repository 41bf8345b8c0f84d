"""Stand-in contributions: income entries from head counts and the rates of ``contributions.yaml``.

REPLACEABLE.  The enrolment capability books real contributions through its
``income_frame(...) -> polars.DataFrame`` (month 'YYYY-MM', fund_pay_type, source, amount_fen); this module
produces a frame of exactly that shape from synthetic persons so that the fund accounts, the warnings and
the projection work before enrolment lands.  Swap :func:`income_frame_stand_in` for enrolment's
``income_frame`` and nothing else changes.  The same rules, applied to projected head counts, give the
projection's expected contributions (:func:`contributions`).

Rules (sources in contributions.yaml):

* in-service employees: employer rate × wage base → 310100 (employer); individual rate × wage base →
  310200 (individual), monthly;
* employees and retirees: the large-amount premium → 330100 (individual);
* retirees pay nothing; their accounts are topped up from the pool (a transfer 310100 → 310200, see
  :func:`retiree_transfers`);
* residents: individual premium and fiscal subsidy per head; for 特困 / 低保 / 返贫致贫 the assistance budget
  pays the listed share of the individual premium (source ``assistance``); a per-head critical-illness
  allocation goes to 390200, taken from the three sources in proportion; the rest to 390100;
* the assistance fund 610100 receives a fiscal input per assisted person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from yibao.fund.accounts import ENTRY_SCHEMA, transfer_entries
from yibao.fund.params import Contributions
from yibao.money import apply_ratio, split_largest_remainder

INCOME_SCHEMA: dict[str, type[pl.DataType]] = {
    "month": pl.String,
    "fund_pay_type": pl.String,
    "source": pl.String,
    "amount_fen": pl.Int64,
}
POOL_EMP, ACCT_EMP, LARGE_EMP, POOL_RES, CRIT_RES, ASSIST = (
    "310100",
    "310200",
    "330100",
    "390100",
    "390200",
    "610100",
)


@dataclass(frozen=True)
class HeadCounts:
    """Insured persons of one year by contribution group; ``assisted`` by identity code (residents)."""

    in_service: int
    retired: int
    residents: int
    assisted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Premiums:
    """Per-head rates in force for a year (fen)."""

    wage_base_monthly: int
    resident_individual: int
    resident_subsidy: int


def premiums_for(rates: Contributions, year: int) -> Premiums:
    """The listed rates of ``year`` (the nearest listed year carried forward unchanged)."""
    ind, sub = rates.resident_premium(year)
    return Premiums(rates.wage_base(year), ind, sub)


def _spread(
    total: int, months: list[int], year: int, fund: str, source: str
) -> list[tuple[str, str, str, int]]:
    parts = split_largest_remainder(total, [1] * len(months))
    return [(f"{year:04d}-{m:02d}", fund, source, a) for m, a in zip(months, parts, strict=True) if a]


def contributions(
    counts: HeadCounts, rates: Contributions, year: int, prem: Premiums | None = None
) -> pl.DataFrame:
    """A year's income rows (the enrolment ``income_frame`` shape) for ``counts`` under ``rates``."""
    p = prem or premiums_for(rates, year)
    e, r, a, t = rates.employee, rates.resident, rates.assistance, rates.timing
    rows: list[tuple[str, str, str, int]] = []
    # employees (monthly per head, rounded per head as a payroll would)
    employer = 12 * counts.in_service * apply_ratio(p.wage_base_monthly, e.employer_rate)
    individual = 12 * counts.in_service * apply_ratio(p.wage_base_monthly, e.individual_rate)
    rows += _spread(employer, t.employee_months, year, POOL_EMP, "employer")
    rows += _spread(individual, t.employee_months, year, ACCT_EMP, "individual")
    rows += _spread(
        (counts.in_service + counts.retired) * e.large_amount_premium_yearly,
        t.employee_months,
        year,
        LARGE_EMP,
        "individual",
    )
    # residents: who pays the individual premium, then the critical-illness allocation out of each source
    subsidised = sum(
        apply_ratio(p.resident_individual, a.premium_subsidy.get(k, 0)) * n
        for k, n in counts.assisted.items()
    )
    by_source = {
        "individual": counts.residents * p.resident_individual - subsidised,
        "assistance": subsidised,
        "fiscal_subsidy": counts.residents * p.resident_subsidy,
    }
    critical = counts.residents * r.critical_allocation_yearly
    crit = dict(zip(by_source, split_largest_remainder(critical, list(by_source.values())), strict=True))
    for src, total in by_source.items():
        months = t.fiscal_subsidy_months if src == "fiscal_subsidy" else t.resident_individual_months
        rows += _spread(total - crit[src], months, year, POOL_RES, src)
        rows += _spread(crit[src], months, year, CRIT_RES, src)
    # the assistance fund's own fiscal input
    assisted = sum(counts.assisted.values())
    rows += _spread(
        assisted * a.fiscal_per_assisted_yearly, t.assistance_months, year, ASSIST, "fiscal_subsidy"
    )
    df = pl.DataFrame(rows, schema=INCOME_SCHEMA, orient="row")
    return (
        df.group_by("month", "fund_pay_type", "source")
        .agg(pl.col("amount_fen").sum())
        .sort("month", "fund_pay_type", "source")
    )


def retiree_transfers(retired: int, rates: Contributions, year: int) -> pl.DataFrame:
    """The pool's monthly top-up of retirees' personal accounts (310100 → 310200), as transfer entries."""
    frames = [
        transfer_entries(
            f"{year:04d}-{m:02d}",
            POOL_EMP,
            ACCT_EMP,
            retired * rates.employee.retiree_account_monthly,
            "retiree_account",
        )
        for m in range(1, 13)
    ]
    return pl.concat(frames) if retired else pl.DataFrame(schema=ENTRY_SCHEMA)


def head_counts(persons: pl.DataFrame, groups: Mapping[str, str], identities: tuple[str, ...]) -> HeadCounts:
    """Counts from a persons frame with ``psn_type`` and ``identities`` ('|'-separated codes): ``groups``
    maps psn_type → in_service / retired / resident (the region's person types)."""
    g = persons.select(
        pl.col("psn_type").cast(pl.String).replace_strict(groups, default="resident").alias("group"),
        pl.col("identities").fill_null("").alias("identities"),
    )
    n = dict(g.group_by("group").len().iter_rows())
    res = g.filter(pl.col("group") == "resident")
    assisted: dict[str, int] = {}
    for code in identities:  # the first listed identity a person holds decides
        hit = res.filter(pl.col("identities").str.split("|").list.contains(code))
        res = res.filter(~pl.col("identities").str.split("|").list.contains(code))
        if hit.height:
            assisted[code] = hit.height
    return HeadCounts(
        int(n.get("in_service", 0)), int(n.get("retired", 0)), int(n.get("resident", 0)), assisted
    )


def income_frame_stand_in(
    persons: pl.DataFrame, groups: Mapping[str, str], rates: Contributions, year: int
) -> pl.DataFrame:
    """Stand-in for enrolment's ``income_frame``: the year's income rows from the persons enrolled."""
    counts = head_counts(persons, groups, tuple(rates.assistance.premium_subsidy))
    return contributions(counts, rates, year)
