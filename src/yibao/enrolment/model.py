"""Enrolment data shapes (pure): persons, insurance-relation events, employers, households, contributions
and the eligibility decision.  Money is int fen; dates are ``datetime.date``; months are ``(year, month)``.

Codes follow the national dictionaries where one exists: ``insutype`` 310 职工 / 390 居民,
``psn_insu_stas`` (人员参保状态) 0 未参保 · 1 正常参保 · 2 暂停参保 · 4 终止参保.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from yibao.errors import FieldError

EMPLOYEE, RESIDENT = "310", "390"
SCHEMES = (EMPLOYEE, RESIDENT)


class EnrolmentError(FieldError):
    """Enrolment input that cannot be used; ``field`` names it, ``reason`` says why (Chinese, then English)."""


class EventKind(StrEnum):
    """What happened to a person's insurance relation (参保关系) on a day."""

    ENROL = "enrol"  # 参保登记
    SUSPEND = "suspend"  # 暂停参保（减员、停保）
    RESUME = "resume"  # 恢复参保（续保）
    TERMINATE = "terminate"  # 终止参保
    DEATH = "death"  # 死亡
    TRANSFER_IN = "transfer_in"  # 关系转入（关系转移接续）
    TRANSFER_OUT = "transfer_out"  # 关系转出
    CHANGE_TYPE = "change_type"  # 人员类别变更（如办理退休）


EVENT_NAMES_ZH = {
    EventKind.ENROL: "参保登记",
    EventKind.SUSPEND: "暂停参保",
    EventKind.RESUME: "恢复参保",
    EventKind.TERMINATE: "终止参保",
    EventKind.DEATH: "死亡",
    EventKind.TRANSFER_IN: "关系转入",
    EventKind.TRANSFER_OUT: "关系转出",
    EventKind.CHANGE_TYPE: "人员类别变更",
}


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What eligibility needs to know about the person besides the relation history.

    ``identities``: (code, begin, end or None) — 低保 DB, 特困 TK, 返贫致贫 FP … with their validity."""

    psn_no: str
    birth_date: dt.date
    gender: str  # 'M' / 'F'
    identities: tuple[tuple[str, dt.date, dt.date | None], ...] = ()

    def identities_on(self, day: dt.date) -> frozenset[str]:
        """The identity codes valid on ``day``."""
        return frozenset(c for c, b, e in self.identities if b <= day and (e is None or day <= e))


@dataclass(frozen=True, slots=True)
class RelationEvent:
    """One dated change of the person's insurance relation; the history is the ordered list of these.

    ``months_carried`` (转入 / 参保登记): employee contribution months counted here but paid elsewhere or
    deemed (视同缴费); ``years_carried``: continuous insured years up to the transfer (for continuity);
    ``insured_until``: the last insured day in the other region (for the lapse of 国办发〔2024〕38号)."""

    psn_no: str
    day: dt.date
    kind: EventKind
    insutype: str = ""
    psn_type: str = ""
    emp_no: str = ""
    household_no: str = ""
    other_admdvs: str = ""  # transfer: the region the relation comes from or goes to
    months_carried: int = 0
    years_carried: int = 0
    insured_until: dt.date | None = None
    reason: str = ""
    seq: int = 0  # order of events on the same day


@dataclass(frozen=True, slots=True)
class Employer:
    """参保单位 with its social-credit code and district."""

    emp_no: str
    name: str
    district: str = ""


@dataclass(frozen=True, slots=True)
class HouseholdMember:
    """A member of a resident household; ``relation`` to the head: head/spouse/child/parent/sibling/grandchild/other."""

    household_no: str
    psn_no: str
    relation: str


@dataclass(frozen=True, slots=True)
class EmployeeContribution:
    """One month's employee contribution (职工医保缴费) or a lump sum (``kind`` top_up: 一次性补缴 of
    ``months`` months of retirement years).  ``paid_on`` None: due and not paid (欠费)."""

    psn_no: str
    emp_no: str
    month: tuple[int, int]
    base_fen: int
    employer_fen: int
    individual_fen: int
    account_fen: int  # the part of the individual contribution credited to the personal account
    paid_on: dt.date | None
    kind: str = "normal"  # normal / top_up
    months: int = 1


@dataclass(frozen=True, slots=True)
class ResidentPremium:
    """One paid resident premium (居民医保缴费) for benefit ``year``; ``kind`` repair: a lapsed year paid
    afterwards (缴费修复), which shortens the variable waiting period but does not cover that year."""

    psn_no: str
    year: int
    paid_on: dt.date
    individual_fen: int  # paid by the person
    assistance_fen: int  # paid by medical assistance (资助参保)
    subsidy_fen: int  # fiscal subsidy per head (财政补助)
    identity: str = ""
    kind: str = "annual"  # annual / repair


@dataclass(frozen=True, slots=True)
class ClaimHistory:
    """What the continuity incentives need from settlement: benefit years in which the resident funds paid
    anything (not claim-free), and years in which the critical-illness reward was used (clears it)."""

    fund_paid_years: frozenset[int] = frozenset()
    reward_used_years: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The benefit check's answer for one visit (and the shape 2001 and the refusal text are made from).

    ``covered``: the funds (统筹, 大病/大额, 救助) may pay.  When not covered, ``self_pay_instead`` says
    whether policy settles the visit fully self-paid (全自费) instead of refusing it; ``account_usable`` says
    whether the personal account may still pay.  ``since``/``until`` bound this status (inclusive; None =
    open).  The incentives (国办发〔2024〕38号) raise the resident critical-illness cap of the benefit year:
    ``ci_cap_uplift_fen`` before the ``ci_uplift_max_share`` limit (see :func:`critical_illness_cap`)."""

    covered: bool
    reason_code: str
    reason_zh: str
    reason_en: str
    insutype: str = ""
    psn_type: str = ""
    psn_insu_stas: str = "0"
    since: dt.date | None = None
    until: dt.date | None = None
    self_pay_instead: bool = False
    account_usable: bool = False
    continuous_years: int = 0
    ci_cap_uplift_fen: int = 0
    ci_uplift_max_share: int = 0
    waiting_months: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row of an imported file: its line number (the header is line 1), the column and why."""

    row: int
    field: str
    reason: str  # Chinese first, then English

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


class ImportRejected(EnrolmentError):
    """A file refused as a whole: nothing of it was written.  ``problems`` lists every bad row found
    (``total`` counts them all when the list was cut short)."""

    def __init__(self, problems: list[RowError], total: int | None = None, what: str = "file") -> None:
        self.problems = problems
        self.total = len(problems) if total is None else total
        first = problems[0] if problems else None
        head = f"第{first.row}行 {first.field}: {first.reason}" if first else ""
        super().__init__(
            what,
            f"文件有{self.total}处错误，未导入任何数据 {self.total} bad row(s): nothing was imported; {head}",
            "rejected",
        )
