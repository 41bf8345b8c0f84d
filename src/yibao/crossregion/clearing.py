"""Monthly clearing between regions (跨省异地就医费用清算) and reconciliation (对账) — pure core.

* **What is owed.**  For every visitor's settlement that stands (status ``settled``) the insured region owes
  the care region what the care region advanced to its hospital for it: the funds' part and the personal
  account's part (``fund_pay_sumamt + acct_pay``); the cash part the patient paid at the hospital.
* **Pairs and netting.**  Per (care region, insured region) and month, the amount is the sum of its lines;
  each region's net position is what it is owed as a care region minus what it owes as an insured region.
  Every line enters exactly two positions with opposite signs, so the positions sum to zero to the fen.
* **Disputes (疑点).**  A settlement the insured region disputes is held out of the month and carried to the
  next; when it is accepted it clears in the month of acceptance, when rejected it never clears (the care
  region recovers it from its hospital).
* **Prepayment funds (预付金).**  Each region keeps a prepayment sized from history: ``prepay_months`` ×
  its average monthly outflow as an insured region over the last ``history_months`` cleared months.  After
  each month the net position moves the balance and the region tops up (or draws down) to the new size.
* **Statements.**  Each side gets the pair's lines; :func:`verify_statement` checks them line by line
  against the side's own records.
* **Reconciliation.**  :func:`reconcile` compares two sides' records of the same settlements and lists the
  breaks (missing on one side, amount differs, status differs); :func:`resolution` says how each is closed.

Money is integer fen throughout; nothing here reads a clock, a file or a database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from yibao.money import div_half_up


@dataclass(frozen=True, slots=True)
class Route:
    """One visitor's settlement as the hub logged it."""

    msgid: str
    care: str
    insu: str
    status: str  # settled / reversed / refused / …
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    month: str  # YYYY-MM of the settlement date

    @property
    def owed(self) -> int:
        """What the insured region owes the care region for it."""
        return self.fund_pay_sumamt + self.acct_pay


@dataclass(frozen=True, slots=True)
class Dispute:
    msgid: str
    raised: str  # month it was raised
    state: Literal["open", "accepted", "rejected"] = "open"
    resolved: str = ""  # month it was accepted or rejected
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PairLine:
    msgid: str
    owed: int
    medfee_sumamt: int
    carried_from: str = ""  # a dispute accepted this month, from the month it was settled


@dataclass(frozen=True)
class Pair:
    care: str
    insu: str
    month: str
    lines: tuple[PairLine, ...]
    held: tuple[str, ...]  # msgids disputed and carried to the next month

    @property
    def amount(self) -> int:
        return sum(x.owed for x in self.lines)


@dataclass(frozen=True)
class Position:
    region: str
    receivable: int  # as a care region
    payable: int  # as an insured region

    @property
    def net(self) -> int:
        return self.receivable - self.payable


@dataclass(frozen=True)
class Prepayment:
    region: str
    opening: int
    net: int
    after_clearing: int
    target: int
    top_up: int  # > 0 paid in by the region, < 0 drawn back

    @property
    def closing(self) -> int:
        return self.after_clearing + self.top_up


@dataclass(frozen=True)
class MonthClearing:
    month: str
    pairs: tuple[Pair, ...]
    positions: dict[str, Position]
    prepayments: dict[str, Prepayment]
    carried: tuple[Dispute, ...]  # still open after this month

    @property
    def net_sum(self) -> int:
        return sum(p.net for p in self.positions.values())


