"""The grouping-scheme format: pydantic models of a scheme file (see docs/DRG.md).

A scheme is pure data.  Everything a grouper decides — which MDC a principal diagnosis opens, which
procedures count as operating-room (OR) or non-OR, which ADRG a procedure or diagnosis selects, how an
ADRG splits by complication level, which secondary diagnoses are CC / MCC and which principal
diagnoses exclude them — is read from here, never from code.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["or", "non_or", "medical"]
SeverityKey = Literal["MCC", "CC", "NONE", "ALL"]
Discharge = Literal["death", "alive", "transfer", "against_advice", "death_or_transfer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a table or figure comes from (``source:`` citation) and under which licence."""

    what: str
    source: str
    licence: str = ""
    # official: read in the published text; to_check: a document named by number, not yet checked against it;
    # illustrative: written for yibao
    basis: Literal["official", "to_check", "illustrative"] = "official"


class DistinctGroups(_Strict):
    """At least ``min`` different groups among the principal and secondary diagnoses (e.g. MS-DRG MDC 24:
    two significant trauma diagnoses from different body sites)."""

    min: int = Field(ge=1)
    groups: dict[str, list[str]]


class Conditions(_Strict):
    """Extra conditions on a case; every condition given must hold (inclusive bounds)."""

    sex: Literal["M", "F"] | None = None
    age_min: int | None = Field(None, ge=0, le=150)
    age_max: int | None = Field(None, ge=0, le=150)
    age_days_min: int | None = Field(None, ge=0)
    age_days_max: int | None = Field(None, ge=0)
    weight_g_min: int | None = Field(None, ge=0)
    weight_g_max: int | None = Field(None, ge=0)
    los_min: int | None = Field(None, ge=0)
    los_max: int | None = Field(None, ge=0)
    discharge: Discharge | None = None
    pdx: list[str] | None = None  # the principal diagnosis must be one of these
    sdx_any: list[str] | None = None  # at least one secondary diagnosis from this list
    sdx_all_in: list[str] | None = None  # no secondary diagnosis, or only ones from this list
    dx_any: list[str] | None = None  # the principal or a secondary diagnosis from this list
    also_procedures: list[str] | None = None  # at least one procedure from this list, besides the selector
    all_procedures_in: list[str] | None = None  # every OR procedure of the case is in this list
    no_procedures: list[str] | None = None  # none of the case's procedures is in this list
    distinct_groups: DistinctGroups | None = None  # over the principal and secondary diagnoses
    distinct_procedure_groups: DistinctGroups | None = None  # over the procedures (e.g. bilateral joints)


class Mdc(_Strict):
    """A major diagnostic category, opened by its principal-diagnosis list (and conditions), in file order."""

    code: str = Field(min_length=1)
    name: str
    pdx: list[str] | None = None  # None: every principal diagnosis (used with conditions, e.g. newborns)
    when: Conditions | None = None
    unrelated_or: bool = True  # False: OR procedures no OR ADRG of this MDC accepts are ignored (medical)


