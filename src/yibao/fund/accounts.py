"""Fund accounts (基金账户) as a pure core: entries in, balances by fund and month out.

An *entry* is one booked movement of one fund in one month (polars frame, :data:`ENTRY_SCHEMA`):

* ``opening`` — the audited closing balance carried into the books (may be negative);
* ``income`` — contributions, subsidies, assistance input, back payments (``source`` says which, the
  enrolment capability's ``income_frame`` shape: employer / individual / fiscal_subsidy / assistance /
  back_payment);
* ``interest`` — interest credited on the fund's balance;
* ``transfer_in`` / ``transfer_out`` — between funds (``counterpart`` names the other fund), e.g. the pool
  topping up retirees' personal accounts;
* ``payment`` — what the fund paid for settled care in the month (from the ledger's settlements).

Balances are never stored: they are the running sum of entries, so that a figure on a page can always be
traced to the entries that make it.  Money is integer fen."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from yibao.errors import FieldError
from yibao.fund.params import FundAccount, MonthsPayable
from yibao.money import div_half_up

ENTRY_SCHEMA: dict[str, type[pl.DataType]] = {
    "month": pl.String,
    "fund_pay_type": pl.String,
    "kind": pl.String,
    "source": pl.String,
    "counterpart": pl.String,
    "amount_fen": pl.Int64,
}
INCOME_COLUMNS = ("month", "fund_pay_type", "source", "amount_fen")
INCOME_SOURCES = ("employer", "individual", "fiscal_subsidy", "assistance", "back_payment")
SOURCE_NAMES = {
    "employer": ("单位缴费", "employer"),
    "individual": ("个人缴费", "individual"),
    "fiscal_subsidy": ("财政补助", "fiscal subsidy"),
    "assistance": ("医疗救助资助参保", "assistance"),
    "back_payment": ("补缴", "back payment"),
}
KINDS = ("opening", "income", "interest", "transfer_in", "transfer_out", "payment")
SIGN = {"opening": 1, "income": 1, "interest": 1, "transfer_in": 1, "transfer_out": -1, "payment": -1}
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class FundError(FieldError):
    """Entries or inputs the fund accounts cannot take; ``field`` names the column or row."""

    def __init__(self, field: str, reason: str, code: str = "fund") -> None:
        super().__init__(field, reason, code)


def empty_entries() -> pl.DataFrame:
    return pl.DataFrame(schema=ENTRY_SCHEMA)


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive ('YYYY-MM')."""
    y, m = int(first[:4]), int(first[5:])
    ly, lm = int(last[:4]), int(last[5:])
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def add_months(month: str, n: int) -> str:
    """``month`` shifted by ``n`` months."""
    k = int(month[:4]) * 12 + int(month[5:]) - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def check_entries(df: pl.DataFrame, funds: Iterable[str], name: str = "entries") -> pl.DataFrame:
    """Columns, types, months, known funds and kinds, non-negative amounts (except ``opening``)."""
    for col, dtype in ENTRY_SCHEMA.items():
        if col not in df.columns:
            raise FundError(f"{name}.{col}", "缺少该列 required column is missing", "missing")
        ok = df.schema[col].is_integer() if dtype == pl.Int64 else df.schema[col] == dtype
        if not ok:
            raise FundError(f"{name}.{col}", f"类型应为 {dtype.__name__} has type {df.schema[col]}")
    out = df.select(list(ENTRY_SCHEMA)).with_columns(pl.col("amount_fen").cast(pl.Int64))
    for col in ENTRY_SCHEMA:
        if out[col].null_count():
            raise FundError(f"{name}.{col}", "有空值 empty values")
    bad = out.filter(~pl.col("month").str.contains(MONTH_RE.pattern))
    if bad.height:
        raise FundError(f"{name}.month", f"月份格式应为 YYYY-MM: {bad['month'][0]!r} is not a month")
    known = set(funds)
    bad = out.filter(~pl.col("fund_pay_type").is_in(sorted(known)))
    if bad.height:
        raise FundError(
            f"{name}.fund_pay_type", f"未配置的基金 {bad['fund_pay_type'][0]!r} is not a configured fund"
        )
    bad = out.filter(~pl.col("kind").is_in(list(KINDS)))
    if bad.height:
        raise FundError(f"{name}.kind", f"未知类别 {bad['kind'][0]!r} unknown kind")
    bad = out.filter((pl.col("kind") != "opening") & (pl.col("amount_fen") < 0))
    if bad.height:
        raise FundError(
            f"{name}.amount_fen", f"金额为负 negative amount {bad['amount_fen'][0]} ({bad['kind'][0]})"
        )
    return out


