"""Settlement data shapes: the person, the visit and its lines in; the 2207-shaped result out.

Field names follow the national interface (国家医疗保障信息平台 定点医药机构接口规范, 2207 output) where one exists.  All money is int fen;
quantities are int in 1/10000 (the interface's ``cnt`` is ``16,4``); ratios are int in 1/10000.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from yibao.errors import FieldError
from yibao.money import apply_ratio
from yibao.settlement.trace import Step

LineParts = tuple[int, int, int, int]  # (fulamt_ownpay_amt, overlmt_selfpay, preselfpay_amt, inscp_scp_amt)


class SettlementError(FieldError):
    """Input the engine cannot settle; ``field`` is the path of the offending input, ``reason`` why."""


@dataclass(frozen=True, slots=True)
class Person:
    psn_no: str
    name: str
    certno: str
    gender: str  # 'M' / 'F'
    birth_date: dt.date
    insutype: str  # 310 职工 / 390 居民
    psn_type: str
    identities: frozenset[str] = frozenset()  # those valid on the visit date (低保, 特困 …)
    insuplc_admdvs: str = ""
    family: tuple[str, ...] = ()  # psn_no of spouse, parents, children (家庭共济)

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


@dataclass(frozen=True, slots=True)
class Line:
    """One fee line (2204 feedetl): ``amount`` is det_item_fee_sumamt, ``qty`` is cnt × 10000."""

    feedetl_sn: str
    code: str  # med_list_codg
    qty: int
    price: int
    amount: int
    prd_days: int | None = None  # days the prescription is written for (2204 prd_days), when sent
    bilg_dr_codg: str | None = None  # the physician who ordered the line (2204 bilg_dr_codg), when sent
    fee_ocur_time: dt.date | None = None  # the day the item was given (2204 fee_ocur_time), when sent


@dataclass(frozen=True, slots=True)
class RxRef:
    """The e-prescription a visit dispenses (处方流转), for the audit's prescription rules: who issued it at
    which internet hospital on which day, the day it is dispensed and how often it was dispensed before."""

    rx_id: str
    prescriber: str
    internet_hospital: str
    issued_on: dt.date
    dispensed_on: dt.date
    dispensed_before: int = 0


@dataclass(frozen=True, slots=True)
class Visit:
    mdtrt_id: str
    psn_no: str
    med_type: str  # visit type code from the region file (11 普通门诊, 14 门诊慢特病, 21 住院 …)
    fixmedins_code: str
    hosp_lv: str
    begin_date: dt.date
    end_date: dt.date
    lines: tuple[Line, ...]
    locality: str = "local"  # local / remote_longterm / remote_filed / remote_unfiled
    emergency: bool = False  # 异地急诊抢救 is treated as filed
    diagnoses: tuple[str, ...] = ()
    use_account: bool = True
    account_psn_no: str | None = None  # pay from this family member's account (家庭共济)
    bilg_dr_codg: str | None = (
        None  # the visit's billing physician (医保医师 code), when sent; a line's own wins
    )
    # the day whose year and policy the visit counts in, when not begin_date: an inpatient stay counts in the
    # year of its discharge (出院结算, 跨年度住院按出院日期所在年度结算)
    accounting_date: dt.date | None = None
    # the care scene the visit belongs to ("" an ordinary visit; online_followup 线上复诊, remote_consult 远程会诊):
    # a commercial product pays only in the scenes it covers
    scene: str = ""
    rx: RxRef | None = None  # the e-prescription dispensed, when the visit settles one

    @property
    def counts_on(self) -> dt.date:
        """The day the settlement counts on (its year's accumulators, the policy in force)."""
        return self.accounting_date or self.begin_date


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What the benefit check (待遇享受检查) on the visit date means for the engine; built from the
    enrolment capability's decision by :mod:`yibao.usecases.eligibility` (None: no check, today's rules).

    ``self_pay``: not covered, and policy settles the visit fully self-paid instead of refusing it — no
    fund pays and no yearly accumulator moves; the personal account pays only when ``account_usable``
    (e.g. an employee in arrears at a pharmacy).  ``ci_cap_uplift_fen`` / ``ci_uplift_max_share``: the
    continuity incentives of 国办发〔2024〕38号 (policy data of the region's enrolment file) raising the cap
    of the resident critical-illness layer (the layer reported in ``hifmi_pay``), the uplift limited to
    ``ci_uplift_max_share`` (1/10000) of the original cap."""

    self_pay: bool = False
    account_usable: bool = True
    ci_cap_uplift_fen: int = 0
    ci_uplift_max_share: int = 0
    reason_code: str = "ok"
    reason_zh: str = ""
    reason_en: str = ""


@dataclass(frozen=True, slots=True)
class CommercialProduct:
    """A commercial health-insurance product (商业健康保险) paying in the same settlement after every public
    layer (医保+商保一单制): ``ratio`` (1/10000) of the personal burden left by the funds — the whole burden, or
    only its policy-scope part (合规自付: pay-first and scope) when ``out_of_scope`` is false — above a yearly
    ``deductible``, within ``per_claim_cap`` and ``annual_cap`` (fen), for visits of the ``scenes`` it covers
    and, when ``conditions`` is not empty, a diagnosis starting with one of them.  The year's use is kept in
    the person's accumulators (:meth:`paid_counter`, :meth:`deductible_counter`), so a cancelled settlement
    gives it back."""

    id: str
    insurer: str
    name: str
    scenes: frozenset[str]
    conditions: tuple[str, ...]
    deductible: int
    ratio: int
    per_claim_cap: int
    annual_cap: int
    out_of_scope: bool = True
    paid_counter: str = field(init=False, compare=False)  # the year's payments, in the accumulators
    deductible_counter: str = field(init=False, compare=False)  # the year's deductible met

    def __post_init__(self) -> None:
        object.__setattr__(self, "paid_counter", f"com:{self.id}:paid")
        object.__setattr__(self, "deductible_counter", f"com:{self.id}:dedc")

    def applies(self, scene: str, diagnoses: Sequence[str]) -> bool:
        """Does the product cover a visit of ``scene`` with ``diagnoses``?"""
        if scene not in self.scenes:
            return False
        if not self.conditions:
            return True
        for d in diagnoses:
            if d.startswith(self.conditions):
                return True
        return False


CI_LAYER_FIELD = "hifmi_pay"  # 居民大病保险资金支出: the layer whose cap the continuity incentives raise


def uplifted_cap(cap: int, uplift: int, max_share: int) -> int:
    """The critical-illness cap with the continuity uplift, the uplift limited to ``max_share`` of ``cap``
    (国办发〔2024〕38号: both incentives together at most 20% of the original cap), never below zero."""
    return max(0, cap + min(uplift, apply_ratio(cap, max_share)))


class DeferredText:
    """A text formatted only when someone reads it: ``template.format(*args)``.

    The engine writes a calculation note (``setl_proc_info``) for every fund of every visit; formatting those
    numbers into text cost about a sixth of the engine's time per visit, while a simulation of a year reads
    none of them.  The ledger, the national output and the explanation read the text, and get it then."""

    __slots__ = ("args", "template")

    def __init__(self, template: str, *args: object) -> None:
        self.template = template
        self.args = args

    def __str__(self) -> str:
        return self.template.format(*self.args)

    def __repr__(self) -> str:
        return repr(str(self))

    def __eq__(self, other: object) -> bool:
        """Equal to another note or a text that reads the same."""
        if isinstance(other, DeferredText | str):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


@dataclass(slots=True, eq=False)
class FundDetail:
    """One ``setldetail`` row.  ``note`` is the fund's calculation note: its text when read back from storage,
    or, from the engine, a :class:`DeferredText` that :attr:`setl_proc_info` renders on demand.  Not frozen
    for the same reason as the trace records (built for every fund of every visit)."""

    fund_pay_type: str
    fund_pay_type_name: str
    inscp_scp_amt: int  # the base this fund paid on
    crt_payb_lmt_amt: int | None  # room left under the fund's cap before this visit (None = no cap)
    fund_payamt: int
    note: str | DeferredText

    @property
    def setl_proc_info(self) -> str:
        """The calculation note (national ``setl_proc_info``), e.g. ``"12345×8500/10000→10493; cap room None→10493"``."""
        note = self.note
        return note if isinstance(note, str) else str(note)

    def _key(self) -> tuple[str, str, int, int | None, int, str]:
        return (
            self.fund_pay_type,
            self.fund_pay_type_name,
            self.inscp_scp_amt,
            self.crt_payb_lmt_amt,
            self.fund_payamt,
            self.setl_proc_info,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FundDetail):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(
    slots=True
)  # not frozen: built for every line of every stored settlement (frozen init costs a setattr a field)
class LineSplit:
    """How one line's amount divides, every fen accounted for (fields sum to ``amount``)."""

    feedetl_sn: str
    code: str
    amount: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int
    inscp_scp_amt: int
    act_pay_dedc: int
    fund_pay: dict[str, int]  # fund_pay_type -> fen
    acct_pay: int
    psn_cash_pay: int
    commercial_pay: int = 0  # the line's share of the commercial payment (一单制)


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One in-event audit finding (事中审核) returned by an audit hook.  ``feedetl_sn`` None = the whole
    visit.  ``severity`` "block": the line (or every line) is settled as fully self-paid (全自费);
    "flag" / "warn": settled normally and recorded."""

    feedetl_sn: str | None
    rule_code: str
    severity: str
    reason_zh: str
    reason_en: str


AuditHook = Callable[["Person", "Visit"], Sequence[AuditFinding]]


@dataclass(slots=True)
class Settlement:
    """The 2207 ``setlinfo`` plus ``setldetail``, the per-line parts and the engine's trace.

    Field names are those of the national platform's settlement output (2207 / 2304 ``setlinfo``); every
    amount is integer fen."""

    mdtrt_id: str
    psn_no: str
    insutype: str
    psn_type: str
    med_type: str
    admdvs: str
    policy_version: str
    medfee_sumamt: int = 0  # 医疗费总额: the whole bill
    fulamt_ownpay_amt: int = 0  # 全自费金额: class C and out-of-catalogue items, paid wholly by the patient
    overlmt_selfpay: int = 0  # 超限价自费: the part of a price above its cap (支付标准), paid by the patient
    preselfpay_amt: int = 0  # 先行自付: a class B item's pay-first share, paid by the patient first
    inscp_scp_amt: int = 0  # 符合政策范围金额: what remains within policy scope, the funds' base
    act_pay_dedc: int = 0  # 实际支付起付线: the deductible (起付线) the patient paid on this visit
    # 基本医疗保险统筹基金支出: what the basic pooled fund (职工 or 居民) pays: the policy-scope amount above the
    # deductible, at the scheme's ratio for the hospital level, up to the yearly cap
    hifp_pay: int = 0
    pool_prop_selfpay: int = 0  # 统筹基金支付比例: the pooled fund ratio in 1/10000 (despite the name)
    # 公务员医疗补助资金支出: the civil-servant medical subsidy, paid on what civil servants bear after the pooled fund
    cvlserv_pay: int = 0
    # 企业补充医疗保险基金支出: an employer's supplementary insurance, for its own employees
    hifes_pay: int = 0
    # 居民大病保险资金支出: resident critical-illness insurance, on the policy-scope self-pay above its own
    # deductible in a year (bought out of the resident fund)
    hifmi_pay: int = 0
    # 职工大额医疗费用补助基金支出: the employee large-amount subsidy, paying above the basic pooled fund's yearly cap
    hifob_pay: int = 0
    # 医疗救助基金支出: medical assistance for 低保, 特困 and other eligible people, paid last on what the insurance
    # layers left them to bear
    maf_pay: int = 0
    oth_pay: int = 0  # 其他基金支付: any other fund the region adds
    # 基金支付总额: everything the funds pay for the visit = hifp + cvlserv + hifes + hifmi + hifob + maf + oth
    fund_pay_sumamt: int = 0
    # 个人负担总金额: what the patient bears = medfee_sumamt − fund_pay_sumamt − hosp_part_amt = acct_pay + psn_cash_pay
    psn_part_amt: int = 0
    # 个人账户支出: the part of the personal burden paid from a personal account (own or a family member's)
    acct_pay: int = 0
    acct_mulaid_pay: int = 0  # 个人账户共济支付金额: of which from a family member's account (家庭共济)
    # 个人现金支出: the rest of the personal burden, paid by the patient in cash, card or mobile payment
    psn_cash_pay: int = 0
    # 商业保险支付 (not a national 2207 field): what a commercial product paid of the personal burden in the same
    # settlement (一单制); psn_part_amt = commercial_pay + acct_pay + psn_cash_pay
    commercial_pay: int = 0
    commercial_product: str | None = None  # the product that paid (CommercialProduct.id)
    hosp_part_amt: int = 0  # 医院负担金额: borne by the hospital (0 under fee-for-service)
    balc: int = 0  # 余额: the paying account's balance after this visit
    account_psn_no: str | None = None
    setldetail: list[FundDetail] = field(default_factory=list)
    line_parts: list[LineParts] = field(default_factory=list)
    deltas: dict[str, int] = field(default_factory=dict)  # yearly accumulator changes
    steps: list[Step] = field(default_factory=list)  # the trace (yibao.settlement.trace)
    audit: list[AuditFinding] = field(default_factory=list)  # in-event findings, when a hook ran
    # what each line's payers paid, once allocated (yibao.settlement.allocation; the ledger stores it)
    line_splits: list[LineSplit] = field(default_factory=list, compare=False)


MONEY_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
)
FUND_FIELDS = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")


def identity_violations(s: Settlement) -> list[str]:
    """The identities of the national 2207/2304 ``setlinfo`` output (and yibao's own) that ``s`` breaks; empty when it is consistent."""
    bad: list[str] = []
    if s.fund_pay_sumamt != sum(getattr(s, f) for f in FUND_FIELDS):
        bad.append("fund_pay_sumamt ≠ hifp + cvlserv + hifes + hifmi + hifob + maf + oth")
    if s.psn_part_amt != s.medfee_sumamt - s.fund_pay_sumamt - s.hosp_part_amt:
        bad.append("psn_part_amt ≠ medfee_sumamt − fund_pay_sumamt − hosp_part_amt")
    if s.psn_part_amt != s.commercial_pay + s.acct_pay + s.psn_cash_pay:
        bad.append("psn_part_amt ≠ commercial_pay + acct_pay + psn_cash_pay")
    if s.medfee_sumamt != s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt:
        bad.append("medfee_sumamt ≠ fulamt_ownpay + overlmt_selfpay + preselfpay + inscp_scp")
    if s.fund_pay_sumamt > s.inscp_scp_amt + s.preselfpay_amt:
        bad.append("funds paid more than the policy-scope amount")
    if sum(d.fund_payamt for d in s.setldetail) != s.fund_pay_sumamt:
        bad.append("setldetail does not add up to fund_pay_sumamt")
    if min(getattr(s, f) for f in MONEY_FIELDS) < 0 or s.commercial_pay < 0:
        bad.append("a money field is negative")
    return bad
