"""The enrolment policy file (``yibao.enrolment/1``): premiums, wage bases and rates, collection periods,
waiting periods, continuity incentives, assistance shares — every figure with its ``source``.

One file per region in ``yibao/enrolment/regions/``, matched to the region's benefit file by ``admdvs``.
Amounts are written in 元 and held as int fen, ratios as int in 1/10000 (as the region file,
docs/POLICY_FORMAT.md §1.1).  :func:`parse_policy` is pure (a mapping in, a policy out);
:func:`load_policy` and :func:`policy_for_admdvs` read files.  The format is documented in
docs/ENROLMENT.md §3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from yibao.errors import validation_reason
from yibao.money import parse_ratio, yuan_to_fen
from yibao.policy.loader import LoadedRegion, PolicyError, Problem
from yibao.policy.model import Source

FORMAT = "yibao.enrolment/1"
REGIONS_DIR = Path(__file__).parent / "regions"
REASON_CODES = (
    "not_enrolled",
    "not_paid",
    "suspended",
    "terminated",
    "transferred_out",
    "deceased",
    "waiting_period",
    "arrears",
    "retiree_years_short",
)

Fen = Annotated[int, BeforeValidator(lambda v: yuan_to_fen(v))]
SignedFen = Annotated[int, BeforeValidator(lambda v: yuan_to_fen(v, allow_negative=True))]
Ratio = Annotated[int, BeforeValidator(lambda v: parse_ratio(v))]
OverRatio = Annotated[int, BeforeValidator(lambda v: parse_ratio(v, allow_negative=True))]
Code = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Collection(_Strict):
    opens: dt.date
    closes: dt.date
    extended_to: dt.date | None = None

    @model_validator(mode="after")
    def _order(self) -> _Collection:
        if self.closes < self.opens:
            raise ValueError("截止日期不能早于开始日期 closes must not be before opens")
        if self.extended_to is not None and self.extended_to < self.closes:
            raise ValueError("延长日期不能早于截止日期 extended_to must not be before closes")
        return self


class _ResidentYear(_Strict):
    individual: Fen
    fiscal_subsidy: Fen
    collection: _Collection
    source: str
    collection_source: str


class _EmployeeYear(_Strict):
    average_wage: Fen = Field(description="monthly average wage the base floor and ceiling derive from")
    source: str


class _Year(_Strict):
    year: int = Field(ge=1990, le=2200)
    resident: _ResidentYear
    employee: _EmployeeYear


class _Arrears(_Strict):
    grace_months: int = Field(ge=0, le=24)
    source: str


class _Retirement(_Strict):
    required_months: dict[Literal["M", "F"], int]
    required_local_months: int = Field(ge=0)
    source: str


class _Employee(_Strict):
    base_floor: OverRatio
    base_ceiling: OverRatio
    employer_rate: Ratio
    individual_rate: Ratio
    account_share_of_individual: Ratio
    source: str
    arrears: _Arrears
    retirement: _Retirement


class _Newborn(_Strict):
    window_days: int = Field(ge=0, le=366)
    source: str


class _ResidentTypes(_Strict):
    child: Code
    adult: Code
    elderly: Code
    child_below_age: int = Field(ge=0, le=30)
    elderly_from_age: int = Field(ge=40, le=100)
    source: str


class _Resident(_Strict):
    critical_illness_share: Ratio
    source: str
    newborn: _Newborn
    person_types: _ResidentTypes


class _Floor(_Strict):
    lapsed_years: int = Field(ge=1)
    months: int = Field(ge=0)


class _Switch(_Strict):
    min_insured_years: int = Field(ge=0)
    max_gap_months: int = Field(ge=0)
    source: str


class _Waiting(_Strict):
    fixed_months: int = Field(ge=0, le=24)
    months_per_lapsed_year: int = Field(ge=0, le=12)
    months_repaired_per_year_paid: int = Field(ge=0, le=12)
    floor_after_long_lapse: _Floor | None = None
    exempt_identities: list[Code] = []
    scheme_switch: _Switch | None = None
    extended_collection_waits: bool = False
    source: str


class _Continuity(_Strict):
    after_years: int = Field(ge=0)
    per_year: Fen


class _ZeroClaim(_Strict):
    per_year: Fen


class _Incentives(_Strict):
    continuity: _Continuity
    zero_claim: _ZeroClaim
    max_share_of_cap: Ratio
    lapse_reduction_per_year: Fen = 0
    source: str


class _Assistance(_Strict):
    identities: list[Code] = Field(min_length=1)
    share: Ratio
    source: str


class _NotCovered(_Strict):
    self_pay: list[str] = []
    account_only_med_types: list[Code] = []
    source: str


class _Region(_Strict):
    admdvs: Code = Field(pattern=r"^\d{6}$")
    name: str


class _File(_Strict):
    format: Literal["yibao.enrolment/1"]
    region: _Region
    sources: dict[str, Source]
    years: list[_Year] = Field(min_length=1)
    employee: _Employee
    resident: _Resident
    waiting_period: _Waiting
    incentives: _Incentives
    assistance: list[_Assistance] = []
    not_covered: _NotCovered


# ----------------------------------------------------------------------------- the compiled policy
@dataclass(frozen=True, slots=True)
class CollectionPeriod:
    """集中征缴期 for one benefit year: ``opens``–``closes`` (inclusive); paying up to ``extended_to``
    (延长缴费期, inclusive) covers from the day paid without a waiting period unless the policy says so."""

    year: int
    opens: dt.date
    closes: dt.date
    extended_to: dt.date | None
    source: str


@dataclass(frozen=True, slots=True)
class ResidentYear:
    """Resident financing for a benefit year: individual premium and fiscal subsidy per head (fen)."""

    year: int
    individual_fen: int
    fiscal_subsidy_fen: int
    collection: CollectionPeriod
    source: str


@dataclass(frozen=True, slots=True)
class EmployeeYear:
    """Monthly average wage (fen) that bounds the contribution base in that calendar year."""

    year: int
    average_wage_fen: int
    source: str


@dataclass(frozen=True, slots=True)
class AssistanceRule:
    """资助参保: the assistance fund pays ``share`` (1/10000) of the individual premium for these identities."""

    identities: frozenset[str]
    share: int
    source: str


@dataclass(frozen=True, slots=True)
class EnrolmentPolicy:
    """Everything enrolment, contributions and eligibility read from policy (money fen, ratios 1/10000)."""

    admdvs: str
    name: str
    file: str
    sources: Mapping[str, Source]
    resident_years: Mapping[int, ResidentYear]
    employee_years: Mapping[int, EmployeeYear]
    # employee contributions
    base_floor: int
    base_ceiling: int
    employer_rate: int
    individual_rate: int
    account_share_of_individual: int
    employee_source: str
    arrears_grace_months: int
    arrears_source: str
    retirement_required_months: Mapping[str, int]
    retirement_required_local_months: int
    retirement_source: str
    # residents
    critical_illness_share: int
    resident_source: str
    newborn_window_days: int
    newborn_source: str
    resident_type_child: str
    resident_type_adult: str
    resident_type_elderly: str
    child_below_age: int
    elderly_from_age: int
    # waiting period (国办发〔2024〕38号)
    fixed_waiting_months: int
    months_per_lapsed_year: int
    months_repaired_per_year_paid: int
    long_lapse_years: int | None
    long_lapse_floor_months: int
    waiting_exempt_identities: frozenset[str]
    switch_min_insured_years: int | None
    switch_max_gap_months: int
    switch_source: str
    extended_collection_waits: bool
    waiting_source: str
    # continuity incentives (国办发〔2024〕38号)
    continuity_after_years: int
    continuity_per_year_fen: int
    zero_claim_per_year_fen: int
    incentive_max_share_of_cap: int
    lapse_reduction_per_year_fen: int
    incentives_source: str
    assistance: tuple[AssistanceRule, ...]
    self_pay_reasons: frozenset[str]
    account_only_med_types: frozenset[str]
    not_covered_source: str
    # from the region's benefit file (see bind_region): person types by group, identity codes
    in_service_types: frozenset[str] = frozenset()
    retired_types: frozenset[str] = frozenset()
    resident_types: frozenset[str] = frozenset()
    identity_codes: frozenset[str] = frozenset()

    def resident_year(self, year: int) -> ResidentYear | None:
        """The resident financing and collection period of benefit ``year`` (None: not in the file)."""
        return self.resident_years.get(year)

    def employee_year(self, year: int) -> EmployeeYear | None:
        """The average wage of calendar ``year``; the latest earlier year when the file has none for it."""
        if year in self.employee_years:
            return self.employee_years[year]
        earlier = [y for y in self.employee_years if y < year]
        return self.employee_years[max(earlier)] if earlier else None

    def assistance_share(self, identities: frozenset[str] | set[str]) -> tuple[int, str]:
        """(share of the individual premium the assistance fund pays, source) — first matching rule wins."""
        for rule in self.assistance:
            if rule.identities & identities:
                return rule.share, rule.source
        return 0, ""

    def cite(self, key: str) -> str:
        """The source's title for people (a rule's name and number), or the key when unknown."""
        s = self.sources.get(key)
        return s.title if s is not None else key


def _problem(err: Any) -> Problem:
    path = ""
    for part in err.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        msg = f"unknown key (not part of the {FORMAT} format)"
    return Problem(path, validation_reason({**err, "msg": msg}))


def parse_policy(raw: object, *, file: str = "<data>") -> EnrolmentPolicy:
    """Validate a parsed ``yibao.enrolment/1`` mapping and compile it; every problem names its path.

    Raises :class:`~yibao.policy.loader.PolicyError` listing every (path, reason) found."""
    if not isinstance(raw, dict):
        raise PolicyError(
            file,
            [
                Problem(
                    "", "文件顶层须为映射表（键: 值） the file must hold a mapping (key: value) at the top"
                )
            ],
        )
    try:
        f = _File.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(file, [_problem(e) for e in exc.errors()]) from exc
    problems: list[Problem] = []
    known = set(f.sources)

    def need(path: str, key: str) -> None:
        if key not in known:
            problems.append(
                Problem(path, f"未声明的出处 unknown source {key!r}; declared: {', '.join(sorted(known))}")
            )

    seen: set[int] = set()
    for i, y in enumerate(f.years):
        if y.year in seen:
            problems.append(Problem(f"years[{i}].year", f"年度重复 year {y.year} appears twice"))
        seen.add(y.year)
        need(f"years[{i}].resident.source", y.resident.source)
        need(f"years[{i}].resident.collection_source", y.resident.collection_source)
        need(f"years[{i}].employee.source", y.employee.source)
        c = y.resident.collection
        if not c.closes < dt.date(y.year, 12, 31):
            problems.append(
                Problem(
                    f"years[{i}].resident.collection.closes",
                    "集中缴费期须在待遇年度结束前截止 must be before the end of the benefit year",
                )
            )
    for path, key in (
        ("employee.source", f.employee.source),
        ("employee.arrears.source", f.employee.arrears.source),
        ("employee.retirement.source", f.employee.retirement.source),
        ("resident.source", f.resident.source),
        ("resident.newborn.source", f.resident.newborn.source),
        ("resident.person_types.source", f.resident.person_types.source),
        ("waiting_period.source", f.waiting_period.source),
        ("incentives.source", f.incentives.source),
        ("not_covered.source", f.not_covered.source),
    ):
        need(path, key)
    if f.waiting_period.scheme_switch is not None:
        need("waiting_period.scheme_switch.source", f.waiting_period.scheme_switch.source)
    for i, a in enumerate(f.assistance):
        need(f"assistance[{i}].source", a.source)
    for i, r in enumerate(f.not_covered.self_pay):
        if r not in REASON_CODES:
            problems.append(
                Problem(
                    f"not_covered.self_pay[{i}]",
                    f"未知的原因 unknown reason {r!r}; known: {', '.join(REASON_CODES)}",
                )
            )
    if f.employee.base_ceiling < f.employee.base_floor:
        problems.append(
            Problem("employee.base_ceiling", "缴费基数上限不能低于下限 must not be below base_floor")
        )
    if set(f.employee.retirement.required_months) != {"M", "F"}:
        problems.append(
            Problem("employee.retirement.required_months", "须同时给出男性和女性的月数 give both M and F")
        )
    if problems:
        raise PolicyError(file, problems)
    wp, inc, emp, res = f.waiting_period, f.incentives, f.employee, f.resident
    return EnrolmentPolicy(
        admdvs=f.region.admdvs,
        name=f.region.name,
        file=file,
        sources=dict(f.sources),
        resident_years={
            y.year: ResidentYear(
                y.year,
                y.resident.individual,
                y.resident.fiscal_subsidy,
                CollectionPeriod(
                    y.year,
                    y.resident.collection.opens,
                    y.resident.collection.closes,
                    y.resident.collection.extended_to,
                    y.resident.collection_source,
                ),
                y.resident.source,
            )
            for y in f.years
        },
        employee_years={
            y.year: EmployeeYear(y.year, y.employee.average_wage, y.employee.source) for y in f.years
        },
        base_floor=emp.base_floor,
        base_ceiling=emp.base_ceiling,
        employer_rate=emp.employer_rate,
        individual_rate=emp.individual_rate,
        account_share_of_individual=emp.account_share_of_individual,
        employee_source=emp.source,
        arrears_grace_months=emp.arrears.grace_months,
        arrears_source=emp.arrears.source,
        retirement_required_months={str(k): v for k, v in emp.retirement.required_months.items()},
        retirement_required_local_months=emp.retirement.required_local_months,
        retirement_source=emp.retirement.source,
        critical_illness_share=res.critical_illness_share,
        resident_source=res.source,
        newborn_window_days=res.newborn.window_days,
        newborn_source=res.newborn.source,
        resident_type_child=res.person_types.child,
        resident_type_adult=res.person_types.adult,
        resident_type_elderly=res.person_types.elderly,
        child_below_age=res.person_types.child_below_age,
        elderly_from_age=res.person_types.elderly_from_age,
        fixed_waiting_months=wp.fixed_months,
        months_per_lapsed_year=wp.months_per_lapsed_year,
        months_repaired_per_year_paid=wp.months_repaired_per_year_paid,
        long_lapse_years=wp.floor_after_long_lapse.lapsed_years if wp.floor_after_long_lapse else None,
        long_lapse_floor_months=wp.floor_after_long_lapse.months if wp.floor_after_long_lapse else 0,
        waiting_exempt_identities=frozenset(wp.exempt_identities),
        switch_min_insured_years=wp.scheme_switch.min_insured_years if wp.scheme_switch else None,
        switch_max_gap_months=wp.scheme_switch.max_gap_months if wp.scheme_switch else 0,
        switch_source=wp.scheme_switch.source if wp.scheme_switch else "",
        extended_collection_waits=wp.extended_collection_waits,
        waiting_source=wp.source,
        continuity_after_years=inc.continuity.after_years,
        continuity_per_year_fen=inc.continuity.per_year,
        zero_claim_per_year_fen=inc.zero_claim.per_year,
        incentive_max_share_of_cap=inc.max_share_of_cap,
        lapse_reduction_per_year_fen=inc.lapse_reduction_per_year,
        incentives_source=inc.source,
        assistance=tuple(AssistanceRule(frozenset(a.identities), a.share, a.source) for a in f.assistance),
        self_pay_reasons=frozenset(f.not_covered.self_pay),
        account_only_med_types=frozenset(f.not_covered.account_only_med_types),
        not_covered_source=f.not_covered.source,
    )


def bind_region(policy: EnrolmentPolicy, loaded: LoadedRegion) -> EnrolmentPolicy:
    """The policy with the region's person types and identities (the benefit file is their one home);
    refuses a region of another ``admdvs`` or identities the region does not declare."""
    r = loaded.region
    if r.region.admdvs != policy.admdvs:
        raise PolicyError(
            policy.file,
            [
                Problem(
                    "region.admdvs",
                    f"与地区文件的区划不一致 {policy.admdvs} does not match the region file's {r.region.admdvs}",
                )
            ],
        )
    idents = frozenset(x.code for x in r.identities)
    problems = [
        Problem(
            "waiting_period.exempt_identities",
            f"地区文件未声明该身份 identity {c!r} is not declared in {loaded.file}",
        )
        for c in sorted(policy.waiting_exempt_identities - idents)
    ] + [
        Problem(
            f"assistance[{i}].identities",
            f"地区文件未声明该身份 identity {c!r} is not declared in {loaded.file}",
        )
        for i, a in enumerate(policy.assistance)
        for c in sorted(a.identities - idents)
    ]
    res_types = {pt.code for pt in r.person_types if pt.group == "resident"}
    for key in ("child", "adult", "elderly"):
        code = getattr(policy, f"resident_type_{key}")
        if code not in res_types:
            problems.append(
                Problem(
                    f"resident.person_types.{key}",
                    f"不是地区文件中的居民人员类别 {code!r} is not a resident person type of {loaded.file}",
                )
            )
    if problems:
        raise PolicyError(policy.file, problems)

    def group(g: str) -> frozenset[str]:
        return frozenset(pt.code for pt in r.person_types if pt.group == g)

    return replace(
        policy,
        in_service_types=group("in_service"),
        retired_types=group("retired"),
        resident_types=group("resident"),
        identity_codes=idents,
    )


def policy_for_region(loaded: LoadedRegion) -> EnrolmentPolicy | None:
    """The shipped enrolment policy of a loaded region, bound to it (None when the region has none)."""
    p = policy_for_admdvs(loaded.region.region.admdvs)
    return bind_region(p, loaded) if p is not None else None


def load_policy(path: str | Path) -> EnrolmentPolicy:
    """Read and compile an enrolment policy file (YAML); errors name the file, the path and the reason."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            str(p), [Problem("", f"无法读取文件 cannot read file: {exc.strerror or exc}")]
        ) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(str(p), [Problem("", f"不是有效的 YAML not valid YAML: {exc}")]) from exc
    return parse_policy(raw, file=str(p))


def policy_path_for_admdvs(admdvs: str) -> Path | None:
    """The shipped enrolment file whose ``region.admdvs`` is ``admdvs`` (None when there is none)."""
    for p in sorted(REGIONS_DIR.glob("*.yaml")):
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and str((raw.get("region") or {}).get("admdvs")) == admdvs:
            return p
    return None


def policy_for_admdvs(admdvs: str) -> EnrolmentPolicy | None:
    """The shipped enrolment policy of region ``admdvs``, or None."""
    p = policy_path_for_admdvs(admdvs)
    return load_policy(p) if p is not None else None


def example_policy(name: str) -> EnrolmentPolicy:
    """A shipped example (``xian``, ``weinan``), or a file path."""
    p = Path(name)
    if not p.exists():
        p = REGIONS_DIR / f"{name}.yaml"
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in REGIONS_DIR.glob("*.yaml")))
        raise PolicyError(
            name, [Problem("", f"没有该参保登记政策 no enrolment policy {name!r}; known: {known}")]
        )
    return load_policy(p)