def clear_month(
    month: str,
    routes: Iterable[Route],
    disputes: Iterable[Dispute] = (),
    *,
    history: Mapping[str, Sequence[int]] | None = None,
    balances: Mapping[str, int] | None = None,
    prepay_months: int = 2,
) -> MonthClearing:
    """Clear ``month``: the pairs (lines of the month's standing settlements not held by an open dispute,
    plus disputes accepted this month from earlier months), each region's position, and its prepayment
    (``history``: the region's monthly outflows as an insured region, oldest first, this month excluded;
    ``balances``: prepayment balances before clearing).  ``routes`` may hold any months: a dispute
    accepted now clears its route whenever it was settled."""
    by_msgid: dict[str, Route] = {}
    this_month: list[Route] = []
    dmap = {d.msgid: d for d in disputes}
    for r in routes:
        if r.status != "settled":
            continue
        if r.msgid in dmap:
            by_msgid[r.msgid] = r
        if r.month == month:
            this_month.append(r)
    lines: dict[tuple[str, str], list[PairLine]] = defaultdict(list)
    held: dict[tuple[str, str], list[str]] = defaultdict(list)
    carried: list[Dispute] = []
    for r in this_month:
        d = dmap.get(r.msgid) if dmap else None
        if d is None:
            lines[(r.care, r.insu)].append(PairLine(r.msgid, r.fund_pay_sumamt + r.acct_pay, r.medfee_sumamt))
            continue
        state = _state_at(d, month)
        if state == "open":
            held[(r.care, r.insu)].append(r.msgid)
        elif state != "rejected":
            lines[(r.care, r.insu)].append(PairLine(r.msgid, r.owed, r.medfee_sumamt))
    for d in dmap.values():
        orig = by_msgid.get(d.msgid)
        if orig is None or orig.month > month:
            continue
        state = _state_at(d, month)
        if state == "accepted" and d.resolved == month and orig.month < month:
            key = (orig.care, orig.insu)
            lines[key].append(PairLine(orig.msgid, orig.owed, orig.medfee_sumamt, carried_from=orig.month))
        elif state == "open":
            carried.append(d)
    pairs = tuple(
        Pair(
            care,
            insu,
            month,
            tuple(sorted(lines.get((care, insu), []), key=_by_msgid)),
            tuple(sorted(held.get((care, insu), []))),
        )
        for care, insu in sorted(set(lines) | set(held))
    )
    recv: dict[str, int] = defaultdict(int)
    pay: dict[str, int] = defaultdict(int)
    regions: set[str] = set(balances or {}) | set(history or {})
    for p in pairs:
        recv[p.care] += p.amount
        pay[p.insu] += p.amount
        regions |= {p.care, p.insu}
    positions = {k: Position(k, recv[k], pay[k]) for k in sorted(regions)}
    prepay: dict[str, Prepayment] = {}
    for k, pos in positions.items():
        opening = (balances or {}).get(k, 0)
        after = opening + pos.net
        target = prepayment_size([*(history or {}).get(k, ()), pos.payable], prepay_months)
        prepay[k] = Prepayment(k, opening, pos.net, after, target, target - after)
    return MonthClearing(month, pairs, positions, prepay, tuple(sorted(carried, key=lambda d: d.msgid)))


_by_msgid = attrgetter("msgid")


def _state_at(d: Dispute, month: str) -> str:
    """A dispute's state as the clearing of ``month`` sees it (a later decision is not known yet)."""
    if d.state != "open" and d.resolved and d.resolved <= month:
        return d.state
    return "open"


def prepayment_size(outflows: Sequence[int], months: int, window: int = 3) -> int:
    """预付金 = ``months`` × the average of the last ``window`` monthly outflows (half up, to the fen)."""
    recent = list(outflows[-window:])
    if not recent:
        return 0
    return div_half_up(months * sum(recent), len(recent))


# ---------------------------------------------------------------------------- statements
@dataclass(frozen=True)
class StatementLine:
    msgid: str
    owed: int


@dataclass(frozen=True)
class Statement:
    """The clearing statement of one pair and month, as each side receives it."""

    care: str
    insu: str
    month: str
    lines: tuple[StatementLine, ...]
    total: int


def statement(p: Pair) -> Statement:
    return Statement(
        p.care, p.insu, p.month, tuple(StatementLine(x.msgid, x.owed) for x in p.lines), p.amount
    )


BreakKind = Literal["missing_here", "missing_there", "amount_differs", "status_differs"]


@dataclass(frozen=True)
class Break:
    msgid: str
    kind: BreakKind
    here: str  # this side's value (status or amount), '' when missing
    there: str


def verify_statement(st: Statement, own: Mapping[str, int]) -> list[Break]:
    """Check a statement line by line against one side's own records (msgid → what it counts as owed for
    the pair and month); empty when every line agrees, nothing is missing and the total adds up."""
    out: list[Break] = []
    seen: set[str] = set()
    for ln in st.lines:
        seen.add(ln.msgid)
        mine = own.get(ln.msgid)
        if mine is None:
            out.append(Break(ln.msgid, "missing_here", "", str(ln.owed)))
        elif mine != ln.owed:
            out.append(Break(ln.msgid, "amount_differs", str(mine), str(ln.owed)))
    for m in sorted(set(own) - seen):
        out.append(Break(m, "missing_there", str(own[m]), ""))
    if sum(x.owed for x in st.lines) != st.total:
        out.append(Break("", "amount_differs", str(sum(x.owed for x in st.lines)), str(st.total)))
    return out


# ---------------------------------------------------------------------------- reconciliation (对账)
@dataclass(frozen=True)
class Record:
    """One side's record of a settlement for reconciliation."""

    msgid: str
    status: str
    owed: int