def income_entries(income: pl.DataFrame, funds: Iterable[str], name: str = "income") -> pl.DataFrame:
    """The enrolment capability's ``income_frame`` (month, fund_pay_type, source, amount_fen) as entries;
    unknown sources or funds are refused naming the row."""
    for col in INCOME_COLUMNS:
        if col not in income.columns:
            raise FundError(f"{name}.{col}", "缺少该列 required column is missing", "missing")
    bad = income.filter(~pl.col("source").is_in(list(INCOME_SOURCES)))
    if bad.height:
        raise FundError(f"{name}.source", f"未知收入来源 {bad['source'][0]!r} unknown income source")
    df = income.select(
        pl.col("month").cast(pl.String),
        pl.col("fund_pay_type").cast(pl.String),
        pl.lit("income").alias("kind"),
        pl.col("source").cast(pl.String),
        pl.lit("").alias("counterpart"),
        pl.col("amount_fen").cast(pl.Int64),
    )
    return check_entries(df, funds, name)


def transfer_entries(month: str, from_fund: str, to_fund: str, amount: int, reason: str) -> pl.DataFrame:
    """Both legs of a transfer between funds (out of ``from_fund``, into ``to_fund``)."""
    if amount < 0:
        raise FundError("amount_fen", f"划转金额为负 negative transfer {amount}")
    if from_fund == to_fund:
        raise FundError("counterpart", "不能划转给同一基金 a fund cannot transfer to itself")
    return pl.DataFrame(
        {
            "month": [month, month],
            "fund_pay_type": [from_fund, to_fund],
            "kind": ["transfer_out", "transfer_in"],
            "source": [reason, reason],
            "counterpart": [to_fund, from_fund],
            "amount_fen": [amount, amount],
        },
        schema=ENTRY_SCHEMA,
    )


def payment_entries(spending: pl.DataFrame, funds: Sequence[FundAccount]) -> pl.DataFrame:
    """Each fund's payments per month from settled care.

    ``spending``: one row per (month, insutype, med_type) with the summed 2207 money fields; a fund is paid
    by the fields its ``paid_by`` lists (restricted to one scheme where it says so).  ``source`` keeps the
    visit type so the accounts can show payments by kind of care."""
    frames = []
    for f in funds:
        for pb in f.paid_by:
            if pb.field not in spending.columns:
                raise FundError(f"spending.{pb.field}", "缺少该列 required column is missing", "missing")
            part = spending if pb.insutype is None else spending.filter(pl.col("insutype") == pb.insutype)
            frames.append(
                part.group_by("month", "med_type")
                .agg(pl.col(pb.field).sum().cast(pl.Int64).alias("amount_fen"))
                .select(
                    "month",
                    pl.lit(f.code).alias("fund_pay_type"),
                    pl.lit("payment").alias("kind"),
                    pl.col("med_type").alias("source"),
                    pl.lit("").alias("counterpart"),
                    "amount_fen",
                )
            )
    if not frames:
        return empty_entries()
    out = (
        pl.concat(frames)
        .group_by("month", "fund_pay_type", "kind", "source", "counterpart")
        .agg(pl.col("amount_fen").sum())
    )
    return (
        out.filter(pl.col("amount_fen") != 0)
        .select(list(ENTRY_SCHEMA))
        .sort("month", "fund_pay_type", "source")
    )