class Adrg(_Strict):
    """An ADRG (adjacent DRG; in MS-DRG a DRG family): its selector, conditions and severity split."""

    code: str = Field(min_length=1)
    name: str
    mdc: str
    kind: Kind
    pre_mdc: bool = False
    procedures: list[str] | None = (
        None  # OR / non-OR ADRGs: any of these selects it (OR: None = any OR procedure)
    )
    pdx: list[str] | None = None  # medical ADRGs: the pdx selects it (None = any pdx of the MDC, ranked last)
    when: Conditions | None = None
    when_any: list[Conditions] | None = None  # besides ``when``, at least one of these must hold (an OR)
    drg: dict[SeverityKey, str]  # {"ALL": d} not split, else MCC / CC / NONE → DRG
    cc_exclude: list[str] | None = None  # secondary diagnoses that never count as CC/MCC in this ADRG
    # a selecting procedure that counts only together with one of its companions (MS-DRG "code pairs",
    # e.g. removal + replacement of a joint for a revision)
    procedure_pairs: dict[str, list[str]] | None = None

    @model_validator(mode="after")
    def _check(self) -> Adrg:
        if self.kind == "non_or" and not self.procedures:
            raise ValueError(
                f"非手术室操作 ADRG 须列出操作 ADRG {self.code}: a non_or ADRG needs a non-empty procedures list"
            )
        if self.pre_mdc and self.kind != "medical" and not self.procedures:
            raise ValueError(
                f"先期分组 ADRG 须列出操作 ADRG {self.code}: a pre-MDC {self.kind} ADRG needs a non-empty procedures list"
            )
        if self.kind == "medical" and self.procedures:
            raise ValueError(
                f"内科 ADRG 按主要诊断入组，不能列操作 ADRG {self.code}: a medical ADRG is selected by pdx, not procedures"
            )
        keys = set(self.drg)
        if keys != {"ALL"} and keys != {"MCC", "CC", "NONE"}:
            raise ValueError(
                f"DRG 细分键须为 ALL，或恰为 MCC、CC、NONE ADRG {self.code}: drg must have the key ALL, or exactly MCC, CC and NONE"
            )
        return self


class UnrelatedOr(_Strict):
    """Where a case goes when it has an OR procedure that no OR ADRG of its MDC accepts (QY / 981–989)."""

    adrg: str  # "{mdc}" is replaced by the case's MDC
    name: str
    when: Conditions | None = None
    drg: dict[SeverityKey, str]


class CcEntry(_Strict):
    """One secondary diagnosis that raises severity."""

    code: str
    level: Literal["CC", "MCC"]
    exclusion: str | None = None  # id of the exclusion list of principal diagnoses that cancel it
    hac: bool = False  # hospital-acquired condition: does not count when POA is "not present"
    alive_only: bool = False  # counts only when the patient is discharged alive


class FormulaRule(_Strict):
    """One rule of a formula scheme: when ``formula`` holds, the case gets ``drg`` (in ``family``), or goes on
    with the rules of MDC ``reroute``, or is ungroupable (``ungroupable``, the formula names the edit)."""

    formula: str = Field(min_length=1)
    drg: str | None = None
    family: str | None = None
    reroute: str | None = None
    ungroupable: bool = False
    # secondary diagnoses carrying one of these marks do not count toward this rule's CC / MCC
    suppress: list[str] | None = None


class Cluster(_Strict):
    """Procedure codes that count together: when the case has a code from every choice, the cluster's own
    marks are added and the member codes' marks no longer count in ``suppress_mdcs``."""

    code: str
    choices: list[list[str]] = Field(min_length=1)
    suppress_mdcs: list[str] = Field(default_factory=list)


class CounterTerm(_Strict):
    """Per procedure: the sum of ``weights`` of its marks, if it has one of ``requires`` (or always)."""

    weights: dict[str, int]
    requires: list[str] | None = None


class Counter(_Strict):
    """A mark derived from a count: ``distinct`` (how many of these marks the case has, over all its codes)
    or ``terms`` (summed over the procedures); the mark is set when the count reaches ``min``."""

    mark: str
    min: int = Field(ge=1)
    distinct: list[str] | None = None
    terms: list[CounterTerm] | None = None


class Family(_Strict):
    """A DRG family (MS-DRG base DRG): title, MDC, surgical or medical, and its severity split."""

    name: str
    mdc: str
    surgical: bool = False
    drg: dict[SeverityKey, str]


