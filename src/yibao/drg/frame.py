"""Group a table of cases (the CLI input contract) — per case, or in parallel over chunks.

Input columns, exactly: ``case_id, discharge_date, age, sex, discharge_status, pdx, sdx, sdx_poa,
procedures`` (lists ``|``-separated, codes without dots; extra columns ignored) and, optional,
``age_days, weight_g, los_days``. Output: ``case_id, mdc, adrg, drg, severity, trace`` in input order.

Malformed rows (a missing column, an age that is not a whole number, a sex other than M/F, a POA list
whose length differs from the secondary-diagnosis list) are refused with a :class:`CaseError` naming
the row, the column and the reason, and nothing is grouped. Clinically unusable cases (no or an
unknown principal diagnosis, a principal diagnosis that contradicts the sex) are *grouped* to the
scheme's ungroupable group with the reason in the trace, as a bureau reports 未入组 cases.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from yibao.drg.engine import Case, Compiled, group_case
from yibao.drg.formula import Result
from yibao.drg.vector import group_lean_batch, list_counts, tables
from yibao.errors import FieldError

REQUIRED = (
    "case_id",
    "discharge_date",
    "age",
    "sex",
    "discharge_status",
    "pdx",
    "sdx",
    "sdx_poa",
    "procedures",
)
OPTIONAL_INT = ("age_days", "weight_g", "los_days")
OUTPUT = ("case_id", "mdc", "adrg", "drg", "severity", "trace")
PARALLEL_MIN = 40_000  # below this many cases one process is faster than starting workers


class CaseError(FieldError):
    """A malformed input row: ``field`` is ``row N (case_id X), column C``."""


def _where(df: pl.DataFrame, i: int) -> str:
    cid = df["case_id"][i] if "case_id" in df.columns else None
    return f"row {i + 1}" + (f" (case_id {cid})" if cid is not None else "")


def _int_column(df: pl.DataFrame, name: str, required: bool, lo: int, hi: int) -> pl.Series:
    raw = df[name]
    if raw.dtype.is_integer():
        s = raw.cast(pl.Int64)
        bad = (s < lo) | (s > hi)
    else:
        text = raw.cast(pl.String).str.strip_chars()
        s = text.replace("", None).cast(pl.Int64, strict=False)
        bad = (s.is_null() & text.is_not_null() & (text != "")) | (s < lo) | (s > hi)
    if required:
        bad = bad | s.is_null()
    if bad.any():
        i = int(bad.fill_null(False).arg_true()[0])
        raise CaseError(
            f"{_where(df, i)}, column {name}",
            f"应为 {lo}–{hi} 的整数 must be a whole number from {lo} to {hi}, got {df[name][i]!r}",
        )
    return s


def validate_cases(cases: pl.DataFrame) -> pl.DataFrame:
    """The cases normalised to the contract's types; the first malformed row raises :class:`CaseError`."""
    missing = [c for c in REQUIRED if c not in cases.columns]
    if missing:
        raise CaseError(
            f"column {missing[0]}",
            f"缺少必需列 required column missing (need {', '.join(REQUIRED)})",
            "missing",
        )
    cols: dict[str, pl.Series] = {}
    for c in ("case_id", "discharge_date", "sex", "discharge_status", "pdx", "sdx", "sdx_poa", "procedures"):
        s = cases[c].cast(pl.String)
        cols[c] = s.str.strip_chars().fill_null("") if c != "case_id" else s
    if cols["case_id"].null_count():
        i = int(cols["case_id"].is_null().arg_true()[0])
        raise CaseError(f"row {i + 1}, column case_id", "不能为空 must not be empty", "missing")
    cols["age"] = _int_column(cases, "age", True, 0, 150)
    for c in OPTIONAL_INT:
        cols[c] = (
            _int_column(cases, c, False, 0, 10_000_000)
            if c in cases.columns
            else pl.Series(c, [None] * cases.height, dtype=pl.Int64)
        )
    bad_sex = ~cols["sex"].is_in(["M", "F"])
    if bad_sex.any():
        i = int(bad_sex.arg_true()[0])
        raise CaseError(
            f"{_where(cases, i)}, column sex", f"应为 M 或 F must be M or F, got {cases['sex'][i]!r}"
        )
    n_sdx = (cols["sdx"].str.count_matches("|", literal=True) + 1) * (cols["sdx"] != "")
    n_poa = (cols["sdx_poa"].str.count_matches("|", literal=True) + 1) * (cols["sdx_poa"] != "")
    bad_poa = (n_poa != 0) & (n_poa != n_sdx)
    if bad_poa.any():
        i = int(bad_poa.arg_true()[0])
        raise CaseError(
            f"{_where(cases, i)}, column sdx_poa",
            f"入院病情与其他诊断个数不符 has {n_poa[i]} entries for {n_sdx[i]} secondary diagnoses "
            "(give one per diagnosis, or none)",
        )
    if cases.height:
        dates = cols["discharge_date"].str.to_date("%Y-%m-%d", strict=False)
        bad_date = dates.is_null() & (cols["discharge_date"] != "")
        if bad_date.any():
            i = int(bad_date.arg_true()[0])
            raise CaseError(
                f"{_where(cases, i)}, column discharge_date",
                f"应为日期 must be a date YYYY-MM-DD, got {cases['discharge_date'][i]!r}",
            )
    return pl.DataFrame([cols[c].alias(c) for c in (*REQUIRED, *OPTIONAL_INT)])


