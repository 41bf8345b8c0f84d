"""The settlement trace: what the engine did, step by step, as typed records.

The engine appends one record per step it takes (a ``setl_proc_info`` in national terms); the
explanation a person reads is rendered from these records, and the ledger stores them as JSON with
the settlement, so an explanation can be rebuilt years later with better wording.

Stored form: a JSON object per step with a ``kind`` and the record's fields.  Settlements stored before
the records were typed hold positional lists; :func:`step_from_json` reads both.

The records are slotted dataclasses but not frozen: the engine builds several per visit on its hot path, and a
frozen dataclass pays an ``object.__setattr__`` per field (about a fifth of the engine's time per visit).  Nothing
mutates a step after the engine appends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Protocol


class FundDetailLike(Protocol):
    @property
    def fund_pay_type(self) -> str: ...
    @property
    def setl_proc_info(self) -> str: ...


@dataclass(slots=True)
class NoBenefit:
    """The scheme has no pooled-fund benefit for this visit type: the funds pay nothing."""

    kind: ClassVar[str] = "no_benefit"
    scheme: str
    med_type: str


@dataclass(slots=True)
class NotEntitled:
    """The benefit check (待遇享受检查) found the person not covered on the visit date and policy settles the
    visit fully self-paid: no fund pays (the personal account pays only when ``account_usable``)."""

    kind: ClassVar[str] = "not_entitled"
    reason_code: str
    reason_zh: str
    reason_en: str
    account_usable: bool


@dataclass(slots=True)
class CapUplift:
    """A continuity incentive raised the critical-illness layer's cap (国办发〔2024〕38号): ``cap`` the
    original, ``uplift`` what was added (already limited to the policy's share of the original)."""

    kind: ClassVar[str] = "cap_uplift"
    layer_id: str
    cap: int
    uplift: int


@dataclass(slots=True)
class BasicFund:
    """The basic pooled fund (统筹基金): deductible (起付线), ratio (支付比例) and annual cap (封顶线)."""

    kind: ClassVar[str] = "basic"
    benefit_id: str
    basis: str  # per_year / per_admission / none
    deductible_due: int  # fen due before this visit
    admissions_before: int  # admissions already this year (per-admission basis)
    deductible_paid: int  # act_pay_dedc
    base: int  # policy scope above the deductible
    ratio: int  # 1/10000
    raw: int  # base × ratio before the cap
    cap_room: int | None  # room under the annual cap before this visit; None = no cap
    paid: int  # hifp_pay
    over_cap_base: int  # base the cap left unpaid (for the 大额 layer)
    locality: str  # effective locality (local / remote_filed / remote_unfiled)


@dataclass(slots=True)
class Layer:
    """A later layer (大额补助, 大病保险, 医疗救助 …) paying on what earlier funds left."""

    kind: ClassVar[str] = "layer"
    layer_id: str
    terms_label: str  # "default" or the identities whose terms applied
    base: int  # the eligible amount this visit
    before: int  # the year's cumulative eligible amount before this visit
    deductible: int  # the layer's deductible (起付标准)
    raw: int  # by segment, before the cap
    cap_room: int | None
    paid: int
    includes_preselfpay: bool = False  # the base included pay-first (先行自付) amounts


@dataclass(slots=True)
class Commercial:
    """A commercial product (医保+商保一单制) paid after every public layer, before the personal account."""

    kind: ClassVar[str] = "commercial"
    product: str
    insurer: str
    name: str
    base: int  # the personal burden the product looked at (all of it, or its policy-scope part)
    deductible_due: int  # the product's yearly deductible still due before this visit
    deductible_paid: int  # part of the base taken by it
    ratio: int  # 1/10000
    raw: int  # (base − deductible) × ratio
    cap_room: int  # the smaller of the per-claim cap and what the annual cap still allows
    paid: int  # commercial_pay
    from_scope: int  # of which drawn from the policy-scope part of the burden (the rest from out-of-scope)


@dataclass(slots=True)
class Account:
    """The personal account (个人账户), own or a family member's (家庭共济)."""

    kind: ClassVar[str] = "account"
    payable: int
    balance: int
    paid: int
    family: bool


@dataclass(slots=True)
class AuditSummary:
    """The in-event audit (事中审核) ran: how many findings, how many lines it kept from the funds."""

    kind: ClassVar[str] = "audit"
    findings: int
    blocked_lines: int


@dataclass(slots=True)
class AuditFindingStep:
    """One in-event finding, kept so a stored settlement still says why a line was not paid."""

    kind: ClassVar[str] = "audit_finding"
    feedetl_sn: str | None
    rule_code: str
    severity: str
    reason_zh: str
    reason_en: str


Step = (
    NoBenefit
    | NotEntitled
    | CapUplift
    | BasicFund
    | Layer
    | Commercial
    | Account
    | AuditSummary
    | AuditFindingStep
)
STEP_TYPES: dict[str, type[Step]] = {
    t.kind: t
    for t in (
        NoBenefit,
        NotEntitled,
        CapUplift,
        BasicFund,
        Layer,
        Commercial,
        Account,
        AuditSummary,
        AuditFindingStep,
    )
}


def step_to_json(step: Step) -> dict[str, Any]:
    """The stored form of a step: its fields plus its ``kind``."""
    # the fields are scalars, so a shallow read of the slots is the whole record (``asdict`` would deep-copy
    # every value, a sixth of a stored settlement's CPU)
    return {"kind": step.kind, **{name: getattr(step, name) for name in step.__slots__}}


def read_steps(raw: list[Any], setldetail: Sequence[FundDetailLike] = ()) -> list[Step]:
    """A stored trace.  Rows stored before layers recorded ``includes_preselfpay`` say it in their
    ``setldetail`` (a ``+pre`` in ``setl_proc_info``), which is read here for them."""
    steps = [step_from_json(x) for x in raw]
    if raw and not isinstance(raw[0], dict):
        with_pre = {d.fund_pay_type for d in setldetail if "+pre" in d.setl_proc_info}
        by_name = {d.setl_proc_info.split("[", 1)[0]: d.fund_pay_type for d in setldetail}
        steps = [
            replace(x, includes_preselfpay=by_name.get(x.layer_id) in with_pre) if isinstance(x, Layer) else x
            for x in steps
        ]
    return steps


def step_from_json(raw: Any) -> Step:
    """A step from its stored form (an object with ``kind``, or the positional list of older rows)."""
    if isinstance(raw, dict):
        cls = STEP_TYPES[str(raw["kind"])]
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})
    kind, *values = raw
    cls = STEP_TYPES[str(kind)]
    names = [f.name for f in fields(cls)]
    if cls is Layer and len(values) == len(names) - 1:
        values.append(False)  # older rows did not record includes_preselfpay
    return cls(**dict(zip(names, values, strict=True)))
