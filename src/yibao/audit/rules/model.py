"""The rule library as data: each rule's code, class, kind of check, parameters, knowledge tables and source.

:func:`load_library` reads a YAML file (default: the EXAMPLE ``library.yaml`` beside this module) and
validates it with pydantic; a bad rule raises :class:`RuleError` naming ``rules[i].field``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from yibao.errors import FieldError, validation_reason

Moment = Literal["before", "during", "after"]
Severity = Literal["block", "flag", "warn"]
RuleClass = Literal["政策", "管理", "医疗", "统计"]


class RuleError(FieldError):
    """A rule library that cannot be used."""


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_P):
    pass


class AgeParams(_P):
    age_basis: Literal["visit_date"] = "visit_date"


class LevelParams(_P):
    level_order: tuple[str, ...] = Field(min_length=1)


class InpatientParams(_P):
    inpatient_types: tuple[str, ...] = ("21",)


class SupplyParams(_P):
    max_days: dict[str, int]  # med_type -> days of supply allowed
    # med_type -> days allowed when the principal diagnosis is a long-term condition of the knowledge table
    # ``long_term_dx`` (长期处方: chronic and elderly conditions may be prescribed for longer)
    long_term_days: dict[str, int] = {}
    # days a person on the 门慢门特 register (knowledge table registered_conditions) may be supplied at once
    registered_days: int = Field(default=84, ge=1)
    # visit types settled only for persons on that register (门慢门特): such a visit is itself proof of it
    registered_types: tuple[str, ...] = ("14",)
    # whole packs: a quantity within this many packs (knowledge table item_pack) above the days' need passes
    pack_tolerance: int = Field(default=1, ge=0)

    @field_validator("max_days", "long_term_days")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        if any(d <= 0 for d in v.values()):
            raise ValueError("天数须为正数 days must be positive")
        return v


class PriceParams(_P):
    tolerance_bp: int = Field(ge=0, le=100_000)  # allowed upward float, 1/10000


class SplitAdmissionParams(_P):
    window_days: int = Field(ge=0)
    dx_chars: int = Field(ge=1, le=7)
    inpatient_types: tuple[str, ...] = ("21",)
    # a readmission after a course stay (knowledge table course_markers) at least the course's
    # min_gap_days later is the next cycle, not a split
    course_exempt: bool = True


class DoseParams(_P):
    pack_tolerance: int = Field(default=1, ge=0)  # packs above the stated days' need that still pass


class BedParams(_P):
    inpatient_types: tuple[str, ...] = ("21",)
    bed_prefixes: tuple[str, ...] = Field(min_length=1)
    per_day_prefixes: tuple[str, ...] = Field(min_length=1)
    care_codes: tuple[str, ...] = Field(min_length=1)
    min_empty_days: int = Field(ge=1)


class IdleStayParams(_P):
    inpatient_types: tuple[str, ...] = ("21",)
    # care_markers kinds whose billing on a day shows the patient was treated that day; the daily ward round
    # (kind consultation) is billed with the bed and does not by itself show treatment
    care_kinds: tuple[str, ...] = Field(default=("medication", "test", "treatment"), min_length=1)
    # the fees a bed bills every day whether or not anything is done (bed, nursing grade, ward round)
    per_day_prefixes: tuple[str, ...] = Field(min_length=1)
    min_idle_days: int = Field(ge=1)
    min_idle_share_bp: int = Field(ge=0, le=10_000)  # idle days / stay days, 1/10000
    # idle days after the stay's last care day (a stay kept open once care stopped), in days and as a share
    # of the stay (1/10000): items a stay bills once are dated on any one of its days, so idle days
    # scattered through a stay are ordinary
    min_tail_days: int = Field(default=0, ge=0)
    min_tail_share_bp: int = Field(default=0, ge=0, le=10_000)


class ElsewhereParams(_P):
    inpatient_types: tuple[str, ...] = ("21",)
    # days after admission (and before discharge) a visit elsewhere must fall to count: the admission and
    # discharge days are travel days
    margin_days: int = Field(default=1, ge=0)


class RepeatSupplyParams(_P):
    # visit types whose drugs are taken home (outpatient, 门慢门特, pharmacy): inpatient drugs are given on the ward
    visit_types: tuple[str, ...] = Field(min_length=1)
    # days of the drug still on hand, at its largest daily dose, that a new purchase may come on top of
    grace_days: int = Field(ge=0)
    # distinct institutions the person obtained the drug from in the period (1: any)
    min_institutions: int = Field(default=1, ge=1)
    # a supply lasts the days its prescription states (2204 ``prd_days``) when it states them, else its units
    # at the largest daily dose
    stated_days: bool = True
    # flag the supplies that built the excess too: those of the run (from the last supply made with nothing on
    # hand) up to its last supply made while more than grace_days were on hand — together they are the excess
    whole_run: bool = True
    # whole packs a supply may hold beyond its need (dispensing whole packs is not over-supply): each supply
    # counts this many packs (item_pack ``pack_units_q``) fewer units
    pack_tolerance: int = Field(default=1, ge=0)
    # days supplied over the days from the first supply to the end of the last (medication possession
    # ratio, 1/10000) the person must reach: a burst of supplies followed by a gap is not a stock built up
    min_possession_bp: int = Field(default=0, ge=0)
    # the daily dose a supply is consumed at: ``largest`` (item_pack / supply, the 说明书 usual dose's upper
    # end) or ``usual`` (the region's median daily units of the drug — quantity / stated days over its
    # take-home lines that state days — never above the largest; the largest when fewer than
    # ``min_dose_lines`` lines state days)
    dose: Literal["largest", "usual"] = "largest"
    min_dose_lines: int = Field(default=30, ge=1)
    # supplies of the drug the person must have had in the period (a stock kept up, not one burst)
    min_supplies: int = Field(default=1, ge=1)
    # persons (the person included) whose stock of the same drug passed the checks and who were supplied
    # at a common institution (回流药 rings: several card holders collecting one drug at the same places)
    min_ring: int = Field(default=1, ge=1)


class DeathParams(_P):
    grace_days: int = Field(ge=0)
    infer_from_discharge: bool = True


class ImagingParams(_P):
    floor_bp: dict[str, int]  # modality -> minimum positive rate, 1/10000
    min_exams: int = Field(ge=1)


class RxValidityParams(_P):
    # days an e-prescription stays valid counted from its issue day (the issue day is day 0): dispensed on
    # day ``valid_days`` or later, or before it was issued, it has expired
    valid_days: int = Field(ge=1)


PARAMS: dict[str, type[_P]] = {
    "sex_restriction": NoParams,
    "age_restriction": AgeParams,
    "level_restriction": LevelParams,
    "indication": NoParams,
    "course_admission": NoParams,
    "course_year": NoParams,
    "duplicate_line": NoParams,
    "duplicate_pair": NoParams,
    "frequency_day": InpatientParams,
    "frequency_period": NoParams,
    "over_supply": SupplyParams,
    "over_price": PriceParams,
    "split_item": NoParams,
    "split_admission": SplitAdmissionParams,
    "bed_hanging": BedParams,
    "after_death": DeathParams,
    "idle_stay": IdleStayParams,
    "stay_elsewhere": ElsewhereParams,
    "repeat_supply": RepeatSupplyParams,
    "imaging_positive_rate": ImagingParams,
    "title_grade": NoParams,
    "dose_days": DoseParams,
    "rx_validity": RxValidityParams,
    "rx_once": NoParams,
    "rx_prescriber": NoParams,
}
RX_KINDS = frozenset(
    {"rx_validity", "rx_once", "rx_prescriber"}
)  # read the visit's e-prescription (Visit.rx)
SINGLE_VISIT = frozenset(
    {
        "sex_restriction",
        "age_restriction",
        "level_restriction",
        "indication",
        "course_admission",
        "duplicate_line",
        "duplicate_pair",
        "frequency_day",
        "over_supply",
        "over_price",
        "split_item",
        "bed_hanging",
        "after_death",
        "title_grade",
        "dose_days",
        *RX_KINDS,
    }
)  # kinds that need only the visit itself (and the death register): allowed in settlement


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^(GZ|ZB)-[A-Z0-9]+-\d{3,14}$")
    name_zh: str
    name_en: str
    rule_class: RuleClass
    kind: str
    severity: Severity
    moments: tuple[Moment, ...] = Field(min_length=1)
    knowledge: tuple[str, ...] = ()
    params: Any = Field(default=None, validate_default=True)
    source: str = Field(min_length=3)
    enabled: bool = True

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in PARAMS:
            raise ValueError(f"未知的规则类型 unknown kind {v!r}; known: {sorted(PARAMS)}")
        return v

    @field_validator("params")
    @classmethod
    def _params(cls, v: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind is None:
            return v
        try:
            return PARAMS[kind].model_validate(v or {})
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{'.'.join(str(x) for x in err['loc'])}: {validation_reason(err)}") from None

    def model_post_init(self, __context: Any) -> None:
        if "during" in self.moments and self.kind not in SINGLE_VISIT:
            raise ValueError(
                f"该类规则需要历史数据，不能在结算时运行 kind {self.kind} needs history and cannot run during settlement"
            )
        if self.code.startswith("ZB") != (self.rule_class == "统计"):
            raise ValueError(
                "ZB 编码恰为统计类规则 ZB codes are exactly the 统计 (statistical indicator) rules"
            )


class Library(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    source: str
    rules: tuple[Rule, ...]

    def model_post_init(self, __context: Any) -> None:
        codes = [r.code for r in self.rules]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"规则编码重复 duplicate rule code {sorted(dup)[0]}")

    def active(self, moment: Moment | None = None) -> tuple[Rule, ...]:
        """Enabled rules, optionally only those that run at ``moment``."""
        return tuple(r for r in self.rules if r.enabled and (moment is None or moment in r.moments))

    def by_code(self, code: str) -> Rule:
        for r in self.rules:
            if r.code == code:
                return r
        raise RuleError("rule_code", f"规则库中没有该规则 no rule {code!r} in library {self.version}")


def library_path() -> Path:
    return Path(str(resources.files("yibao.audit.rules") / "library.yaml"))


def parse_library(data: Any) -> Library:
    """Validate an already-parsed YAML document; errors name the offending ``rules[i].field``."""
    try:
        return Library.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
        raise RuleError(where or "library", validation_reason(err)) from None


def load_library(path: str | Path | None = None) -> Library:
    """Read and validate a rule library YAML (default: the shipped EXAMPLE library)."""
    p = Path(path) if path is not None else library_path()
    return parse_library(yaml.safe_load(p.read_text(encoding="utf-8")))
