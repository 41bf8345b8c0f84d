"""The benefit check the settlement path calls (pure, fast), its vectorised twin for batch, and the national
2001 人员待遇享受检查 answer.

* :func:`check` — one visit: a binary search in the person's compiled :class:`PersonStatus`
  (no allocation: it returns the interval's ready-made :class:`Eligibility`).
* :func:`status_frame` / :func:`check_frame` — the same answers for a frame of visits (Polars + numpy),
  identical to :func:`check` row by row (a property test holds them together).
* :func:`trtinfo_2001` — the 2001 ``output.trtinfo`` rows for a visit (fields documented in
  docs/ENROLMENT.md §5).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl

from yibao.enrolment.eligibility import PersonStatus
from yibao.enrolment.history import RelationStatus
from yibao.enrolment.model import EMPLOYEE, RESIDENT, Eligibility
from yibao.money import fen_to_yuan

NOT_ENROLLED = Eligibility(
    covered=False,
    reason_code="not_enrolled",
    reason_zh="未参加本统筹区基本医疗保险",
    reason_en="not enrolled in basic medical insurance in this region",
)


def check(status: PersonStatus | None, visit_date: dt.date, med_type: str) -> Eligibility:
    """The eligibility of a visit beginning on ``visit_date`` of visit type ``med_type``.

    ``status`` None (a person the enrolment registry does not know) is answered "not enrolled"."""
    if status is None:
        return NOT_ENROLLED
    i = bisect_right(status.starts, visit_date.toordinal()) - 1
    if i < 0:
        return NOT_ENROLLED
    if med_type in status.account_only_types:
        return status.account_only[i]
    return status.decisions[i]


# ----------------------------------------------------------------------------- vectorised (batch)
FRAME_FIELDS: dict[str, Any] = {
    "covered": pl.Boolean,
    "reason_code": pl.String,
    "reason_zh": pl.String,
    "reason_en": pl.String,
    "insutype": pl.String,
    "psn_type": pl.String,
    "psn_insu_stas": pl.String,
    "since": pl.Date,
    "until": pl.Date,
    "self_pay_instead": pl.Boolean,
    "account_usable": pl.Boolean,
    "continuous_years": pl.Int32,
    "ci_cap_uplift_fen": pl.Int64,
    "ci_uplift_max_share": pl.Int32,
    "waiting_months": pl.Int32,
    "source": pl.String,
}
STATUS_SCHEMA: dict[str, Any] = {
    "psn_no": pl.String,
    "start": pl.Date,
    "account_only_types": pl.List(pl.String),
    **FRAME_FIELDS,
    "account_usable_account_only": pl.Boolean,
}


def status_frame(statuses: Iterable[PersonStatus]) -> pl.DataFrame:
    """Flatten compiled statuses: one row per interval (``psn_no``, ``start`` and the decision's fields;
    ``account_usable_account_only`` is the account flag for account-only visit types, the only field
    in which the two decisions of an interval differ)."""
    cols: dict[str, list[Any]] = {k: [] for k in STATUS_SCHEMA}
    for st in statuses:
        types = sorted(st.account_only_types)
        for i, start in enumerate(st.starts):
            d, a = st.decisions[i], st.account_only[i]
            cols["psn_no"].append(st.psn_no)
            cols["start"].append(dt.date.fromordinal(start))
            cols["account_only_types"].append(types)
            for k in FRAME_FIELDS:
                cols[k].append(getattr(d, k))
            cols["account_usable_account_only"].append(a.account_usable)
    return pl.DataFrame(cols, schema=STATUS_SCHEMA)


def check_frame(
    visits: pl.DataFrame, statuses: pl.DataFrame, account_only_types: Iterable[str]
) -> pl.DataFrame:
    """:func:`check` for every row of ``visits`` (columns ``psn_no``, ``visit_date`` Date, ``med_type``)
    against a :func:`status_frame`; returns ``visits`` with the decision's fields appended, in order.

    A person without intervals, or a visit before the first interval, gets the "not enrolled" answer."""
    n = visits.height
    types = list(account_only_types)
    defaults = {k: getattr(NOT_ENROLLED, k) for k in FRAME_FIELDS}
    if statuses.height == 0 or n == 0:
        return visits.with_columns(
            **{k: pl.lit(defaults[k], dtype=dt_).alias(k) for k, dt_ in FRAME_FIELDS.items()}
        )
    st = statuses.sort(["psn_no", "start"])
    ids = st.select(pl.col("psn_no").unique(maintain_order=True)).with_row_index("pid")
    st_pid = st.join(ids, on="psn_no", how="left", maintain_order="left")["pid"].cast(pl.Int64).to_numpy()
    vp = (
        visits.select("psn_no")
        .join(ids, on="psn_no", how="left", maintain_order="left")["pid"]
        .cast(pl.Int64)
        .fill_null(-1)
        .to_numpy()
    )
    # one sorted key per (person, day): pid × 2^22 + day number (days since 1970 + 2^21 stay below 2^22)
    shift = 1 << 21
    s_key = st_pid * (1 << 22) + (st["start"].cast(pl.Int32).to_numpy().astype(np.int64) + shift)
    v_key = vp * (1 << 22) + (visits["visit_date"].cast(pl.Int32).to_numpy().astype(np.int64) + shift)
    idx = np.searchsorted(s_key, v_key, side="right") - 1
    safe = np.clip(idx, 0, st.height - 1)
    found = (vp >= 0) & (idx >= 0) & (st_pid[safe] == vp)
    acct = visits["med_type"].is_in(types).to_numpy() if types else np.zeros(n, dtype=bool)
    picked = st.select(*FRAME_FIELDS, "account_usable_account_only")[pl.Series(safe)].with_columns(
        _found=pl.Series(found), _acct=pl.Series(acct)
    )
    cols = []
    for k, dtype in FRAME_FIELDS.items():
        value = pl.col(k)
        if k == "account_usable":
            value = pl.when(pl.col("_acct")).then(pl.col("account_usable_account_only")).otherwise(value)
        cols.append(
            pl.when(pl.col("_found")).then(value).otherwise(pl.lit(defaults[k], dtype=dtype)).alias(k)
        )
    return pl.concat([visits, picked.select(cols)], how="horizontal")


# ----------------------------------------------------------------------------- national shapes
FUND_NAMES = {
    "310100": "职工基本医疗保险统筹基金",
    "310200": "职工基本医疗保险个人账户",
    "390100": "城乡居民基本医疗保险基金",
    "390200": "城乡居民大病医疗保险基金",
    "610100": "医疗救助基金",
}
TRT_CHK_TYPE_FUND = "01"  # 待遇检查类型: 01 基金 (99 其他)


def _fund_types(
    e: Eligibility, identities: frozenset[str], assistance_identities: frozenset[str]
) -> list[str]:
    if e.insutype == EMPLOYEE:
        out = ["310100", "310200"]
    elif e.insutype == RESIDENT:
        out = ["390100", "390200"]
    else:
        out = []
    if identities & assistance_identities:
        out.append("610100")
    return out


def trtinfo_2001(
    psn_no: str,
    e: Eligibility,
    *,
    identities: frozenset[str] = frozenset(),
    assistance_identities: frozenset[str] = frozenset({"DB", "TK", "FP", "DBBY"}),
    insutype: str = "",
) -> list[dict[str, str]]:
    """The 2001 ``output.trtinfo`` rows for a checked visit: one row per fund the person's scheme has
    (``fund_pay_type``), ``trt_enjymnt_flag`` "1" 享受 / "0" 不享受, ``begndate``/``enddate`` the bounds of
    the status, ``trt_chk_rslt`` the reason when not enjoyed.  ``insutype`` given in the 2001 input: a
    check for a scheme the person is not in answers "0" for that scheme's funds.  The personal account
    (310200) follows ``account_usable``."""
    wrong_scheme = bool(insutype) and bool(e.insutype) and insutype != e.insutype
    rows = []
    types = _fund_types(e, identities, assistance_identities)
    if not types and insutype in (EMPLOYEE, RESIDENT):
        types = ["310100", "310200"] if insutype == EMPLOYEE else ["390100", "390200"]
    for fpt in types:
        enjoyed = (e.account_usable if fpt == "310200" else e.covered) and not wrong_scheme
        reason = "" if enjoyed else (e.reason_zh if not wrong_scheme else f"未参加该险种（{insutype}）")
        rows.append(
            {
                "psn_no": psn_no,
                "trt_chk_type": TRT_CHK_TYPE_FUND,
                "fund_pay_type": fpt,
                "trt_enjymnt_flag": "1" if enjoyed else "0",
                "begndate": e.since.isoformat() if e.since else "",
                "enddate": e.until.isoformat() if e.until else "",
                "trt_chk_rslt": reason[:500],
            }
        )
    return rows


def refusal(e: Eligibility) -> dict[str, object]:
    """The national error shape for a refused visit (``infcode`` −1 with ``err_msg``), or the self-paid
    note when policy settles it fully self-paid instead; None fields when covered."""
    if e.covered:
        return {"infcode": 0, "err_msg": ""}
    if e.self_pay_instead:
        return {
            "infcode": 0,
            "err_msg": "",
            "selfpay": True,
            "warn_msg": f"{e.reason_zh}：本次按全自费结算 settled fully self-paid ({e.reason_en})",
        }
    return {
        "infcode": -1,
        "err_msg": f"人员待遇享受检查未通过：{e.reason_zh} (benefit check failed: {e.reason_en})",
        "field": "input.psn_no",
        "code": e.reason_code,
    }


def insuinfo_1101(
    rel: RelationStatus, *, insuplc_admdvs: str, emp_name: str = "", balc_fen: int = 0
) -> dict[str, object]:
    """The 1101 ``insuinfo`` row of the person's relation on the day (:func:`~yibao.enrolment.history.status_on`):
    ``psn_insu_stas`` from the national dictionary, ``psn_insu_date`` 参保日期, ``paus_insu_date`` 暂停参保日期."""
    return {
        "insutype": rel.insutype,
        "psn_type": rel.psn_type,
        "psn_insu_stas": rel.psn_insu_stas,
        "psn_insu_date": rel.psn_insu_date.isoformat() if rel.psn_insu_date else "",
        "paus_insu_date": rel.paus_insu_date.isoformat() if rel.paus_insu_date else "",
        "cvlserv_flag": "0",
        "insuplc_admdvs": insuplc_admdvs,
        "emp_name": emp_name,
        "balc": str(fen_to_yuan(balc_fen)),
    }


def by_psn(statuses: Iterable[PersonStatus]) -> Mapping[str, PersonStatus]:
    """psn_no → status (the in-memory index a settlement process keeps)."""
    return {s.psn_no: s for s in statuses}
