"""Commercial cover after basic insurance, critical illness and assistance, in the same bill (医保+商保一单制),
and clearing with the insurer as a counter-party (statements, reconciliation) — pure functions.

The product pays ``ratio`` of the remaining personal burden (psn_part_amt after every public layer, plus the
covered extras such as the delivery fee) above its yearly deductible, within its per-claim and yearly caps
(《医联体背景下互联网医院支付资源下沉策略》: 医保报销后剩余部分可由商险按80%比例赔付)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from yibao.care.policy import Product
from yibao.money import apply_ratio


@dataclass(frozen=True)
class Claim:
    base: int  # remaining personal burden the product looks at
    deductible: int  # part of the base taken by the yearly deductible
    paid: int  # what the insurer pays


def applies(product: Product, scene: str, diagnoses: Sequence[str]) -> bool:
    """Does ``product`` cover a visit of ``scene`` with ``diagnoses``?"""
    if scene not in product.scenes:
        return False
    return not product.conditions or any(d.startswith(product.conditions) for d in diagnoses)


def claim(product: Product, base: int, *, year_paid: int, year_deductible: int) -> Claim:
    """The claim on ``base`` fen given what the product already paid (``year_paid``) and how much of its
    deductible was already met (``year_deductible``) this year."""
    ded = min(base, max(0, product.deductible - year_deductible))
    pay = apply_ratio(base - ded, product.ratio)
    pay = min(pay, product.per_claim_cap, max(0, product.annual_cap - year_paid))
    return Claim(base, ded, pay)


@dataclass(frozen=True)
class OneBill:
    """The one bill the patient sees: every payer in order, the patient's part last."""

    medfee_sumamt: int  # insured visit total (2207)
    extras: int  # charges beside the insured visit (delivery fee)
    hifp_pay: int
    other_funds: int  # critical illness, large-amount, assistance, others
    commercial_pay: int
    insurer: str
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
            "patient_pay": self.patient_pay,
        }


def one_bill(
    medfee_sumamt: int,
    fund_pay_sumamt: int,
    hifp_pay: int,
    psn_part_amt: int,
    extras: int,
    commercial: int,
    insurer: str,
) -> OneBill:
    """Put the settlement, the extras and the commercial payment on one bill; every fen is accounted for:
    ``total = hifp + other funds + commercial + patient``."""
    patient = psn_part_amt + extras - commercial
    if patient < 0:
        raise ValueError("商业保险支付额超过个人负担 commercial payment above the personal burden")
    return OneBill(medfee_sumamt, extras, hifp_pay, fund_pay_sumamt - hifp_pay, commercial, insurer, patient)


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
