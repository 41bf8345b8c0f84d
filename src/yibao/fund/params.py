"""The fund's policy data: accounts and warning thresholds (``params.yaml``), contributions
(``contributions.yaml``), actuarial assumptions (``projection.yaml``) and the global budget (``budget.yaml``).

Every file carries ``sources:`` (title, url, tag V/T/M/X, note) and every block names one of them, so no
number is uncited.  Amounts are 元 strings held as fen; ratios decimals held as 1/10000; a few statistical
assumptions (Gompertz coefficients) stay decimals.  A bad file raises :class:`FundParamsError` naming the
path inside it, Chinese first."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from yibao.errors import FieldError, validation_reason
from yibao.money import MoneyError, parse_ratio, yuan_to_fen

HERE = Path(__file__).parent
FUND_GROUPS = ("pool", "critical", "assistance", "account")
GROUP_NAMES = {
    "pool": ("统筹基金", "pooled fund"),
    "critical": ("大病/大额", "critical illness"),
    "assistance": ("医疗救助", "assistance"),
    "account": ("个人账户", "personal accounts"),
}


class FundParamsError(FieldError):
    """A fund policy file that cannot be used; ``field`` is the path inside the file."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason, "fund_params")


def _ratio(v: object) -> int:
    try:
        return parse_ratio(v, allow_negative=True)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


def _fen(v: object) -> int:
    try:
        return yuan_to_fen(v)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


def _dec(v: object) -> Decimal:
    if isinstance(v, float | bool):
        raise ValueError(f"须写成带引号的小数 write {v!r} as a quoted decimal")
    return Decimal(str(v))


Ratio = Annotated[int, BeforeValidator(_ratio)]
Fen = Annotated[int, BeforeValidator(_fen)]
Dec = Annotated[Decimal, BeforeValidator(_dec)]
Code = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    title: str = Field(min_length=1)
    url: str | None = None
    tag: Literal["V", "T", "M", "X"]
    note: str | None = None


class Cited(Strict):
    source: str = Field(min_length=1)


# ------------------------------------------------------------------------------------------ params.yaml
class PaidBy(Strict):
    field: Literal[
        "hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "cvlserv_pay", "hifes_pay", "oth_pay", "acct_pay"
    ]
    insutype: Code | None = None


class FundAccount(Strict):
    code: Code = Field(pattern=r"^\d{6}$")
    name: str
    name_en: str
    group: Literal["pool", "critical", "assistance", "account"]
    scheme: Code | None = None
    paid_by: list[PaidBy] = Field(min_length=1)
    # whether enrolment's contributions and premiums fund it (else its income is booked from the bureau's
    # own figures, or the stand-in rates when none are given)
    collected_by_enrolment: bool = True


class MonthsPayable(Cited):
    red_below: int = Field(ge=0)
    amber_below: int = Field(ge=0)
    target_upto: int = Field(ge=0)
    excessive_above: int = Field(ge=0)
    window_months: int = Field(ge=1, le=60)

    @model_validator(mode="after")
    def _rising(self) -> MonthsPayable:
        if not self.red_below <= self.amber_below <= self.target_upto <= self.excessive_above:
            raise ValueError(
                "预警区间须逐级升高 bands must rise: red_below ≤ amber_below ≤ target_upto ≤ excessive_above"
            )
        return self


class Interest(Cited):
    annual_rate: Ratio = Field(ge=0, le=10_000)


class Threshold(Cited):
    direction: Literal["above", "below"]
    amber: Ratio
    red: Ratio

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.direction == "above" and self.red < self.amber:
            raise ValueError("“高于”方向的红色阈值不得低于黄色阈值 for 'above', red must not be below amber")
        if self.direction == "below" and self.red > self.amber:
            raise ValueError("“低于”方向的红色阈值不得高于黄色阈值 for 'below', red must not be above amber")
        return self


INDICATORS = (
    "balance_rate",
    "growth_gap",
    "cost_per_visit_growth",
    "cost_per_admission_growth",
    "admission_rate",
    "active_retired_ratio",
    "per_capita_spending_growth",
    "cross_region_outflow",
    "drg_outlier_share",
    "dip_outlier_share",
)


class National(Cited):
    balance_rate: dict[Code, Ratio]
    active_retired_ratio: Ratio
    admission_rate: dict[Code, Ratio]
    per_capita_spending: dict[Code, Fen]


class Care(Cited):
    outpatient: list[Code] = Field(min_length=1)
    inpatient: list[Code] = Field(min_length=1)
    remote_localities: list[str]


class Demo(Cited):
    opening_months: dict[Code, int]


