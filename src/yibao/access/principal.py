"""Who is acting, and what they may read: the caller of every use case, whatever face they came through.

Roles (least privilege):

* ``insured`` — their own record and those of family members linked to their login (亲情账户);
* ``institution`` — visits and settlements at their own ``fixmedins_code``; they settle only there;
* ``employer`` — a 参保单位: its own roster, contributions and arrears (``emp_no``) and its monthly roster
  upload; no person record as such, nothing of another employer;
* ``auditor`` — read everything, settle nothing;
* ``admin`` — everything, including the access log of every person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from yibao.access.store import UserRow

Role = Literal["insured", "institution", "employer", "auditor", "admin"]
SETTLING_ROLES = frozenset({"institution", "admin"})
STAFF_ROLES = frozenset({"auditor", "admin"})
# what each role is called on pages (Chinese, English)
ROLE_NAMES: dict[str, tuple[str, str]] = {
    "insured": ("参保人或其亲属", "insured person or family"),
    "institution": ("定点医药机构", "designated institution"),
    "employer": ("参保单位", "employer"),
    "auditor": ("医保经办稽核人员", "insurance auditor"),
    "admin": ("系统管理员", "administrator"),
}


class Forbidden(Exception):
    """The caller is known but may not act on this record (a face answers 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """The logged-in caller."""

    user_id: str
    role: Role
    display_name: str
    psn_no: str | None  # insured: own psn_no
    family_psn_nos: tuple[str, ...]  # insured: persons they may act for (亲情账户), incl. own
    fixmedins_code: str | None  # institution
    emp_no: str | None = None  # employer (参保单位)


def principal_of(user: UserRow) -> Principal:
    return Principal(
        user.user_id,
        cast(Role, user.role),
        user.display_name,
        user.psn_no,
        user.family_psn_nos,
        user.fixmedins_code,
        user.emp_no,
    )


def as_user(p: Principal) -> UserRow:
    """The caller as the access log records them."""
    return UserRow(
        p.user_id, "", p.role, p.display_name, p.psn_no, p.family_psn_nos, p.fixmedins_code, emp_no=p.emp_no
    )


def can_act_for_employer(p: Principal, emp_no: str) -> bool:
    """May ``p`` read or declare for employer ``emp_no``?  Staff: any; an employer login: only its own."""
    if p.role in STAFF_ROLES:
        return True
    return p.role == "employer" and p.emp_no is not None and p.emp_no == emp_no


def can_read_person(p: Principal, psn_no: str) -> bool:
    """May ``p`` read the record of person ``psn_no``?  Auditors and admins: anyone; insured: themself and
    their linked family; institutions: no person record as such (they see their own visits and
    settlements, and person info only through 1101 with the card presented)."""
    if p.role in STAFF_ROLES:
        return True
    if p.role == "insured":
        return psn_no in p.family_psn_nos
    return False
