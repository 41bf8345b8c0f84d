"""The enrolment capability's figures as the faces read them: the bureau's enrolment and collection figures
(coverage rate by district, continuity rate, arrears, the collection of a benefit year), an employer's roster
and arrears, and the fund income fed from the contributions actually recorded.

Every function reads the enrolment tables once (:meth:`~yibao.enrolment.store.EnrolmentStore.frames`) and the
pure figures of :mod:`yibao.enrolment.figures`; a caller must be staff (the bureau: auditor or admin), except
an employer login (参保单位), which reads its own roster and arrears and uploads its own monthly roster.
:func:`sync_ledger` carries the registry's schemes and person types to the ledger's person rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from yibao.access.principal import STAFF_ROLES, Forbidden, Principal, can_act_for_employer
from yibao.enrolment.check import check_frame, status_frame
from yibao.enrolment.figures import (
    arrears_by_employer,
    collection_report,
    continuity_rate,
    coverage_by_district,
    income_frame,
    insured_by_month,
)
from yibao.enrolment.files import read_roster
from yibao.enrolment.model import ImportRejected, RowError
from yibao.enrolment.store import EnrolmentStore, ImportSummary, statuses_from_frames
from yibao.errors import FieldError
from yibao.ledger import Ledger

REASON_NAMES = {
    "not_enrolled": ("未参保", "not enrolled"),
    "not_paid": ("当年未缴费", "premium not paid"),
    "suspended": ("暂停参保", "suspended"),
    "terminated": ("终止参保", "terminated"),
    "transferred_out": ("关系已转出", "transferred out"),
    "deceased": ("死亡", "deceased"),
    "waiting_period": ("待遇等待期", "waiting period"),
    "arrears": ("欠费", "in arrears"),
    "retiree_years_short": ("退休人员缴费年限不足", "retiree contribution years short"),
}


STATE_NAMES = {
    "active": ("在职参保", "insured"),
    "suspended": ("暂停参保", "suspended"),
    "terminated": ("终止参保", "terminated"),
    "transferred_out": ("关系已转出", "transferred out"),
    "deceased": ("死亡", "deceased"),
    "left": ("已离开本单位", "left this employer"),
    "": ("—", "—"),
}


def _staff(caller: Principal | None) -> None:
    if caller is not None and caller.role not in STAFF_ROLES:
        raise Forbidden(
            f"角色 {caller.role} 不能查看参保征缴数据 role {caller.role} may not read enrolment figures"
        )


def has_data(frames: dict[str, pl.DataFrame]) -> bool:
    return frames["persons"].height > 0


def bureau_figures(
    caller: Principal | None, frames: dict[str, pl.DataFrame], store: EnrolmentStore, year: int, on: dt.date
) -> dict[str, Any]:
    """参保与征缴: the collection of benefit year ``year``, coverage by district on ``on`` (参保率: relation
    normal; 待遇享受率: may use benefits that day), continuity (续保率) by scheme, arrears (欠费) by employer, and
    who cannot use their benefits on ``on`` by reason."""
    _staff(caller)
    return region_figures(frames, store, year, on)


def region_figures(
    frames: dict[str, pl.DataFrame], store: EnrolmentStore, year: int, on: dt.date
) -> dict[str, Any]:
    """The figures of :func:`bureau_figures`, without the caller check (for a page that has checked the
    caller itself and keeps the figures while the tables do not change, and for its start-up warm-up)."""
    pol = store.policy
    people = frames["persons"].select(
        "psn_no", pl.lit(on).alias("visit_date"), pl.lit("11").alias("med_type")
    )
    statuses = status_frame(statuses_from_frames(frames, pol))
    checked = check_frame(people, statuses, pol.account_only_med_types)
    arrears = arrears_by_employer(frames["contributions"], on, pol)
    names = (
        dict(frames["employers"].select("emp_no", "name").iter_rows()) if frames["employers"].height else {}
    )
    return {
        "year": year,
        "on": on,
        "persons": frames["persons"].height,
        "collection": collection_report(frames["premiums"], year, pol),
        "coverage_by_district": coverage_by_district(frames["persons"], checked).to_dicts(),
        "continuity": continuity_rate(frames["contributions"], frames["premiums"], year).to_dicts(),
        "arrears_by_employer": [
            {**r, "name": names.get(r["emp_no"], r["emp_no"])} for r in arrears.head(50).to_dicts()
        ],
        "arrears_total_fen": int(arrears["amount_fen"].sum() or 0),
        "not_covered_on_day": [
            {
                **r,
                "name_zh": REASON_NAMES.get(r["reason_code"], (r["reason_code"],) * 2)[0],
                "name_en": REASON_NAMES.get(r["reason_code"], (r["reason_code"],) * 2)[1],
            }
            for r in checked.filter(~pl.col("covered"))
            .group_by("reason_code")
            .agg(pl.len().alias("persons"), pl.col("reason_zh").first(), pl.col("reason_en").first())
            .sort("persons", "reason_code", descending=[True, False])
            .head(20)
            .to_dicts()
        ],
    }


def check_employer(caller: Principal | None, emp_no: str) -> None:
    """Forbidden unless the caller is the bureau or the employer ``emp_no`` itself."""
    if caller is not None and not can_act_for_employer(caller, emp_no):
        raise Forbidden(
            f"无权查看或申报参保单位 {emp_no} 的数据 not allowed to read or declare for employer {emp_no}"
        )


def employer_view(
    caller: Principal | None, frames: dict[str, pl.DataFrame], store: EnrolmentStore, emp_no: str, on: dt.date
) -> dict[str, Any]:
    """单位参保: an employer's roster (persons whose current relation is with it, and those who left), each
    employee's last declared month and unpaid months, and the employer's arrears on ``on``.  The bureau
    (auditor, admin) sees any employer; an employer login only its own."""
    check_employer(caller, emp_no)
    emp = frames["employers"].filter(pl.col("emp_no") == emp_no)
    if emp.height == 0:
        raise FieldError("emp_no", f"参保单位不存在 unknown employer {emp_no}", "unknown")
    pol = store.policy
    contrib = frames["contributions"].filter(pl.col("emp_no") == emp_no)
    per_person = contrib.group_by("psn_no").agg(
        pl.col("month").max().alias("last_month"),
        pl.col("paid_on").is_null().sum().cast(pl.Int64).alias("unpaid_months"),
        pl.col("base_fen").sort_by("month").last().alias("base_fen"),
    )
    roster = (
        frames["persons"]
        .filter(pl.col("rel_emp_no") == emp_no)
        .select("psn_no", "name", "rel_state", "rel_psn_type", "rel_since")
        .join(per_person, on="psn_no", how="full", coalesce=True)
        .join(frames["persons"].select("psn_no", pl.col("name").alias("name2")), on="psn_no", how="left")
        .with_columns(pl.coalesce("name", "name2").alias("name"), pl.col("rel_state").fill_null("left"))
        .drop("name2")
        .sort("psn_no")
    )
    arrears = arrears_by_employer(contrib, on, pol)
    unpaid = contrib.filter(pl.col("paid_on").is_null() | (pl.col("paid_on") > pl.lit(on))).sort(
        "month", "psn_no"
    )
    return {
        "emp_no": emp_no,
        "name": emp["name"][0],
        "district": emp["district"][0],
        "on": on,
        "roster": [
            {
                **r,
                "state_zh": STATE_NAMES.get(r["rel_state"], (r["rel_state"],) * 2)[0],
                "state_en": STATE_NAMES.get(r["rel_state"], (r["rel_state"],) * 2)[1],
            }
            for r in roster.to_dicts()
        ],
        "arrears": arrears.to_dicts()[0] if arrears.height else None,
        "unpaid": unpaid.select("psn_no", "month", "employer_fen", "individual_fen").to_dicts(),
        "grace_months": pol.arrears_grace_months,
    }


def upload_roster(
    caller: Principal, led: Ledger, store: EnrolmentStore, path: Path, emp_no: str | None = None
) -> ImportSummary:
    """单位月度申报: an employer login (or an administrator) imports a monthly roster file — all rows or none,
    every bad row reported (line, column, reason, Chinese first).  An employer declares only for itself:
    each row naming another employer is a row error (an administrator's upload for ``emp_no`` likewise).
    The persons' new schemes and types then reach the ledger (:func:`sync_ledger`)."""
    if caller.role not in ("employer", "admin"):
        raise Forbidden(f"角色 {caller.role} 不能申报单位花名册 role {caller.role} may not upload a roster")
    if emp_no is not None:
        check_employer(caller, emp_no)
    rows = read_roster(path)  # the file's own shape first: ImportRejected with its bad rows
    own = caller.emp_no if caller.role == "employer" else emp_no
    if own is not None:
        foreign = [
            RowError(r.row, "emp_no", f"不是本单位（{own}）的编号 {r.emp_no} is not your employer ({own})")
            for r in rows
            if r.emp_no != own
        ]
        if foreign:
            raise ImportRejected(foreign[:1000], len(foreign))
    out = store.import_roster(path)
    sync_ledger(led, store, sorted({r.psn_no for r in rows}))
    return out


def employers(frames: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:
    return frames["employers"].sort("emp_no").to_dicts()


def income_for_year(store: EnrolmentStore, year: int, basis: str = "cash") -> pl.DataFrame | None:
    """The fund income of ``year`` in the enrolment ``income_frame`` shape (month, fund_pay_type, source,
    amount_fen) from the contributions and premiums recorded; None when the region has no enrolment data
    (the fund then books its stand-in)."""
    frames = store.frames()
    if not has_data(frames):
        return None
    inc = income_frame(frames["contributions"], frames["premiums"], store.policy, basis=basis)  # type: ignore[arg-type]
    return inc.filter(pl.col("month").str.starts_with(f"{year}-"))


def sync_ledger(led: Ledger, store: EnrolmentStore, psn_nos: Sequence[str] | None = None) -> list[str]:
    """Carry the registry's current relation to the ledger's person rows: a person's scheme (险种) and
    person type (人员类别) as the last relation event left them (an employee who retired, a resident hired
    by an employer, a transfer into another scheme) become the ledger's, which settlement reads for the
    person.  ``psn_nos``: only these persons (those an import or an event just changed); None: everyone
    registered.  Persons the ledger does not hold and persons never enrolled are left alone; whether a
    person may use benefits on a day (suspended, deceased, waiting …) stays the benefit check's answer.
    Returns the psn_nos whose ledger row changed.  Everyone: the ledger's persons are read first and only
    their relations asked for (a registry of millions is not read for a ledger of thousands)."""
    if psn_nos is None:
        psn_nos = sorted(led.person_schemes())
    rels = store.relations(psn_nos) if psn_nos else []
    return led.set_schemes((r.psn_no, r.insutype, r.psn_type) for r in rels if r.insutype and r.psn_type)


def store_for(database_url: str, loaded_region: Any) -> EnrolmentStore | None:
    """The enrolment tables of ``database_url`` under the region's enrolment file; None when the region has
    no enrolment file."""
    from yibao.enrolment.policy import policy_for_region

    policy = policy_for_region(loaded_region)
    return None if policy is None else EnrolmentStore(database_url, policy, migrate=False)


def fund_income(database_url: str, loaded_region: Any, year: int, basis: str = "cash") -> pl.DataFrame | None:
    """What the fund books as ``year``'s income: the enrolment contributions and premiums when the region has
    enrolment data (``cash``: money in the month paid; ``accrual``: employee months in their month, resident
    money evenly over its benefit year), else None (the fund's stand-in)."""
    store = store_for(database_url, loaded_region)
    if store is None:
        return None
    try:
        return income_for_year(store, year, basis) if store.has_persons() else None
    finally:
        store.close()


def fund_members(database_url: str, loaded_region: Any, year: int) -> pl.DataFrame | None:
    """The insured persons at the end of each month of ``year`` by scheme and person type, from the
    enrolment relation history (:func:`~yibao.enrolment.figures.insured_by_month`) — what the fund's
    per-person indicators divide by; None when the region keeps no enrolment data (the fund then uses the
    register's count)."""
    store = store_for(database_url, loaded_region)
    if store is None:
        return None
    try:
        if not store.has_persons():
            return None
        frames = store.frames()
    finally:
        store.close()
    months = [f"{year:04d}-{m:02d}" for m in range(1, 13)]
    return insured_by_month(frames["events"], frames["premiums"], months)