def opening_entries(month: str, balances: Mapping[str, int], source: str) -> pl.DataFrame:
    """Opening balances (one entry per fund) dated ``month``."""
    return pl.DataFrame(
        {
            "month": [month] * len(balances),
            "fund_pay_type": list(balances),
            "kind": ["opening"] * len(balances),
            "source": [source] * len(balances),
            "counterpart": [""] * len(balances),
            "amount_fen": list(balances.values()),
        },
        schema=ENTRY_SCHEMA,
    )


def monthly_interest(opening_balance: int, annual_rate: int) -> int:
    """Interest for one month on the balance at the start of it: balance × rate / 12, half up; nothing on a
    negative balance (an overdrawn fund pays no interest here; a bureau books what the bank charges)."""
    if opening_balance <= 0:
        return 0
    return div_half_up(opening_balance * annual_rate, 10_000 * 12)


def interest_entries(entries: pl.DataFrame, months: Sequence[str], annual_rate: int) -> pl.DataFrame:
    """Interest each fund earns in ``months`` (in order), each month on the balance carried into it —
    which includes the interest of the months before (monthly compounding)."""
    bal = _by_fund_month(entries)
    funds = sorted({f for f, _ in bal})
    rows: dict[str, list[object]] = {k: [] for k in ENTRY_SCHEMA}
    for f in funds:
        carried = sum(v for (ff, m), v in bal.items() if ff == f and m < months[0]) if months else 0
        for m in months:
            i = monthly_interest(carried, annual_rate)
            carried += i + bal.get((f, m), 0)
            if i:
                for k, v in zip(ENTRY_SCHEMA, (m, f, "interest", "bank", "", i), strict=True):
                    rows[k].append(v)
    return pl.DataFrame(rows, schema=ENTRY_SCHEMA)


def _by_fund_month(entries: pl.DataFrame) -> dict[tuple[str, str], int]:
    signed = entries.with_columns(
        (pl.col("amount_fen") * pl.col("kind").replace_strict(SIGN, return_dtype=pl.Int64)).alias("_s")
    )
    g = signed.group_by("fund_pay_type", "month").agg(pl.col("_s").sum())
    return {(str(f), str(m)): int(v) for f, m, v in g.iter_rows()}


# --------------------------------------------------------------------------------------- the positions
def months_payable(balance: int, total_expenditure: int, n_months: int) -> int | None:
    """累计结余可支付月数: balance ÷ average monthly expenditure, in hundredths of a month, rounded
    toward −∞ (so a fund is never shown safer than it is); None when nothing was spent."""
    if n_months <= 0 or total_expenditure <= 0:
        return None
    return balance * 100 * n_months // total_expenditure


class BandLines(Protocol):
    @property
    def red_below(self) -> int: ...
    @property
    def amber_below(self) -> int: ...
    @property
    def target_upto(self) -> int: ...
    @property
    def excessive_above(self) -> int: ...


def band(months_x100: int | None, b: BandLines) -> str:
    """``red`` (< 3: 结余不足) · ``amber`` (3–6) · ``target`` (6–9) · ``high`` (9–15) · ``excessive``
    (> 15: 结余过多) with the default bands; ``none`` when there is no expenditure to divide by."""
    if months_x100 is None:
        return "none"
    if months_x100 < b.red_below * 100:
        return "red"
    if months_x100 < b.amber_below * 100:
        return "amber"
    if months_x100 <= b.target_upto * 100:
        return "target"
    if months_x100 <= b.excessive_above * 100:
        return "high"
    return "excessive"


@dataclass(frozen=True)
class FundMonth:
    """One fund in one month (fen)."""

    fund: str
    month: str
    opening: int  # balance carried in (incl. any opening entry booked this month)
    income: int
    income_by_source: dict[str, int] = field(default_factory=dict)
    interest: int = 0
    transfer_in: int = 0
    transfer_out: int = 0
    payments: int = 0
    payments_by_type: dict[str, int] = field(default_factory=dict)
    closing: int = 0
    months_x100: int | None = None
    band: str = "none"

    @property
    def net(self) -> int:
        """Current result of the month: income + interest + transfers in − transfers out − payments."""
        return self.income + self.interest + self.transfer_in - self.transfer_out - self.payments