class FundParams(Strict):
    format: Literal["yibao.fund/1"]
    sources: dict[str, Source]
    funds: list[FundAccount] = Field(min_length=1)
    months_payable: MonthsPayable
    interest: Interest
    warning: dict[str, Threshold]
    care: Care
    national: National
    demo: Demo
    top_n: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> FundParams:
        codes = [f.code for f in self.funds]
        if len(set(codes)) != len(codes):
            raise ValueError("基金编码重复 a fund code appears twice in 'funds'")
        missing = [k for k in INDICATORS if k not in self.warning]
        if missing:
            raise ValueError(f"缺少预警阈值 warning: thresholds missing for {', '.join(missing)}")
        unknown = [k for k in self.warning if k not in INDICATORS]
        if unknown:
            raise ValueError(f"预警指标不存在 warning: unknown indicator {unknown[0]!r}")
        return self

    def fund(self, code: str) -> FundAccount:
        for f in self.funds:
            if f.code == code:
                return f
        raise FundParamsError("funds", f"基金 {code} 未配置 fund {code} is not configured")

    def codes(self) -> list[str]:
        return [f.code for f in self.funds]


# ------------------------------------------------------------------------------------ contributions.yaml
class Employee(Cited):
    wage_base_monthly: dict[int, Fen]
    employer_rate: Ratio = Field(ge=0, le=10_000)
    individual_rate: Ratio = Field(ge=0, le=10_000)
    retiree_account_monthly: Fen
    large_amount_premium_yearly: Fen


class Resident(Cited):
    individual: dict[int, Fen]
    fiscal_subsidy: dict[int, Fen]
    critical_allocation_yearly: Fen


class Assistance(Cited):
    premium_subsidy: dict[str, Ratio]
    fiscal_per_assisted_yearly: Fen


Months = list[Annotated[int, Field(ge=1, le=12)]]


class Timing(Cited):
    employee_months: Months = Field(min_length=1)
    resident_individual_months: Months = Field(min_length=1)
    fiscal_subsidy_months: Months = Field(min_length=1)
    assistance_months: Months = Field(min_length=1)


class Contributions(Strict):
    format: Literal["yibao.fund-contributions/1"]
    sources: dict[str, Source]
    employee: Employee
    resident: Resident
    assistance: Assistance
    timing: Timing

    def wage_base(self, year: int, growth: int = 0) -> int:
        """Monthly contribution base for ``year`` (fen): the listed year, else the nearest listed year
        carried forward at ``growth`` (1/10000 a year, half up each year)."""
        return _carry(self.employee.wage_base_monthly, year, growth=growth)

    def resident_premium(self, year: int, step_individual: int = 0, step_subsidy: int = 0) -> tuple[int, int]:
        """(individual, fiscal subsidy) per resident for ``year`` (fen); beyond the table by fixed steps."""
        return (
            _carry(self.resident.individual, year, step=step_individual),
            _carry(self.resident.fiscal_subsidy, year, step=step_subsidy),
        )


def _carry(table: dict[int, int], year: int, *, growth: int = 0, step: int = 0) -> int:
    from yibao.money import apply_ratio

    if year in table:
        return table[year]
    known = sorted(table)
    if year < known[0]:
        return table[known[0]]
    value = table[known[-1]]
    for _ in range(year - known[-1]):
        value = apply_ratio(value, 10_000 + growth) + step
    return value


# --------------------------------------------------------------------------------------- projection.yaml
class Gompertz(Strict):
    a: Dec
    b: Dec


class Population(Cited):
    max_age: int = Field(ge=60, le=120)
    gompertz: dict[Literal["M", "F"], Gompertz]
    fertility_total: Dec
    fertility_ages: tuple[int, int]
    male_share_at_birth: Dec
    net_migration_yearly: Dec
    retirement_age: dict[Literal["M", "F"], int]
    employment_entry_age: int = Field(ge=14, le=40)
    employment_entry_share: Dec


class Costs(Cited):
    age_bands: list[int] = Field(min_length=1)
    credibility_person_years: int = Field(ge=0)
    unit_cost_trend: dict[Literal["outpatient", "inpatient"], Dec]
    utilisation_trend: dict[Literal["outpatient", "inpatient"], Dec]
    min_years_for_fit: int = Field(ge=2)
    trend_prior_sd: Dec
    seasonality_min_years: int = Field(ge=1)

    @model_validator(mode="after")
    def _bands(self) -> Costs:
        if self.age_bands[0] != 0 or sorted(set(self.age_bands)) != self.age_bands:
            raise ValueError("年龄段须从 0 开始逐段升高 age_bands must start at 0 and rise")
        return self


class IncomePath(Cited):
    wage_growth_yearly: Dec
    resident_subsidy_step_yearly: Fen
    resident_individual_step_yearly: Fen


class Simulation(Cited):
    paths: int = Field(ge=10, le=100_000)
    horizon_months: int = Field(ge=12, le=120)
    seed: int
    percentiles: list[int]
    sigma_floor: Dec
    trend_se_floor: Dec
    income_sigma: Dec


