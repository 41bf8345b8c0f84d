"""The payment policy file (``yibao.payment/1``): every number a bureau sets for DRG / DIP payment.

Amounts are written in 元 as decimal strings and held as integer fen; ratios and multiples are written as
decimals (``"0.05"``, ``"1.5"``) and held as integers in 1/10000 (``yibao.money.RATIO_ONE``).  Every
parameter block carries ``source:``, a key of ``sources:`` (validated), so no number is uncited.
Documented for analysts in docs/PAYMENT.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from yibao.errors import FieldError, validation_reason
from yibao.money import RATIO_ONE, parse_ratio, yuan_to_fen

EXAMPLES_DIR = Path(__file__).parent / "examples"


def _multiple(v: object) -> int:
    """A non-negative decimal that may exceed 1 (a coefficient or a multiple), in 1/10000."""
    units = parse_ratio(v, allow_negative=True)
    if units < 0:
        raise ValueError(f"不得为负数 {v!r} is negative")
    return units


Fen = Annotated[int, BeforeValidator(lambda v: yuan_to_fen(v))]
Ratio = Annotated[int, BeforeValidator(lambda v: parse_ratio(v))]
Multiple = Annotated[int, BeforeValidator(_multiple)]
Code = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
]


class PaymentPolicyError(FieldError):
    """A payment policy that cannot be used; ``field`` is the path inside the file."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason, "payment_policy")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a parameter comes from; ``tag``: V read in an official text, T third-party compilation, M a lead to check, X illustrative."""

    title: str
    url: str | None = None
    tag: Literal["V", "T", "M", "X"]
    note: str | None = None


class Cited(Strict):
    source: str = Field(min_length=1, description="key of `sources:`")


class LevelCoefficient(Cited):
    level: Code = Field(min_length=1, description="hosp_lv code (医院等级)")
    coefficient: Multiple


class LevelBasis(Cited):
    """Where level coefficients come from: the listed values, or each level's history cost ratio.

    ``history``: coefficient of a level = Σ its cases' cost / Σ their group mean cost over the weighting
    years (1/10000, half up); a level without history keeps its listed value.
    """

    basis: Literal["fixed", "history"]


class InstitutionCoefficient(Cited):
    fixmedins_code: Code = Field(min_length=1)
    coefficient: Multiple