def positions(
    entries: pl.DataFrame, funds: Sequence[str], bands: MonthsPayable, months: Sequence[str] | None = None
) -> dict[str, list[FundMonth]]:
    """Per fund, month by month: the opening balance, each kind of movement, the closing balance, and months
    payable (closing ÷ the average monthly payments over the last ``bands.window_months`` months booked)."""
    if months is None:
        ms = sorted(set(entries["month"].to_list()))
        months = month_range(ms[0], ms[-1]) if ms else []
    g = entries.group_by("fund_pay_type", "month", "kind", "source").agg(pl.col("amount_fen").sum())
    cells: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
    for f, m, k, s, a in g.iter_rows():
        cells.setdefault((f, m), {})[(k, s)] = int(a)
    out: dict[str, list[FundMonth]] = {}
    for f in funds:
        before = sum(
            a * SIGN[k]
            for (ff, m), c in cells.items()
            if ff == f and months and m < months[0]
            for (k, _), a in c.items()
        )
        rows: list[FundMonth] = []
        paid_hist: list[int] = []
        bal = before
        for m in months:
            c = cells.get((f, m), {})
            opening = bal + sum(a for (k, _), a in c.items() if k == "opening")
            inc = {s: a for (k, s), a in c.items() if k == "income"}
            pays = {s: a for (k, s), a in c.items() if k == "payment"}
            interest = sum(a for (k, _), a in c.items() if k == "interest")
            t_in = sum(a for (k, _), a in c.items() if k == "transfer_in")
            t_out = sum(a for (k, _), a in c.items() if k == "transfer_out")
            paid = sum(pays.values())
            closing = opening + sum(inc.values()) + interest + t_in - t_out - paid
            paid_hist.append(paid)
            window = paid_hist[-bands.window_months :]
            mp = months_payable(closing, sum(window), len(window))
            rows.append(
                FundMonth(
                    f,
                    m,
                    opening,
                    sum(inc.values()),
                    dict(sorted(inc.items())),
                    interest,
                    t_in,
                    t_out,
                    paid,
                    dict(sorted(pays.items())),
                    closing,
                    mp,
                    band(mp, bands),
                )
            )
            bal = closing
        out[f] = rows
    return out


@dataclass(frozen=True)
class FundYear:
    fund: str
    year: int
    opening: int
    income: int
    interest: int
    transfer_in: int
    transfer_out: int
    payments: int
    closing: int
    months_x100: int | None  # at year end
    band: str
    balance_rate: int | None  # 当期结余率 (income − payments) / income, 1/10000, half away from zero

    @property
    def result(self) -> int:
        """当期结余 (income + interest + net transfers − payments)."""
        return self.income + self.interest + self.transfer_in - self.transfer_out - self.payments


def yearly(rows: Sequence[FundMonth]) -> list[FundYear]:
    """A fund's months summed by calendar year (the closing position is December's, or the last month's)."""
    by: dict[int, list[FundMonth]] = {}
    for r in rows:
        by.setdefault(int(r.month[:4]), []).append(r)
    out = []
    for y, rs in sorted(by.items()):
        inc = sum(r.income for r in rs)
        pay = sum(r.payments for r in rs)
        out.append(
            FundYear(
                rs[0].fund,
                y,
                rs[0].opening,
                inc,
                sum(r.interest for r in rs),
                sum(r.transfer_in for r in rs),
                sum(r.transfer_out for r in rs),
                pay,
                rs[-1].closing,
                rs[-1].months_x100,
                rs[-1].band,
                balance_rate(inc, pay),
            )
        )
    return out


def balance_rate(income: int, expenditure: int) -> int | None:
    """当期结余率 = (income − expenditure) / income in 1/10000 (None without income)."""
    if income <= 0:
        return None
    return div_half_up((income - expenditure) * 10_000, income)