class FormulaLogic(_Strict):
    """Format 2: the grouping logic as marks and formulas (CMS MS-DRG grouper tables; docs/DRG.md).

    Every code carries *marks* (the logic lists it is on); a case's marks are its codes' marks — a
    principal diagnosis's also as ``PDX:m``, a secondary's as ``SDX:m``, any as ``ANY:m`` — plus derived
    marks (clusters, counters, discharge status …). Rules are boolean formulas over marks (``&``, ``|``,
    ``~``, parentheses; ``MCC`` / ``CC`` / ``NONE`` = the case's severity for that rule), tried in file
    order: first the ``pre`` list, else the list of the principal diagnosis's MDC; a rule may reroute
    to another list (MDC 24 / 25, unrelated OR procedures).
    """

    patterns: list[list[str]]  # mark lists, referenced by index
    dx: dict[str, list[int]]  # diagnosis → [MDC number (0 = none), level (0 none, 1 CC, 2 MCC), pattern]
    dx_sex_mdc: dict[str, list[int]] = Field(default_factory=dict)  # diagnosis → [MDC if male, if female]
    pr: dict[str, int]  # procedure (or cluster code) → pattern
    clusters: list[Cluster] = Field(default_factory=list)
    exclusion_groups: list[list[str]] = Field(default_factory=list)  # secondary diagnoses excluded …
    pdx_exclusion: dict[str, int] = Field(default_factory=dict)  # … as CC / MCC under this principal dx
    families: dict[str, Family]
    rules: dict[str, list[FormulaRule]]
    pre: str  # the rule list tried first (pre-MDC)
    unrelated: str | None = None  # the rule list of unrelated OR procedures (reported under the pdx MDC)
    counters: list[Counter] = Field(default_factory=list)
    status_marks: dict[str, list[str]] = Field(default_factory=dict)  # discharge status → marks
    always_marks: list[str] = Field(default_factory=list)
    mdc_marks: dict[str, list[str]] = Field(default_factory=dict)  # pdx MDC → marks
    pdx_prefix_marks: dict[str, list[str]] = Field(default_factory=dict)  # first letter of the pdx → marks
    unknown_pdx_marks: list[str] = Field(default_factory=list)
    only_marks: list[str] = Field(default_factory=list)  # ONLY:m when the pdx and every valid sdx have m
    dead_excludes: list[str] = Field(default_factory=list)  # sdx with these marks: no CC / MCC if died
    hac: dict[str, str] = Field(default_factory=dict)  # HAC number → formula (criteria met)
    hac_lists: dict[str, str] = Field(default_factory=dict)  # mark → HAC number
    hac_show: dict[str, str] = Field(default_factory=dict)  # show-list mark → HAC it needs met elsewhere
    hac_poa_present: list[str] = Field(default_factory=lambda: ["Y", "W"])

    @model_validator(mode="after")
    def _check(self) -> FormulaLogic:
        n = len(self.patterns)
        for code, v in self.dx.items():
            if len(v) != 3 or not 0 <= v[2] < n or v[1] not in (0, 1, 2):
                raise ValueError(
                    f"诊断编码表项格式错误 dx.{code}: must be [MDC, level 0/1/2, pattern index < {n}]"
                )
        for code, p in self.pr.items():
            if not 0 <= p < n:
                raise ValueError(f"操作编码的模式序号越界 pr.{code}: pattern index {p} out of range")
        if self.pre not in self.rules:
            raise ValueError(f"先期分组规则表不存在 pre: no rule list {self.pre!r}")
        for mdc, rules in self.rules.items():
            for i, r in enumerate(rules):
                if r.reroute is not None and r.reroute not in self.rules:
                    raise ValueError(
                        f"转组目标没有规则 rules.{mdc}.{i}: reroute to {r.reroute!r}, which has no rules"
                    )
                if r.family is not None and r.family not in self.families:
                    raise ValueError(
                        f"规则所属族不存在 rules.{mdc}.{i}: family {r.family!r} is not in families"
                    )
                if r.drg is None and r.reroute is None and not r.ungroupable:
                    raise ValueError(
                        f"规则须指定 DRG、转组或不可入组 rules.{mdc}.{i}: needs drg, reroute or ungroupable"
                    )
        for i, g in enumerate(self.exclusion_groups):
            if not g:
                raise ValueError(f"排除组为空 exclusion_groups.{i}: empty")
        for code, gi in self.pdx_exclusion.items():
            if not 0 <= gi < len(self.exclusion_groups):
                raise ValueError(f"主要诊断排除组不存在 pdx_exclusion.{code}: no exclusion group {gi}")
        return self


class Ungroupable(_Strict):
    mdc: str = ""
    adrg: str
    drg: str
    invalid_pdx_drg: str | None = None  # a pdx that opens an MDC but no ADRG accepts (MS-DRG 998); else drg


