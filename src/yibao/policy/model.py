"""The region file's schema (pydantic models).  Documented for analysts in docs/POLICY_FORMAT.md.

Amounts are written in 元 as decimal strings and held as integer fen; ratios are written as decimals
("0.85") or percentages ("85%") and held as integers in 1/10000.  Floats are refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from yibao.money import parse_ratio, yuan_to_fen

Fen = Annotated[int, BeforeValidator(lambda v: yuan_to_fen(v))]
Ratio = Annotated[int, BeforeValidator(lambda v: parse_ratio(v))]
SignedRatio = Annotated[int, BeforeValidator(lambda v: parse_ratio(v, allow_negative=True))]
Code = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
]

PersonGroup = Literal["in_service", "retired", "resident"]
# local; remote_longterm: filed as a long-term resident elsewhere (异地长期居住/安置退休/常驻异地工作);
# remote_filed: a temporary visitor filed (转诊, 其他临时外出) or an emergency; remote_unfiled: not filed.
Locality = Literal["local", "remote_longterm", "remote_filed", "remote_unfiled"]
RemoteLocality = Literal["remote_longterm", "remote_filed", "remote_unfiled"]
LOCALITIES: tuple[Locality, ...] = ("local", "remote_longterm", "remote_filed", "remote_unfiled")
WILDCARD = "*"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a parameter comes from; ``tag``: V read in an official text, T third-party compilation, M a lead
    to check, A an assumed figure (chosen by the file's author where the text gives a range or nothing, e.g. the
    midpoint of "1–2万"; the ``note`` must say what was assumed), X illustrative."""

    title: str
    url: str | None = None
    tag: Literal["V", "T", "M", "A", "X"]
    note: str | None = None


class RegionInfo(Strict):
    admdvs: Code = Field(pattern=r"^\d{6}$", description="区划代码 (6 digits)")
    name: str
    name_en: str


class CodeName(Strict):
    code: Code = Field(min_length=1)
    name: str
    name_en: str


class PersonType(CodeName):
    scheme: Code = Field(description="insutype the person type belongs to (310 / 390)")
    group: PersonGroup


class Scheme(CodeName):
    """A basic scheme: 310 职工 or 390 居民 (insutype)."""

    has_account: bool = False


class DeductibleRow(Strict):
    level: Code = WILDCARD
    person_type: Code = WILDCARD
    amount: Fen


class RepeatAdmission(Strict):
    """Later admissions in the same year: a fixed schedule, a linear stepped reduction with a floor
    (``step``: n-th later admission pays full × (1 − n × step)), or a compounding one (``compound``: each
    later admission pays the previous one's deductible × compound, rounded to the fen; ``floor`` optional)."""

    schedule: list[Ratio] | None = Field(
        default=None, description="factor on the level amount for the 1st, 2nd … admission of the year"
    )
    step: Ratio | None = None
    compound: Ratio | None = None
    floor: Fen | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RepeatAdmission:
        kinds = [k for k in ("schedule", "step", "compound") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "须提供 schedule、step（带 floor）或 compound 之一 "
                "give either 'schedule' or 'step' (with 'floor') or 'compound': exactly one of them"
            )
        if self.step is not None and self.floor is None:
            raise ValueError("step 须提供 floor 'step' needs a 'floor'")
        if self.schedule is not None and self.floor is not None:
            raise ValueError(
                "floor 只能与 step 或 compound 同用 'floor' goes with 'step' or 'compound', not 'schedule'"
            )
        return self


class Deductible(Strict):
    basis: Literal["per_year", "per_admission", "none"]
    counter: str | None = None
    amounts: list[DeductibleRow] = Field(default_factory=list)
    repeat: RepeatAdmission | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Deductible:
        if self.basis != "none" and not self.amounts:
            raise ValueError("起付线须至少一行金额 a deductible needs at least one row in 'amounts'")
        if self.basis in ("per_year", "per_admission") and not self.counter:
            raise ValueError(
                f"起付线须指定年度累计计数器 basis {self.basis!r} needs a 'counter' (the yearly accumulator it uses)"
            )
        if self.repeat is not None and self.basis != "per_admission":
            raise ValueError("repeat 只适用于按次起付 'repeat' applies only to basis 'per_admission'")
        return self


class RatioRow(Strict):
    level: Code = WILDCARD
    person_type: Code = WILDCARD
    locality: Literal["*", "local", "remote_longterm", "remote_filed", "remote_unfiled"] = "*"
    ratio: Ratio
    source: str | None = None


class CapOverride(Strict):
    person_type: Code
    amount: Fen | None
    source: str | None = None


class Cap(Strict):
    counter: str
    amount: Fen | None = Field(description="annual payment limit; null = no cap")
    by_person_type: list[CapOverride] = Field(
        default_factory=list, description="e.g. a higher cap for retirees"
    )
    source: str | None = None


class Refusal(Strict):
    """Localities the region does not settle directly for this benefit (e.g. unfiled visitors): a visit
    sent with one of them is refused with a clear error instead of being settled at another ratio."""

    localities: list[RemoteLocality] = Field(min_length=1)
    source: str | None = None


