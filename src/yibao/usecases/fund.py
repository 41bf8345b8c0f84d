"""Fund use cases that join the fund accounts with another capability's records.

* :func:`cleared_outflow` — the outflow cleared with other regions (跨省异地就医清算) as the early warning's
  cross-region indicator reads it.  The clearing hub sends each region its closed months (the hub's
  ``/hub/v1/clearing/{month}`` document: pairs of care and insured region with their statement lines); this
  region's insured-side records (``xr_inbound``: msgid → the settlement its own ledger wrote) say which
  scheme each line belongs to and what the funds paid.  The result is data the fund stores
  (:meth:`yibao.fund.store.FundStore.record_cleared_outflow`); the fund core never reads the cross-region
  tables.

A routed settlement is in this region's ledger already (the insured region settles it with its own policy),
so the warning must not count it twice: per month and scheme the result carries what the hub cleared that
month (``cleared_fen``, the funds' part, by clearing month — a disputed line clears when it is accepted,
a rejected one never) and what the ledger holds of the routed settlements for that settlement month
(``routed_fen``), which the cleared figure replaces.  Months after the last cleared month keep the
ledger's figure (nothing is replaced before it is cleared)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from yibao.errors import FieldError

CLEARED_SCHEMA: dict[str, Any] = {
    "month": pl.String,
    "insutype": pl.String,
    "cleared_fen": pl.Int64,
    "cleared_lines": pl.Int64,
    "routed_fen": pl.Int64,
    "routed_lines": pl.Int64,
}


@dataclass(frozen=True)
class ClearedOutflow:
    """Per month and scheme (:data:`CLEARED_SCHEMA`), with what did not reconcile: statement lines this
    region has no settled record of (``unmatched``: msgid → month) and lines whose amount differs from the
    record (``differs``: msgid → (statement owed, own owed)); routed records whose settlement is not active
    in the ledger (``not_in_ledger``).  What does not reconcile is left out of the figure and listed, never
    guessed."""

    rows: pl.DataFrame
    months: tuple[str, ...]
    unmatched: dict[str, str]
    differs: dict[str, tuple[int, int]]
    not_in_ledger: tuple[str, ...] = ()


def _int(v: Any, field: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise FieldError(field, f"须为整数（分） must be whole fen, not {v!r}") from None


def cleared_outflow(
    clearings: Sequence[Mapping[str, Any]],
    region: str,
    inbound: Sequence[Mapping[str, Any]],
    settled: pl.DataFrame,
) -> ClearedOutflow:
    """This region's (``region``, admdvs) outflow as cleared by the hub in ``clearings`` (closed months
    only), per month and scheme.  ``inbound``: the insured side's records of routed settlements (msgid,
    status, setl_id); ``settled``: the ledger's active settlements (setl_id, insutype, month of the
    visit's end, fund_pay_sumamt, acct_pay)."""
    for col in ("setl_id", "insutype", "month", "fund_pay_sumamt", "acct_pay"):
        if col not in settled.columns:
            raise FieldError(f"settled.{col}", "缺少该列 required column is missing", "missing")
    own = {
        str(r["setl_id"]): (
            str(r["insutype"]),
            str(r["month"]),
            int(r["fund_pay_sumamt"]),
            int(r["acct_pay"]),
        )
        for r in settled.select("setl_id", "insutype", "month", "fund_pay_sumamt", "acct_pay").iter_rows(
            named=True
        )
    }
    routed_msg: dict[str, tuple[str, str, int, int]] = {}
    not_in_ledger: list[str] = []
    for i, r in enumerate(inbound):
        if str(r.get("status") or "") != "settled":
            continue
        hit = own.get(str(r.get("setl_id") or ""))
        if hit is None:  # a reconciliation break (对账不平): listed, and its statement line left out
            not_in_ledger.append(str(r.get("msgid") or f"inbound[{i}]"))
            continue
        routed_msg[str(r["msgid"])] = hit
    cleared: dict[tuple[str, str], list[int]] = {}
    unmatched: dict[str, str] = {}
    differs: dict[str, tuple[int, int]] = {}
    months: list[str] = []
    for i, doc in enumerate(clearings):
        month = str(doc.get("month") or "")
        if len(month) != 7 or month[4] != "-":
            raise FieldError(f"clearings[{i}].month", f"月份格式应为 YYYY-MM: {month!r} is not a month")
        if doc.get("closed") is not True:
            raise FieldError(
                f"clearings[{i}].closed",
                f"{month} 尚未关账，清算结果未定 the month is not closed yet",
                "not_closed",
            )
        if month in months:
            raise FieldError(f"clearings[{i}].month", f"{month} 重复 given twice", "duplicate")
        months.append(month)
        for j, pair in enumerate(doc.get("pairs") or []):
            if str(pair.get("insu_admdvs") or "") != region:
                continue
            lines = (pair.get("statement") or {}).get("lines")
            if not isinstance(lines, list):
                raise FieldError(f"clearings[{i}].pairs[{j}].statement.lines", "须为列表 must be a list")
            for k, ln in enumerate(lines):
                msgid = str(ln.get("msgid") or "")
                owed = _int(ln.get("owed_fen"), f"clearings[{i}].pairs[{j}].statement.lines[{k}].owed_fen")
                rec = routed_msg.get(msgid)
                if rec is None:
                    unmatched[msgid] = month
                    continue
                scheme, _, fund, acct = rec
                if owed != fund + acct:
                    differs[msgid] = (owed, fund + acct)
                    continue
                acc = cleared.setdefault((month, scheme), [0, 0])
                acc[0] += fund
                acc[1] += 1
    last = max(months) if months else ""
    routed: dict[tuple[str, str], list[int]] = {}
    for scheme, month, fund, _ in routed_msg.values():
        if month <= last:
            acc = routed.setdefault((month, scheme), [0, 0])
            acc[0] += fund
            acc[1] += 1
    keys = sorted(set(cleared) | set(routed))
    rows = pl.DataFrame(
        [(m, sc, *cleared.get((m, sc), [0, 0]), *routed.get((m, sc), [0, 0])) for m, sc in keys],
        schema=CLEARED_SCHEMA,
        orient="row",
    )
    return ClearedOutflow(rows, tuple(sorted(months)), unmatched, differs, tuple(sorted(not_in_ledger)))