class Scheme(_Strict):
    """A complete grouping scheme (validated form of the scheme file)."""

    format: Literal[1, 2] = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    name: str
    name_en: str = ""
    version: str
    official: bool
    notice: str = ""
    sources: list[Source] = Field(min_length=1)
    code_match: Literal["exact", "prefix"] = "exact"
    severity_digits: dict[str, str] = Field(default_factory=dict)  # informational: severity → last DRG digit
    discharge_status: dict[Literal["home", "death", "transfer", "against_advice"], list[str]]
    poa_not_present: list[str] = Field(default_factory=lambda: ["N", "U"])
    ungroupable: Ungroupable
    mdcs: list[Mdc] = Field(min_length=1)
    or_procedures: list[str] = Field(default_factory=list)
    non_or_procedures: list[str] = Field(default_factory=list)
    adrgs: list[Adrg] = Field(default_factory=list)
    unrelated_or: list[UnrelatedOr] = Field(default_factory=list)
    cc: list[CcEntry] = Field(default_factory=list)
    exclusions: dict[str, list[str]] = Field(default_factory=dict)
    drg_names: dict[str, str] = Field(default_factory=dict)
    formulas: FormulaLogic | None = None  # format 2: the logic as marks and formulas (adrgs unused)

    @model_validator(mode="before")
    @classmethod
    def _expand_split(cls, raw: Any) -> Any:
        """``split: cc`` / ``split: none`` on an ADRG is shorthand for its DRG codes: ADRG code + the
        scheme's ``severity_digits`` (CHS-DRG: 1 MCC, 3 CC, 5 none, 9 not split)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("adrgs"), list):
            return raw
        digits = raw.get("severity_digits") or {}
        adrgs = []
        for a in raw["adrgs"]:
            if isinstance(a, dict) and "split" in a and "drg" not in a:
                a = dict(a)
                split = a.pop("split")
                code = str(a.get("code", ""))
                keys = ("MCC", "CC", "NONE") if split == "cc" else ("ALL",) if split == "none" else ()
                if not keys:
                    raise ValueError(
                        f"ADRG 细分方式须为 cc 或 none ADRG {code}: split must be 'cc' or 'none', not {split!r}"
                    )
                missing = [k for k in keys if k not in digits]
                if missing:
                    raise ValueError(
                        f"ADRG 细分缺少严重程度位 ADRG {code}: split needs severity_digits for {', '.join(missing)}"
                    )
                a["drg"] = {k: code + digits[k] for k in keys}
            adrgs.append(a)
        return {**raw, "adrgs": adrgs}

    @model_validator(mode="after")
    def _cross_check(self) -> Scheme:
        if self.format == 2 and self.formulas is None:
            raise ValueError("第 2 版格式须提供公式 format 2 needs formulas")
        if self.formulas is not None and self.code_match != "exact":
            raise ValueError("公式方案须精确匹配编码 formula schemes match codes exactly (code_match: exact)")
        if self.formulas is None and (not self.adrgs or not self.unrelated_or):
            raise ValueError(
                "ADRG 和无关手术表各须至少一项 adrgs and unrelated_or must each have at least one entry"
            )
        mdcs = {m.code for m in self.mdcs}
        seen: set[str] = set()
        for i, a in enumerate(self.adrgs):
            if a.code in seen:
                raise ValueError(f"ADRG 编码重复 adrgs.{i}: duplicate ADRG code {a.code}")
            seen.add(a.code)
            if not a.pre_mdc and a.mdc not in mdcs:
                raise ValueError(
                    f"ADRG 所属 MDC 不存在 adrgs.{i}: ADRG {a.code} names MDC {a.mdc!r}, which is not in mdcs"
                )
        for i, c in enumerate(self.cc):
            if c.exclusion is not None and c.exclusion not in self.exclusions:
                raise ValueError(
                    f"CC 排除表不存在 cc.{i}: exclusion list {c.exclusion!r} of {c.code} is not in exclusions"
                )
        return self
