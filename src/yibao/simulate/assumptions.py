"""Every number the simulator uses that is not in a policy file, with its default and its source.

Every default names its source (document title and number) beside it; figures marked illustrative are
assumptions to replace with local data.  docs/SIMULATE.md explains each
parameter and how it enters the metrics; nothing outside these dataclasses is a model parameter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SchemeFund:
    """The pooled fund of one scheme (insutype) for the months-payable projection (累计结余可支付月数)."""

    name: str
    name_en: str
    income_per_head_fen: int
    """Pooled-fund income per insured person per year, in fen."""
    opening_months: float
    """Opening balance, stated in months of *baseline* pooled-fund spending (illustrative)."""
    expenditure_fields: tuple[str, ...]
    """2207 fields that this fund pays (its expenditure)."""
    source: str
    income_to_spending: float = 1.0
    """National income / expenditure of this fund, used when ``income_basis`` is ``spending_ratio``."""
    income_basis: str = "per_head"
    """``per_head``: income = income_per_head_fen × insured persons (national per-head figure);
    ``spending_ratio``: income = baseline expenditure × income_to_spending (keeps the national balance
    rate whatever the synthetic region's spending level)."""


def _default_schemes() -> dict[str, SchemeFund]:
    return {
        "310": SchemeFund(
            name="职工医保统筹基金",
            name_en="employee pooled fund",
            # 《2025年全国医疗保障事业发展统计公报》 (as quoted by a third-party compilation): 2025 employee pooled-fund income 18,292.91亿 over 38,856.12万 employees
            # = 4,707.86 元 per head.
            income_per_head_fen=470_786,
            # illustrative: the employee pool is well funded nationally (balance rate 25.7%, same bulletin).
            opening_months=18.0,
            # hifp only: the 大额补助 is usually financed by its own premium (common local practice), so it is left out by default.
            expenditure_fields=("hifp_pay",),
            source="《2025年全国医疗保障事业发展统计公报》（收入）；期初结余为示例假设",
            # 2025 bulletin: 18,292.91亿 / 13,594.28亿
            income_to_spending=1.3456,
        ),
        "390": SchemeFund(
            name="居民医保基金",
            name_en="resident fund",
            # 《2025年全国医疗保障事业发展统计公报》 (as quoted by a third-party compilation): 2025 resident fund income 11,237.72亿 over 94,213.27万 residents
            # = 1,192.80 元 per head.
            income_per_head_fen=119_280,
            # illustrative: thin — the resident fund's 2025 balance rate was 5.0% (same bulletin).
            opening_months=8.0,
            # 大病保险 is bought out of the resident basic fund (国办发〔2015〕57号), so hifmi counts.
            expenditure_fields=("hifp_pay", "hifmi_pay"),
            source="《2025年全国医疗保障事业发展统计公报》（收入）；期初结余为示例假设",
            # 2025 bulletin: 11,237.72亿 / 10,678.63亿
            income_to_spending=1.0524,
        ),
    }


@dataclass(frozen=True)
class FundAssumptions:
    """Fund financing and the months-payable bands (人社部发〔2009〕67号)."""

    schemes: dict[str, SchemeFund] = field(default_factory=_default_schemes)
    red_below_months: float = 3.0
    """< 3 months: insufficient balance (结余不足), red alert (人社部发〔2009〕67号)."""
    amber_below_months: float = 6.0
    """3–6 months: the amber band many warning schemes add (local practice)."""
    target_months: tuple[float, float] = (6.0, 9.0)
    """6–9 months: the classic target range (人社部发〔2009〕67号)."""
    excessive_above_months: float = 15.0
    """> 15 months: excessive surplus (结余过多) (人社部发〔2009〕67号)."""
    months_per_year: int = 12

    def band(self, months: float | None) -> str:
        """``red`` / ``amber`` / ``green`` / ``excessive`` for a months-payable value (None = no spending)."""
        if months is None:
            return "excessive"
        if months < self.red_below_months:
            return "red"
        if months < self.amber_below_months:
            return "amber"
        if months > self.excessive_above_months:
            return "excessive"
        return "green"


@dataclass(frozen=True)
class HouseholdModel:
    """Capacity to pay and subsistence (Xu et al. 2003; Xu 2005, WHO/EIP/HSF/DP.05.2) from household income.

    The synthetic data carry household income, not consumption or food spending, so both are modelled:
    consumption = income × ``propensity_to_consume``; food = consumption × ``food_share``.
    """

    propensity_to_consume: float = 0.683
    """Consumption / disposable income.  NBS 2024 per-capita consumption 28,227 元 over disposable income
    41,314 元 (国家统计局《2024年居民收入和消费支出情况》)."""
    food_share: float = 0.298
    """Share of consumption spent on food (Engel coefficient), NBS 2024 national 29.8% (国家统计局《2024年居民收入和消费支出情况》)."""
    eq_scale_beta: float = 0.56
    """Equivalence scale eqsize = household_size ** beta; beta = 0.56 (Xu 2005, estimated on 59 countries)."""
    che_threshold: float = 0.40
    """Catastrophic if OOP ≥ 40% of capacity to pay (Xu et al. 2003, Lancet 362:111–117)."""
    subsistence_band: tuple[float, float] = (0.45, 0.55)
    """Xu 2005: the subsistence line is the mean food spending per equivalent adult of the households
    whose food share lies between the 45th and 55th percentiles.  With a constant modelled food share,
    yibao ranks by consumption per equivalent adult instead (documented adaptation)."""
    subsistence_per_eq_adult_fen: int | None = None
    """A fixed subsistence line (fen per equivalent adult per year) instead of the derived one, e.g. a
    local 低保 standard.  None = derive it from the data as above."""
    oop_includes_account: bool = True
    """Count personal-account payments (acct_pay) as out-of-pocket (out-of-pocket = psn_part_amt, the personal burden of the national settlement output).
    False = cash only (psn_cash_pay): the account is the insured's own prepaid money."""


@dataclass(frozen=True)
class AnalysisOptions:
    """Grouping and presentation choices (not economic assumptions)."""

    age_bands: tuple[int, ...] = (18, 45, 60, 75)
    """Lower bounds of the age bands after the first: 0–17, 18–44, 45–59, 60–74, 75+."""
    n_income_groups: int = 5
    """Quantile groups of per-capita household income (5 = quintiles; 1 = poorest)."""
    material_change_fen: int = 10_000
    """A person is better / worse off if their yearly OOP changes by more than this (100 元)."""
    top_groups: int = 5
    """How many groups to list as largest gainers and losers."""
    min_group_persons: int = 20
    """Smallest group (scheme × age band × income quintile) eligible for the gainers / losers list."""
    histogram_bins: int = 40
    """Bins of the per-person OOP-change histogram (persons whose OOP changed)."""
    histogram_clip: tuple[float, float] = (0.005, 0.995)
    """The histogram spans these quantiles of the non-zero changes; the rest go to the end bins."""


def as_dict(obj: Any) -> dict[str, Any]:
    """A JSON-friendly dict of an assumptions dataclass."""
    out: dict[str, Any] = dataclasses.asdict(obj)
    return out