def reconcile(here: Iterable[Record], there: Iterable[Record]) -> list[Break]:
    """3202-style detail reconciliation of two sides' records: every break, ordered by msgid."""
    a = {r.msgid: r for r in here}
    b = {r.msgid: r for r in there}
    out: list[Break] = []
    for m in sorted(set(a) | set(b)):
        x, y = a.get(m), b.get(m)
        if x is None:
            assert y is not None
            if y.status == "settled":
                out.append(Break(m, "missing_here", "", f"{y.status}:{y.owed}"))
        elif y is None:
            if x.status == "settled":
                out.append(Break(m, "missing_there", f"{x.status}:{x.owed}", ""))
        elif x.status != y.status:
            out.append(Break(m, "status_differs", x.status, y.status))
        elif x.status == "settled" and x.owed != y.owed:
            out.append(Break(m, "amount_differs", str(x.owed), str(y.owed)))
    return out


@dataclass(frozen=True)
class Resolution:
    msgid: str
    action: str
    reason_zh: str
    reason_en: str


def resolution(b: Break, here_is: Literal["care", "insured"]) -> Resolution:
    """How a break between the care region (``here`` when ``here_is`` = care) and the insured region closes.

    The insured region's ledger decides what was settled and for how much (参保地政策): a settlement it holds
    that the care region lacks is reversed there (the care region never answered its hospital with it); one
    the care region holds that the insured region lacks is reversed on the care side; differing amounts take
    the insured region's figure; differing status: a reversal one side has not applied is re-sent."""
    care_missing = (b.kind == "missing_here") == (here_is == "care")
    if b.kind in ("missing_here", "missing_there"):
        if care_missing:
            return Resolution(b.msgid, "reverse_at_insured", "参保地冲正（就医地无此结算）",
                              "reverse at the insured region (the care region has no such settlement)")  # fmt: skip
        return Resolution(b.msgid, "reverse_at_care", "就医地冲正（参保地无此结算）",
                          "reverse at the care region (the insured region has no such settlement)")  # fmt: skip
    if b.kind == "amount_differs":
        return Resolution(b.msgid, "adopt_insured_amount", "以参保地结算金额为准",
                          "take the insured region's amount")  # fmt: skip
    return Resolution(b.msgid, "resend_reversal", "重发冲正，使两边状态一致",
                      "re-send the reversal so both sides agree")  # fmt: skip


def routes_from_rows(rows: Iterable[Mapping[str, object]]) -> list[Route]:
    """Hub route rows (``xr_route``) as :class:`Route` values."""
    out = []
    for r in rows:
        out.append(
            Route(
                str(r["msgid"]),
                str(r["care_admdvs"]),
                str(r["insu_admdvs"]),
                str(r["status"]),
                int(str(r.get("medfee_sumamt") or 0)),
                int(str(r.get("fund_pay_sumamt") or 0)),
                int(str(r.get("acct_pay") or 0)),
                str(r.get("setl_date") or "")[:7],
            )
        )
    return out


# ---------------------------------------------------------------------------- resolving a break (差异处理)
BreakAction = Literal["reverse", "accept_other", "request_resend", "dispute"]
# what each action is called on the clearing clerk's page (Chinese, English)
ACTION_NAMES: dict[str, tuple[str, str]] = {
    "reverse": ("冲正（2601）", "reverse (2601)"),
    "accept_other": ("以对方记录为准", "accept the other side's record"),
    "request_resend": ("请求参保地重新报送", "ask the insured region to re-send its record"),
    "dispute": ("标记疑点，结转下月清算", "mark as disputed, carry to next month's clearing"),
}


def break_actions(
    kind: str, here_is: Literal["care", "insured"], here: str, there: str
) -> tuple[BreakAction, ...]:
    """The actions that close a break between a region (``here``, as ``here_is``) and the hub's route log
    (``there``, which stands for the other region), the recommended one first.

    The insured region's record decides (参保地政策), so a care region may take the hub's record as its own
    and ask the hub to fetch the insured region's again; an insured region never takes an amount or a
    settlement from outside its ledger.  A settlement standing on one side only is reversed (2601) where it
    stands; a reversal one side has not applied is re-sent; only a settlement the hub holds as settled can
    be disputed (疑点) and carried to the next month's clearing."""
    # a missing record reads "settled:<owed>", a status break the status, an amount break (both settled) the amounts
    hub_settled = kind == "amount_differs" or there.startswith("settled")
    here_settled = kind == "amount_differs" or here.startswith("settled")
    out: tuple[BreakAction, ...]
    if kind == "missing_there":  # standing here only
        out = ("reverse", "request_resend")
    elif kind == "missing_here":  # standing at the hub (and the other region) only
        out = ("reverse", "accept_other", "dispute") if here_is == "care" else ("reverse", "dispute")
    elif kind == "amount_differs":
        out = (
            ("accept_other", "request_resend", "dispute")
            if here_is == "care"
            else ("request_resend", "dispute")
        )
    elif here_settled and not hub_settled:  # reversed over there: apply the reversal here
        out = ("accept_other",)
    else:  # reversed here, still settled at the hub: re-send the reversal
        out = ("reverse", "dispute")
    return out if hub_settled or kind == "missing_there" else tuple(a for a in out if a != "dispute")
