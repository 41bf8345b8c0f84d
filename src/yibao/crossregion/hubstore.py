"""The hub's clearing records on its own database: disputes (疑点) and closed months (positions and
prepayments), and the month's clearing computed from the route log."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from yibao.crossregion.clearing import Dispute, MonthClearing, clear_month, routes_from_rows
from yibao.crossregion.filing import FilingError
from yibao.crossregion.schema import xr_clearing, xr_dispute, xr_route


def _month(value: str, field: str) -> str:
    try:
        dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise FilingError(field, f"月份格式应为 YYYY-MM invalid month: {value!r}") from None
    return value


class ClearingStore:
    def __init__(self, engine: sa.Engine, prepay_months: int, history_months: int) -> None:
        self.engine = engine
        self.prepay_months = prepay_months
        self.history_months = history_months

    def disputes(self) -> list[Dispute]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(xr_dispute)).fetchall()
        return [Dispute(r.msgid, r.raised, r.state, r.resolved, r.reason) for r in rows]

    def raise_dispute(self, msgid: str, month: str, reason: str) -> Dispute:
        month = _month(month, "month")
        with self.engine.begin() as c:
            if c.execute(sa.select(xr_route.c.status).where(xr_route.c.msgid == msgid)).scalar() != "settled":
                raise FilingError(
                    "msgid", f"清算中心没有已结算的报文 {msgid!r} no settled route", "unknown_route"
                )
            if c.execute(sa.select(xr_dispute.c.msgid).where(xr_dispute.c.msgid == msgid)).first():
                raise FilingError("msgid", f"报文 {msgid} 已有疑点 already disputed", "duplicate")
            c.execute(xr_dispute.insert().values(msgid=msgid, raised=month, state="open", reason=reason))
        return Dispute(msgid, month, "open", "", reason)

    def decide(self, msgid: str, state: str, month: str) -> None:
        month = _month(month, "month")
        if state not in ("accepted", "rejected"):
            raise FilingError("state", f"应为 accepted 或 rejected: {state!r}")
        with self.engine.begin() as c:
            n = c.execute(
                xr_dispute.update()
                .where(xr_dispute.c.msgid == msgid, xr_dispute.c.state == "open")
                .values(state=state, resolved=month)
            ).rowcount
        if not n:
            raise FilingError("msgid", f"没有未决疑点 {msgid!r} no open dispute", "unknown_dispute")

    def _past(self, month: str) -> tuple[dict[str, list[int]], dict[str, int]]:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(xr_clearing).where(xr_clearing.c.month < month).order_by(xr_clearing.c.month)
            ).fetchall()
        history: dict[str, list[int]] = defaultdict(list)
        balances: dict[str, int] = {}
        for r in rows:
            history[r.region].append(r.payable)
            balances[r.region] = r.after_clearing + r.top_up
        return dict(history), balances

    def compute(self, month: str) -> MonthClearing:
        month = _month(month, "month")
        with self.engine.connect() as c:
            rows = [dict(r._mapping) for r in c.execute(sa.select(xr_route)).fetchall()]
        history, balances = self._past(month)
        return clear_month(
            month,
            routes_from_rows(rows),
            self.disputes(),
            history={k: v[-self.history_months :] for k, v in history.items()},
            balances=balances,
            prepay_months=self.prepay_months,
        )

    def closed(self, month: str) -> bool:
        with self.engine.connect() as c:
            return (
                c.execute(sa.select(xr_clearing.c.region).where(xr_clearing.c.month == month)).first()
                is not None
            )

    def close(self, month: str) -> MonthClearing:
        """Clear ``month`` and keep its positions and prepayments; a month is closed once."""
        c = self.compute(month)
        if self.closed(month):
            raise FilingError("month", f"{month} 已清算 already cleared", "closed")
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.engine.begin() as conn:
            for k, pos in c.positions.items():
                p = c.prepayments[k]
                conn.execute(
                    xr_clearing.insert().values(
                        month=month, region=k, receivable=pos.receivable, payable=pos.payable, net=pos.net,
                        opening=p.opening, after_clearing=p.after_clearing, target=p.target, top_up=p.top_up,
                        closed=now,
                    )
                )  # fmt: skip
        return c
