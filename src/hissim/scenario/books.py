"""The simulator's own records: fee lines per visit, settlements, and the totals a HIS reconciles with.

Pure bookkeeping in integer fen (分). A settlement stays in the totals until it is cancelled (2208/2305)
or reversed (2601); reconciliation (3201/3202) compares the server's figures with :meth:`Books.totals`
and :meth:`Books.detail_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def yuan_to_fen(amount: Decimal) -> int:
    """元 → 分, exactly; more than two decimals is an error (the spec's 16,2)."""
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount}: 金额超过两位小数 more than two decimals")
    return int(fen)


def fen_to_yuan(fen: int) -> Decimal:
    """分 → 元 with two decimals."""
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def line_amount(cnt: Decimal, pric: Decimal) -> Decimal:
    """det_item_fee_sumamt of a line: cnt × pric rounded half-up to 分."""
    return (cnt * pric).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    """An uploaded fee line (2204/2301) as the HIS sent it."""

    feedetl_sn: str
    chrg_bchno: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    amount_fen: int


@dataclass
class Visit:
    """One visit (outpatient) or stay (inpatient): its lines by feedetl_sn, cancelled lines removed."""

    mdtrt_id: str
    psn_no: str
    kind: str  # outpatient | inpatient
    lines: dict[str, Line] = field(default_factory=dict)

    def add(self, line: Line) -> None:
        """Record an uploaded line (feedetl_sn must be new within the visit)."""
        if line.feedetl_sn in self.lines:
            raise ValueError(f"feedetl_sn {line.feedetl_sn} 在本次就诊内重复 repeats within the visit")
        self.lines[line.feedetl_sn] = line

    def cancel_batch(self, chrg_bchno: str) -> int:
        """2205: drop every line of a charge batch ("0000" = all); returns how many went."""
        gone = [sn for sn, ln in self.lines.items() if chrg_bchno in ("0000", ln.chrg_bchno)]
        for sn in gone:
            del self.lines[sn]
        return len(gone)

    def cancel_line(self, feedetl_sn: str) -> bool:
        """2302: drop one line ("0000" = all)."""
        if feedetl_sn == "0000":
            had = bool(self.lines)
            self.lines.clear()
            return had
        return self.lines.pop(feedetl_sn, None) is not None

    def total_fen(self, chrg_bchno: str | None = None) -> int:
        """Σ det_item_fee_sumamt of the live lines (of one batch when given)."""
        return sum(ln.amount_fen for ln in self.lines.values() if chrg_bchno in (None, ln.chrg_bchno))


@dataclass
class Settlement:
    """A settlement the HIS received (2207/2304) and what became of it."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    clr_type: str
    msgid: str
    infno: str
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    cash_fen: int
    setl_date: date
    status: str = "active"  # active | cancelled | reversed
    amounts: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    """What 3201/3202 carry for one group: sums in fen and the number of settlements."""

    medfee_fen: int = 0
    fund_fen: int = 0
    acct_fen: int = 0
    cash_fen: int = 0
    count: int = 0

    def plus(self, s: Settlement) -> Totals:
        """These totals with one more settlement."""
        return Totals(
            self.medfee_fen + s.medfee_fen,
            self.fund_fen + s.fund_fen,
            self.acct_fen + s.acct_fen,
            self.cash_fen + s.cash_fen,
            self.count + 1,
        )


@dataclass
class Books:
    """All settlements of one hospital's day, keyed by setl_id."""

    settlements: dict[str, Settlement] = field(default_factory=dict)

    def add(self, s: Settlement) -> None:
        """Record a settlement (a setl_id seen twice is an error: the server must not reuse one)."""
        if s.setl_id in self.settlements:
            raise ValueError(f"setl_id {s.setl_id} 重复 returned twice")
        self.settlements[s.setl_id] = s

    def mark(self, setl_id: str, status: str) -> None:
        """Mark a settlement cancelled or reversed."""
        self.settlements[setl_id].status = status

    def active(self) -> list[Settlement]:
        """The settlements still in force, in the order they were made."""
        return [s for s in self.settlements.values() if s.status == "active"]

    def period(self) -> tuple[date, date] | None:
        """First and last settlement date of the active settlements, if any."""
        days = [s.setl_date for s in self.active()]
        return (min(days), max(days)) if days else None

    def totals(self, by: Iterable[str] = ("insutype", "clr_type")) -> dict[tuple[str, ...], Totals]:
        """Active settlements summed per group (default: 险种 × 清算类别, the 3201 key)."""
        keys = tuple(by)
        out: dict[tuple[str, ...], Totals] = {}
        for s in self.active():
            k = tuple(str(getattr(s, name)) for name in keys)
            out[k] = out.get(k, Totals()).plus(s)
        return out

    def detail_rows(self, clr_type: str | None = None) -> list[list[str]]:
        """3202 upload rows: setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag."""
        rows = []
        for s in self.active():
            if clr_type is not None and s.clr_type != clr_type:
                continue
            rows.append(
                [
                    s.setl_id,
                    s.mdtrt_id,
                    s.psn_no,
                    str(fen_to_yuan(s.medfee_fen)),
                    str(fen_to_yuan(s.fund_fen)),
                    str(fen_to_yuan(s.acct_fen)),
                    "0",
                ]
            )
        return rows


def amounts_of(setlinfo: Mapping[str, Any], names: Iterable[str]) -> dict[str, Decimal]:
    """The named amounts of a setlinfo as Decimals (missing → absent)."""
    from hissim.validate import to_decimal

    out = {}
    for n in names:
        d = to_decimal(setlinfo.get(n))
        if d is not None:
            out[n] = d
    return out