class Benefit(Strict):
    """The basic pooled fund's benefit for one scheme and a set of visit types."""

    id: str
    scheme: Code
    visit_types: list[Code] = Field(min_length=1)
    fund_pay_type: Code = Field(pattern=r"^\d{6}$")
    deductible: Deductible
    ratios: list[RatioRow] = Field(min_length=1)
    locality_adjustment: dict[RemoteLocality, SignedRatio] = Field(default_factory=dict)
    refuse: Refusal | None = None
    cap: Cap
    source: str | None = None


class Segment(Strict):
    upto: Fen | None = Field(description="upper bound of the cumulative amount; null = no bound")
    ratio: Ratio
    source: str | None = None


class LayerTerms(Strict):
    deductible: Fen = 0
    segments: list[Segment] = Field(min_length=1)
    cap: Fen | None = None
    deductible_source: str | None = None
    cap_source: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> LayerTerms:
        prev = self.deductible
        for i, seg in enumerate(self.segments):
            last = i == len(self.segments) - 1
            if seg.upto is None and not last:
                raise ValueError(
                    f"只有最后一段可以不设上限 segments[{i}]: only the last segment may be open-ended"
                )
            if seg.upto is not None and seg.upto <= prev:
                raise ValueError(
                    f"分段上限须高于起付线和前一段 segments[{i}].upto must be above the deductible and the segment before it"
                )
            prev = seg.upto if seg.upto is not None else prev
        return self


class LayerVariant(LayerTerms):
    """Terms for persons holding one of ``identities`` (first matching variant wins)."""

    identities: list[Code] = Field(min_length=1)
    source: str | None = None


class LayerTilt(Strict):
    """A hardship tilt (困难群体倾斜) written as a rule on the layer's own terms: the deductible ×
    ``deductible_factor``, every segment's ratio + ``ratio_points`` (at most 100%), and the cap kept or
    removed — instead of typing the figures out in a variant.  Checked after the explicit ``variants``."""

    identities: list[Code] = Field(min_length=1)
    deductible_factor: Ratio = Field(default="1", validate_default=True)
    ratio_points: Ratio = Field(default="0", validate_default=True)
    cap: Literal["keep", "none"] = "keep"
    source: str | None = None


LayerField = Literal["hifmi_pay", "hifob_pay", "maf_pay", "cvlserv_pay", "hifes_pay", "oth_pay"]


class Layer(LayerTerms):
    """A fund that pays after the basic pool: 大病保险, 大额补助, 医疗救助, 公务员补助 …"""

    id: str
    name: str
    name_en: str
    fund_pay_type: Code = Field(pattern=r"^\d{6}$")
    field: LayerField
    schemes: list[Code] = Field(min_length=1)
    visit_types: list[Code] = Field(min_length=1)
    eligible_identities: list[Code] | None = None
    base: Literal["compliant_selfpay", "over_cap"]
    include_preselfpay: bool = False
    exclude_basic_deductible: bool = Field(
        default=False,
        description="compliant_selfpay only: leave the basic fund's deductible (起付线) paid on this visit "
        "out of the base, so only 合规自付 above it counts",
    )
    counter: str
    variants: list[LayerVariant] = Field(default_factory=list)
    tilts: list[LayerTilt] = Field(default_factory=list)
    source: str | None = None

    @model_validator(mode="after")
    def _base_options(self) -> Layer:
        if self.exclude_basic_deductible and self.base != "compliant_selfpay":
            raise ValueError(
                "exclude_basic_deductible 只适用于 compliant_selfpay 'exclude_basic_deductible' applies only to base 'compliant_selfpay'"
            )
        return self


class AccountFunding(Strict):
    in_service_rate: Ratio | None = None
    retiree_monthly: Fen | None = None
    source: str | None = None


class AccountRule(Strict):
    """个人账户: what it may pay for, where, and whether family members may use it (家庭共济)."""

    scheme: Code
    covers: list[Literal["in_scope", "out_of_scope"]] = Field(min_length=1)
    visit_types: list[Code] = Field(min_length=1)
    family_mutual_aid: bool = False
    funding: AccountFunding = AccountFunding()
    source: str | None = None


class Version(Strict):
    id: str
    effective_from: dt.date
    effective_to: dt.date
    benefits: list[Benefit] = Field(default_factory=list)
    layers: list[Layer] = Field(default_factory=list)
    accounts: list[AccountRule] = Field(default_factory=list)
    catalogue: str | None = Field(
        default=None, description="catalogue file for this version, else the region's"
    )


class SettlementDate(Strict):
    """Which date of a stay picks the policy version and the accumulator year: ``admission`` (the begin
    date, the default) or ``discharge`` (the end date), as the region's rules say."""

    basis: Literal["admission", "discharge"]
    source: str | None = None


class Region(Strict):
    format: Literal["yibao.policy/1"]
    region: RegionInfo
    settlement_date: SettlementDate = SettlementDate(basis="admission")
    sources: dict[str, Source] = Field(min_length=1)
    schemes: list[Scheme] = Field(min_length=1)
    person_types: list[PersonType] = Field(min_length=1)
    identities: list[CodeName] = Field(default_factory=list)
    hospital_levels: list[CodeName] = Field(min_length=1)
    visit_types: list[CodeName] = Field(min_length=1)
    catalogue: str
    versions: list[Version] = Field(min_length=1)
