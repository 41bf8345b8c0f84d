"""The one bill of a settlement with commercial cover (医保+商保一单制), and clearing with the insurer as a
counter-party (statements, reconciliation) — pure functions.

The product itself is paid by the settlement engine, after basic insurance, critical illness and assistance
and before the personal account (:func:`yibao.settlement.engine.settle_visit` with ``covers``): ``ratio`` of
the remaining personal burden above its yearly deductible, within its per-claim and yearly caps
(《医联体背景下互联网医院支付资源下沉策略》: 医保报销后剩余部分可由商险按80%比例赔付).  Here the result is put on
the patient's bill and the claims on the insurer's statement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from yibao.settlement.model import Settlement
from yibao.settlement.trace import Commercial as CommercialStep


@dataclass(
    slots=True
)  # not frozen: built once per settlement on the hot path (frozen init costs a setattr a field)
class OneBill:
    """The one bill the patient sees: every payer in order, the patient's part last.
    ``total = hifp + other funds + commercial + account + patient``."""

    medfee_sumamt: int  # insured visit total (2207)
    extras: int  # charges beside the insured visit (delivery fee), paid by the patient
    hifp_pay: int
    other_funds: int  # critical illness, large-amount, assistance, others
    commercial_pay: int
    insurer: str
    acct_pay: int  # personal account
    patient_pay: int  # what the patient owes (cash, or a credit bill)

    @property
    def total(self) -> int:
        return self.medfee_sumamt + self.extras

    def as_dict(self) -> dict[str, object]:
        return {
            "medfee_sumamt": self.medfee_sumamt,
            "extras": self.extras,
            "total": self.total,
            "hifp_pay": self.hifp_pay,
            "other_funds": self.other_funds,
            "commercial_pay": self.commercial_pay,
            "insurer": self.insurer,
            "acct_pay": self.acct_pay,
            "patient_pay": self.patient_pay,
        }


def one_bill(s: Settlement, extras: int, insurer: str) -> OneBill:
    """The settlement (funds, then the commercial product, then the account, in the one result) and the
    extras beside it on one bill; the patient's part is the settlement's cash plus the extras, so no fen
    is counted twice."""
    if s.psn_part_amt != s.commercial_pay + s.acct_pay + s.psn_cash_pay:
        raise ValueError("结算结果不平 settlement does not add up: psn_part ≠ commercial + acct + cash")
    return OneBill(
        s.medfee_sumamt,
        extras,
        s.hifp_pay,
        s.fund_pay_sumamt - s.hifp_pay,
        s.commercial_pay,
        insurer,
        s.acct_pay,
        s.psn_cash_pay + extras,
    )


def claim_of(s: Settlement) -> CommercialStep | None:
    """The commercial step of a settlement (the product, its base, deductible and payment), if one applied."""
    return next((x for x in s.steps if isinstance(x, CommercialStep)), None)


@dataclass(frozen=True)
class Statement:
    insurer: str
    period_from: str
    period_to: str
    claims: int
    base: int
    paid: int
    lines: tuple[tuple[str, int], ...] = ()  # (claim id, paid)


def statement(
    insurer: str, period_from: str, period_to: str, rows: Iterable[tuple[str, int, int]]
) -> Statement:
    """The statement for ``insurer`` over the period from ``(claim id, base, paid)`` rows."""
    rows = sorted(rows)
    return Statement(
        insurer,
        period_from,
        period_to,
        len(rows),
        sum(r[1] for r in rows),
        sum(r[2] for r in rows),
        tuple((r[0], r[2]) for r in rows),
    )


@dataclass(frozen=True)
class Reconciliation:
    matched: int
    missing_at_insurer: tuple[str, ...]  # on our statement, not in theirs
    unknown_to_us: tuple[str, ...]  # in theirs, not ours
    amount_differs: tuple[tuple[str, int, int], ...]  # (claim id, ours, theirs)
    ours_total: int
    theirs_total: int
    balanced: bool = field(default=False)


def reconcile(ours: Mapping[str, int], theirs: Mapping[str, int]) -> Reconciliation:
    """Compare our claim amounts with the insurer's returned file, claim by claim (对账)."""
    missing = tuple(sorted(set(ours) - set(theirs)))
    unknown = tuple(sorted(set(theirs) - set(ours)))
    differs = tuple(sorted((k, ours[k], theirs[k]) for k in set(ours) & set(theirs) if ours[k] != theirs[k]))
    matched = len(set(ours) & set(theirs)) - len(differs)
    ot, tt = sum(ours.values()), sum(theirs.values())
    return Reconciliation(matched, missing, unknown, differs, ot, tt, not (missing or unknown or differs))