STRIPPED = ("discharge_date", "sex", "discharge_status", "pdx", "sdx", "sdx_poa", "procedures")
GROUPING = ("pdx", "sdx", "sdx_poa", "procedures", "sex", "discharge_status")  # what a formula scheme reads


def _int_check(name: str, dtype: pl.DataType, required: bool, lo: int, hi: int) -> pl.Expr:
    """True on a row where :func:`_int_column` refuses the value (or more rows: never fewer)."""
    if dtype.is_integer():
        s = pl.col(name).cast(pl.Int64)
        bad = (s < lo) | (s > hi)
    else:
        text = pl.col(name).cast(pl.String).str.strip_chars()
        s = text.cast(pl.Int64, strict=False)
        bad = (s.is_null() & text.is_not_null() & (text != "")) | (s < lo) | (s > hi)
    return (bad | s.is_null()) if required else bad


def _grouping_columns(cases: pl.DataFrame) -> tuple[dict[str, list[Any]], pl.DataFrame] | None:
    """The columns a formula scheme groups from, normalised as :func:`validate_cases` does, as lists
    and as a frame, checked in one Polars query (built once per schema) and the POA list lengths in
    NumPy; None when a row or column is malformed (then :func:`validate_cases` names it)."""
    if cases.height == 0 or any(c not in cases.columns for c in REQUIRED):
        return None
    schema = cases.schema
    key = tuple((c, schema[c]) for c in ("age", *OPTIONAL_INT) if c in schema)
    query = _CHECKS.get(key)
    if query is None:
        txt = {c: pl.col(c).cast(pl.String).str.strip_chars().fill_null("") for c in STRIPPED}
        bad = [
            pl.col("case_id").is_null(),
            _int_check("age", schema["age"], True, 0, 150),
            *(_int_check(c, schema[c], False, 0, 10_000_000) for c in OPTIONAL_INT if c in schema),
            ~txt["sex"].is_in(["M", "F"]),
            txt["discharge_date"].str.to_date("%Y-%m-%d", strict=False).is_null()
            & (txt["discharge_date"] != ""),
        ]
        query = _CHECKS[key] = [
            *(txt[c].alias(c) for c in GROUPING),
            pl.any_horizontal(bad).fill_null(True).any().alias("_bad"),
        ]
    got = cases.select(query)
    if got["_bad"][0]:
        return None
    # a POA list of another length than the secondary diagnoses (the lists as stripped above)
    n_poa, n_sdx = list_counts(got["sdx_poa"]), list_counts(got["sdx"])
    if n_poa is None or n_sdx is None or ((n_poa != 0) & (n_poa != n_sdx)).any():
        return None
    return {c: got[c].to_list() for c in GROUPING}, got.drop("_bad")


_CHECKS: dict[tuple[tuple[str, pl.DataType], ...], list[pl.Expr]] = {}  # per schema of the checked columns


def _split(s: str) -> tuple[str, ...]:
    if not s:
        return ()
    return tuple(x.strip() for x in s.split("|")) if " " in s else tuple(s.split("|"))


Columns = dict[str, list[Any]]
_WORK: tuple[Compiled, Columns, bool, pl.DataFrame | None] | None = None  # inherited by forked workers