class PremiumIncrease(Strict):
    individual_yuan: Fen
    from_year_offset: int = Field(ge=0)


class EpidemicShock(Strict):
    start_month_offset: int = Field(ge=0)
    months: int = Field(ge=1)
    peak: Dec


class ScenarioDefaults(Cited):
    premium_increase: PremiumIncrease
    epidemic_shock: EpidemicShock


class Backtest(Cited):
    years: int = Field(ge=3)
    fit_years: int = Field(ge=2)
    seed: int
    unit_cost_trend_young: Dec
    unit_cost_trend_old: Dec
    utilisation_trend: Dec
    trend_break_year: int
    trend_break: Dec
    ar_phi: Dec
    sigma: Dec
    winter_amplitude: Dec

    @model_validator(mode="after")
    def _split(self) -> Backtest:
        if self.fit_years >= self.years:
            raise ValueError("拟合年份须至少留出一年用于检验 fit_years must leave at least one year to check")
        return self


class ProjectionParams(Strict):
    format: Literal["yibao.fund-projection/1"]
    sources: dict[str, Source]
    population: Population
    costs: Costs
    income: IncomePath
    simulation: Simulation
    scenarios: ScenarioDefaults
    backtest: Backtest


# ------------------------------------------------------------------------------------------- budget.yaml
class ClearingRules(Cited):
    savings_retained_share: Ratio = Field(ge=0, le=10_000)
    savings_retained_cap: Ratio = Field(ge=0, le=10_000)
    overspend_band: Ratio = Field(ge=0, le=10_000)
    overspend_fund_share: Ratio = Field(ge=0, le=10_000)


class BudgetParams(Cited):
    format: Literal["yibao.fund-budget/1"]
    sources: dict[str, Source]
    funds: list[Code] = Field(min_length=1)
    reserve_ratio: Ratio = Field(ge=0, le=10_000)
    history_weights: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    growth_cap: Ratio
    growth_floor: Ratio
    withholding: Ratio = Field(ge=0, le=10_000)
    clearing: ClearingRules

    @model_validator(mode="after")
    def _sane(self) -> BudgetParams:
        if self.growth_floor > self.growth_cap:
            raise ValueError("增长下限不得高于增长上限 growth_floor must not be above growth_cap")
        if sum(self.history_weights) == 0:
            raise ValueError("历史权重不得全为零 history_weights must not all be zero")
        return self


# ---------------------------------------------------------------------------------------------- loading
def _check_sources(data: Any, where: str = "") -> None:
    """Every ``source:`` value anywhere in the file must be a key of the top-level ``sources:``."""
    keys = set((data.get("sources") or {}).keys()) if isinstance(data, dict) else set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                p = f"{path}.{k}" if path else str(k)
                if k == "source" and isinstance(v, str) and v not in keys:
                    raise FundParamsError(
                        p, f"来源 {v!r} 未在 sources 中列出 source {v!r} is not a key of 'sources'"
                    )
                if k != "sources":
                    walk(v, p)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(data, where)


def parse(model: type[Strict], data: Any, name: str) -> Any:
    """Validate ``data`` as ``model``; errors name the path inside the file."""
    if not isinstance(data, dict):
        raise FundParamsError(name, "不是 YAML 映射 is not a YAML mapping")
    _check_sources(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise FundParamsError(f"{name}:{loc}" if loc else name, validation_reason(err)) from exc


def _read(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError as exc:
        raise FundParamsError(str(path), "文件不存在 file not found") from exc
    except yaml.YAMLError as exc:
        raise FundParamsError(str(path), f"YAML 无法解析 cannot parse: {exc}") from exc


@lru_cache(maxsize=8)
def load_params(path: Path = HERE / "params.yaml") -> FundParams:
    """Fund accounts, months-payable bands and warning thresholds."""
    result: FundParams = parse(FundParams, _read(path), path.name)
    return result


@lru_cache(maxsize=8)
def load_contributions(path: Path = HERE / "contributions.yaml") -> Contributions:
    """Contribution rates for the stand-in income booking (until enrolment books real income)."""
    result: Contributions = parse(Contributions, _read(path), path.name)
    return result


@lru_cache(maxsize=8)
def load_projection(path: Path = HERE / "projection.yaml") -> ProjectionParams:
    """Actuarial assumptions of the projection and the backtest."""
    result: ProjectionParams = parse(ProjectionParams, _read(path), path.name)
    return result


@lru_cache(maxsize=8)
def load_budget(path: Path = HERE / "budget.yaml") -> BudgetParams:
    """Global budget and clearing rules."""
    result: BudgetParams = parse(BudgetParams, _read(path), path.name)
    return result