class Budget(Cited):
    """The year's pool: a fixed amount, or last year's total inpatient cost × (1 + growth) (CHS-DRG 点数法)."""

    basis: Literal["amount", "last_year_growth"]
    amount: Fen | None = Field(default=None, description="元; with basis=amount")
    growth: Annotated[int, BeforeValidator(lambda v: parse_ratio(v, allow_negative=True))] | None = None
    reimbursement_ratio: Ratio | None = Field(
        default=None, description="if set, `amount` is the fund and the pool is amount / ratio (DIP 结算点值)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Budget:
        if self.basis == "amount" and self.amount is None:
            raise ValueError("按金额确定预算须提供金额 basis 'amount' needs 'amount'")
        if self.basis == "last_year_growth" and self.growth is None:
            raise ValueError("按上年增长确定预算须提供增长率 basis 'last_year_growth' needs 'growth'")
        if self.reimbursement_ratio == 0:
            raise ValueError("报销比例须大于 0 reimbursement_ratio must be above 0")
        return self


class YearWeights(Cited):
    """Weights of the history years, oldest → newest (DIP: 1:2:7)."""

    weights: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> YearWeights:
        if sum(self.weights) == 0:
            raise ValueError("权重不得全为零 weights must not all be zero")
        return self


class PreSettlement(Cited):
    withholding: Ratio = Field(
        description="share of each monthly pre-settlement withheld until clearing (质量保证金)"
    )


class Trim(Cited):
    """Which cases calibrate a group's mean cost: IQR fences or a band around the group mean."""

    method: Literal["iqr", "mean_band", "none"]
    k: Multiple | None = Field(default=None, description="iqr: keep cost within [Q1 − k·IQR, Q3 + k·IQR]")
    low: Multiple | None = Field(default=None, description="mean_band: keep cost ≥ low × mean")
    high: Multiple | None = Field(default=None, description="mean_band: keep cost ≤ high × mean")
    min_cases: int = Field(default=4, ge=1, description="groups with fewer cases are not trimmed")

    @model_validator(mode="after")
    def _params(self) -> Trim:
        if self.method == "iqr" and self.k is None:
            raise ValueError("四分位法须提供 k 值 method 'iqr' needs 'k'")
        if self.method == "mean_band" and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError("均值区间法须满足下限 ≤ 上限 method 'mean_band' needs 'low' ≤ 'high'")
        return self


class HighTier(Strict):
    max_points: Multiple | None = Field(
        default=None, description="tier applies while base points ≤ this; last tier open"
    )
    multiple: Multiple


class HighOutlier(Cited):
    """高倍率: cost ≥ multiple × group mean (the multiple by base-point tier); excess paid at `excess_share`."""

    tiers: list[HighTier] = Field(min_length=1)
    excess_share: Multiple = RATIO_ONE

    @model_validator(mode="after")
    def _ordered(self) -> HighOutlier:
        if self.tiers[-1].max_points is not None:
            raise ValueError("最后一档须不设上限 the last tier must be open (no max_points)")
        bounds = [t.max_points for t in self.tiers[:-1]]
        if any(b is None for b in bounds) or bounds != sorted(bounds):  # type: ignore[type-var]
            raise ValueError(
                "各档点数上限须递增，仅最后一档不设上限 tiers must have increasing max_points, only the last open"
            )
        return self


class LowOutlier(Cited):
    """低倍率: cost ≤ multiple × group mean → paid in proportion to actual cost."""

    multiple: Multiple


class PointsPerRw(Cited):
    value: int = Field(gt=0, description="points for RW 1 (often 100)")


class DrgPolicy(Strict):
    points_per_rw: PointsPerRw
    calibration: Trim
    high_outlier: HighOutlier
    low_outlier: LowOutlier
    year_weights: YearWeights | None = None


class CoreThreshold(Cited):
    cases: int = Field(
        ge=1, description="a (diagnosis × procedure) combination with ≥ this many cases is a core group"
    )


class DiagnosisKey(Cited):
    core_chars: int = Field(
        ge=1, description="leading characters of the dot-less ICD-10 code for core groups"
    )
    comprehensive_chars: int = Field(ge=1, description="leading characters for comprehensive groups")


class DiagnosticProcedures(Cited):
    prefixes: list[str] = Field(description="ICD-9-CM-3 code prefixes treated as diagnostic (诊断性操作)")


class Deviation(Cited):
    """DIP 偏差病例 (DIP 技术规范): below `low` × reference → cost ratio; above `high` → extra points."""

    low: Multiple
    high: Multiple
    review: Multiple

    @model_validator(mode="after")
    def _ordered(self) -> Deviation:
        if not self.low < self.high < self.review:
            raise ValueError("须满足低 < 高 < 复核阈值 need low < high < review")
        return self


class DipPolicy(Strict):
    points_per_rw: PointsPerRw
    core_threshold: CoreThreshold
    diagnosis_key: DiagnosisKey
    diagnostic_procedures: DiagnosticProcedures
    deviation: Deviation
    year_weights: YearWeights


class PaymentPolicy(Strict):
    """One pooling area's DRG / DIP payment parameters for one year."""

    format: Literal["yibao.payment/1"]
    name: str
    name_en: str
    year: int = Field(ge=2000, le=2100)
    sources: dict[str, Source]
    levels: list[LevelCoefficient] = Field(min_length=1)
    level_basis: LevelBasis | None = None
    institution_coefficients: list[InstitutionCoefficient] = []
    budget: Budget
    pre_settlement: PreSettlement
    drg: DrgPolicy | None = None
    dip: DipPolicy | None = None

    @model_validator(mode="after")
    def _levels_once(self) -> PaymentPolicy:
        seen: set[str] = set()
        for lv in self.levels:
            if lv.level in seen:
                raise ValueError(f"医院等级重复 levels: level {lv.level!r} given twice")
            seen.add(lv.level)
        return self

    def level_coefficients(self) -> dict[str, int]:
        return {lv.level: lv.coefficient for lv in self.levels}

    def institution_overrides(self) -> dict[str, int]:
        return {x.fixmedins_code: x.coefficient for x in self.institution_coefficients}


def _citations(obj: BaseModel, path: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(obj, Cited):
        out.append((path or "<root>", obj.source))
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, v in items:
            if isinstance(v, BaseModel) and not isinstance(v, Source):
                sub = f"{path}.{name}" if path else name
                out.extend(_citations(v, sub if i is None else f"{sub}.{i}"))
    return out


def check_citations(policy: PaymentPolicy) -> None:
    """Every ``source:`` must be a key of ``sources:`` — no uncited number."""
    for path, key in _citations(policy):
        if key not in policy.sources:
            raise PaymentPolicyError(f"{path}.source", f"出处不在来源表中 {key!r} is not a key of sources")


def example_policy_path(name: str) -> Path:
    """A shipped example (``demo``) by name, or a path that exists."""
    p = Path(name)
    if p.exists():
        return p
    q = EXAMPLES_DIR / f"{name}.yaml"
    if not q.exists():
        known = sorted(x.stem for x in EXAMPLES_DIR.glob("*.yaml"))
        raise FileNotFoundError(
            f"支付政策不存在 no payment policy {name!r}; shipped examples: {', '.join(known)}"
        )
    return q


def parse_policy(raw: Any) -> PaymentPolicy:
    """Validate a parsed YAML mapping; the first problem becomes a PaymentPolicyError naming its path."""
    try:
        policy = PaymentPolicy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise PaymentPolicyError(where, validation_reason(err)) from exc
    check_citations(policy)
    return policy


def load_policy(path: str | Path) -> PaymentPolicy:
    """Load and validate a payment policy YAML file (or a shipped example name)."""
    p = example_policy_path(str(path))
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PaymentPolicyError(str(p), f"无法读取文件 cannot read file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise PaymentPolicyError(str(p), f"不是有效的 YAML not valid YAML: {exc}") from exc
    return parse_policy(raw)