def _group_range(
    cs: Compiled, c: Columns, lo: int, hi: int, trace: bool = True, frame: pl.DataFrame | None = None
) -> tuple[list[str] | pl.Series, ...]:
    """Rows ``lo:hi`` of the columns ``c`` grouped (``frame``: the same columns as a frame, all rows,
    when :func:`_grouping_columns` read them)."""
    mdc: list[str] = []
    adrg: list[str] = []
    drg: list[str] = []
    sev: list[str] = []
    traces: list[str] = []
    sexes, st, pdx, sdx, poa, procs = (
        c["sex"],
        c["discharge_status"],
        c["pdx"],
        c["sdx"],
        c["sdx_poa"],
        c["procedures"],
    )
    prog = cs.program
    if prog is not None:  # formula schemes: the program's batch loop (no per-row Case / Grouping objects)
        ids, ages = (
            c.get("case_id", ()),
            c.get("age", ()),
        )  # present when some case has no principal diagnosis

        def no_pdx(i: int) -> tuple[str, str, str, str, str]:
            g = group_case(cs, Case(ids[i], ages[i], sexes[i], st[i], pdx[i]))
            return g.mdc, g.adrg, g.drg, g.severity, g.trace

        def one(i: int, sd: Sequence[str], pr: Sequence[str]) -> tuple[str, str, str, str, str] | Result:
            j = lo + i
            if not pdx[j]:
                return no_pdx(j)
            return prog.group_row(pdx[j], sd, poa[j], pr, sexes[j], st[j], trace)

        # the lean path over the whole range at once (the rest case by case)
        part = None if frame is None else frame.slice(lo, hi - lo)
        return group_lean_batch(
            prog, pdx[lo:hi], sdx[lo:hi], poa[lo:hi], procs[lo:hi], st[lo:hi], one, trace, part
        )
    ids, ages, ad, wg, los = c["case_id"], c["age"], c["age_days"], c["weight_g"], c["los_days"]
    for i in range(lo, hi):
        g = group_case(
            cs,
            Case(
                ids[i],
                ages[i],
                sexes[i],
                st[i],
                pdx[i],
                _split(sdx[i]),
                _split(poa[i]),
                _split(procs[i]),
                ad[i],
                wg[i],
                los[i],
            ),
        )
        mdc.append(g.mdc)
        adrg.append(g.adrg)
        drg.append(g.drg)
        sev.append(g.severity)
        traces.append(g.trace)
    return mdc, adrg, drg, sev, traces


def _worker(bounds: tuple[int, int]) -> tuple[list[str] | pl.Series, ...]:
    assert _WORK is not None
    return _group_range(_WORK[0], _WORK[1], *bounds, _WORK[2], _WORK[3])


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def group_frame(
    scheme: Compiled, cases: pl.DataFrame, workers: int | None = None, trace: bool = True
) -> pl.DataFrame:
    """Group every case of ``cases`` (CLI input contract) → ``case_id, mdc, adrg, drg, severity, trace``.

    Same row order as the input. Large tables are grouped in ``workers`` forked processes over chunks;
    the result is identical to grouping case by case (:func:`yibao.drg.engine.group_case`). With
    ``trace=False`` the trace column is left out and not built (formula schemes); grouping the same
    cases again with the trace gives the same groups and their traces.
    """
    global _WORK
    # a formula scheme reads six columns (and the rest only for a case without a principal diagnosis)
    got = _grouping_columns(cases) if scheme.program is not None else None
    cols, frame = got if got is not None else (None, None)
    if cols is None or "" in cols["pdx"]:
        norm = validate_cases(cases)  # raises, naming the row, the column and the reason
        cols = {c: norm[c].to_list() for c in norm.columns}
        cols["case_id"] = [str(x) for x in cols["case_id"]]
        frame = None
    n = len(cols["pdx"])
    w = default_workers() if workers is None else max(1, workers)
    if w == 1 or n < PARALLEL_MIN or "fork" not in mp.get_all_start_methods():
        parts = [_group_range(scheme, cols, 0, n, trace, frame)]
    else:
        chunk = max(5_000, -(-n // (w * 4)))
        bounds = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
        if scheme.program is not None:
            tables(scheme.program)  # built once here, inherited by the workers
        _WORK = (scheme, cols, trace, frame)
        try:
            with mp.get_context("fork").Pool(w) as pool:
                parts = pool.map(_worker, bounds)
        finally:
            _WORK = None
    names = OUTPUT[1:] if trace else OUTPUT[1:-1]
    out: dict[str, pl.Series] = {
        k: pl.concat([pl.Series(k, p[j], dtype=pl.String) for p in parts], rechunk=False)
        if len(parts) > 1
        else pl.Series(k, parts[0][j], dtype=pl.String)
        for j, k in enumerate(names)
    }
    return pl.DataFrame({"case_id": cases["case_id"], **out})


def group_rows(scheme: Compiled, cases: Sequence[Case]) -> list[Any]:
    """Group a sequence of :class:`Case` one by one (the per-case path)."""
    return [group_case(scheme, c) for c in cases]
