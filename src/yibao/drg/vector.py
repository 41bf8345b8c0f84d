"""The lean path of a formula scheme over a whole batch at once (docs/DRG.md "Speed", batch lean path).

Every code of every case is mapped to a row number without a Python object per code: the code lists
are read from the batch's Arrow buffers, every code packed into one 64-bit word (its UTF-8 bytes, at
most 8) and looked up in an open-addressing hash table built once per scheme (a list with a space or a
NUL, or a scheme with a code that does not pack, takes the Python split and ``dict.get`` instead, the
same codes). The lean path's per-code ints
(:meth:`Program._build_lean`: marks, CC level bits per suppress slot, HAC / death flags) are held as
rows of 64-bit words in NumPy tables. A case's marks are the OR of its codes' rows
(``bitwise_or.reduceat``); the principal diagnosis's CC exclusions are one sorted-array lookup; death
exclusions, 'only' marks and the counters (bilateral, four stents, fusions, multiple trauma) are
array operations over the batch. The rule choice is one dict lookup per case, keyed by the bytes of
(rule list, marks the list reads), the list's own memo behind it for a key not seen before. In Python,
one case at a time, remain: a hospital-acquired condition not present on admission (its criteria
over the case's marks), a pre-MDC rule that holds, a reroute or an ungroupable result (from the
marks, without the code lists; without the trace remembered by the marks it reads), and, on the
per-case path, a principal diagnosis without a lean entry or a procedure cluster. Every step is the lean path's own, in its order, so the result is the lean
path's case for case. Nothing here names a code or a DRG: the tables are built from the compiled
scheme.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from yibao.drg.formula import (
    _NOTHING,
    LEVEL_NAME,
    LEVEL_OF,
    MEMO_MAX,
    Program,
    Result,
    _LeanList,
    _Node,
    _Pick,
    _Rule,
    parse,
)

Words = npt.NDArray[np.uint64]
Row = tuple[str, str, str, str, str]


def _words(xs: Sequence[int], w: int) -> Words:
    """Ints as rows of ``w`` little-endian 64-bit words (bit ``k`` of an int is bit ``k % 64`` of word
    ``k // 64``)."""
    buf = b"".join(x.to_bytes(8 * w, "little") for x in xs)
    out: Words = np.frombuffer(buf, dtype="<u8").reshape(len(xs), w).astype(np.uint64)
    return out


def _nwords(xs: Sequence[int]) -> int:
    return max(1, -(-max((x.bit_length() for x in xs), default=1) // 64))


MISS = -(1 << 62)
_LEVEL = np.array(LEVEL_OF, dtype=np.int64)


class Memo:
    """The rule choices of a program's lists by key bytes (the list's index and the marks it reads, as
    words): a choice number ``n`` ≥ 0 is the shared untraced result ``results[n]``, ``n`` < 0 the pick
    ``picks[-n - 1]`` (pre-MDC list, reroutes, ungroupable results). Without the trace, the other
    results are numbered among ``results`` by their value (MDC, family, DRG, severity; no rule of their
    own), and a pick's finish (:meth:`Program._lean_finish`) is remembered by the marks it reads. The
    choices and finishes are emptied, between batches, when they reach the lean path's memo bound."""

    def __init__(self) -> None:
        self.code: dict[bytes, int] = {}
        self.picks: list[_Pick] = []
        self.results: list[Result] = []
        # per result: its rule, the rule's slot, the level (no rule: a result numbered by its value)
        self.rules: list[tuple[_Rule | None, int, int]] = []
        self.res_no: dict[int, int] = {}  # id of a shared result → its number
        self.by_value: dict[tuple[str, str, str, str], int] = {}  # a result's columns → its number
        # (pick, at the pre-MDC list, the pdx's MDC, the marks a finish reads) → result number
        self.finish: dict[tuple[int, bool, str, bytes], int] = {}
        self.cols: pl.DataFrame = pl.DataFrame()  # ``results`` as MDC, family, DRG, severity columns

    def bound(self) -> None:
        if len(self.code) >= MEMO_MAX or len(self.finish) >= MEMO_MAX:
            self.code.clear()
            self.picks.clear()
            self.finish.clear()

    def number(self, r: Row | Result) -> int:
        """The number of a result without its trace (a new one for columns not seen before)."""
        key = (r[0], r[1], r[2], r[3])
        got = self.by_value.get(key)
        if got is None:
            got = self.by_value[key] = len(self.results)
            self.results.append(Result(*key, "", False))
            self.rules.append((None, 0, 0))
        return got

    def columns(self) -> pl.DataFrame:
        if self.cols.height != len(self.results):
            self.cols = pl.DataFrame(
                [pl.Series(k, [r[j] for r in self.results], dtype=pl.String) for j, k in enumerate(NAMES)]
            )
        return self.cols


NAMES = ("mdc", "adrg", "drg", "severity")


class CodeIndex(NamedTuple):
    """A ``dict[str, int]`` of codes as an open-addressing hash table over the codes' UTF-8 bytes packed
    into one little-endian 64-bit word each (a code of at most 8 bytes; 0 marks an empty slot, whose
    value is the map's default)."""

    keys: Words
    vals: npt.NDArray[np.int64]
    shift: np.uint64  # slot = (key × _MUL) >> shift
    probes: int  # the longest run of slots a key was moved along when the table was built
    default: int


_MUL = np.uint64(0x9E3779B97F4A7C15)
_LONG = np.uint64(0xFFFF_FFFF_FFFF_FFFF)  # a code longer than 8 bytes (no UTF-8 text packs to it)
_LOW = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_SPACE, _BAR = 32, 124


def _pack(code: str) -> int | None:
    raw = code.encode()
    if not raw or len(raw) > 8 or b"\0" in raw:
        return None
    return int.from_bytes(raw, "little")


def code_index(codes: dict[str, int], default: int) -> CodeIndex | None:
    """``codes`` as a :class:`CodeIndex` (a lookup of a code not in it gives ``default``); None when a
    code cannot be packed (empty, longer than 8 bytes, or holding a NUL)."""
    packed = [_pack(c) for c in codes]
    if any(k is None for k in packed):
        return None
    bits = max(4, (2 * len(codes) + 1).bit_length())  # at most half full
    size = 1 << bits
    keys = [0] * size
    vals = [default] * size
    shift = 64 - bits
    mul = int(_MUL)
    probes = 0
    for k, v in zip(packed, codes.values(), strict=True):
        assert k is not None
        slot = ((k * mul) & ((1 << 64) - 1)) >> shift
        run = 0
        while keys[slot]:
            slot = (slot + 1) & (size - 1)
            run += 1
        keys[slot], vals[slot] = k, v
        probes = max(probes, run)
    return CodeIndex(
        np.array(keys, dtype=np.uint64), np.array(vals, dtype=np.int64), np.uint64(shift), probes, default
    )


def lookup(ix: CodeIndex, q: Words) -> npt.NDArray[np.int64]:
    """The value of every packed code of ``q`` (the default for a code not in ``ix``)."""
    wrap = ix.keys.size - 1
    slot = ((q * _MUL) >> ix.shift).astype(np.int64)
    out = ix.vals[slot]  # right for a code found at its own slot, and for an empty slot
    k = ix.keys[slot]
    todo = np.flatnonzero((k != q) & (k != 0))
    pos = slot[todo]
    # every key of the table lies within ``probes`` slots after its own: past them, not in the table
    for _ in range(ix.probes):
        if not todo.size:
            break
        pos = (pos + 1) & wrap
        k = ix.keys[pos]
        done = (k == q[todo]) | (k == 0)
        out[todo[done]] = ix.vals[pos[done]]
        keep = ~done
        todo, pos = todo[keep], pos[keep]
    if todo.size:
        out[todo] = ix.default
    return out


class Tables(NamedTuple):
    """The lean path's per-code ints of one program as NumPy tables (row 0: a code with no entry)."""

    width: int  # words per case
    sid: dict[str, int]  # secondary diagnosis → row
    s_marks: Words  # its marks without its CC level bits
    s_level: Words  # with them
    s_flags: npt.NDArray[np.uint8]  # 1 on a HAC list, 2 no CC / MCC when the patient died, 4 has a level
    excl_pairs: npt.NDArray[np.int64]  # sorted: exclusion group × rows + row of a code the group excludes
    pid: dict[str, int]  # principal diagnosis → row (only those with a lean entry)
    p_m0: Words
    p_list: npt.NDArray[np.int64]  # its rule list (index into ``lists``)
    p_excl: npt.NDArray[np.int64]  # its exclusion group, -1 for none
    p_only: npt.NDArray[np.int64]  # its 'only' marks (bit j: the scheme's j-th)
    only_of: dict[str, int]  # every diagnosis of the scheme → the 'only' marks it has
    only_bits: Words  # per 'only' mark: the ONLY bit the case gets
    rid: dict[str, int]  # procedure → row
    r_marks: Words
    r_cluster: npt.NDArray[np.int64]  # 1 when the procedure is in a procedure cluster
    r_terms: npt.NDArray[np.int64]  # its weight in every counter over procedures
    counters: tuple[tuple[Words, int, Words | None, int, Words], ...]  # as Program.lean_counters
    count_rel: Words
    lists: tuple[_LeanList, ...]
    ref: Words  # per list: the bits its memo key reads
    pre: int  # the pre-MDC list's index
    pre_keys: Words
    level_mask: Words
    fin_ref: Words  # what a finish reads: the level bits and the marks every list a rule reroutes to reads
    hac_tests: tuple[
        Callable[[Words], npt.NDArray[np.bool_]], ...
    ]  # per HAC number: its formula (level NONE)
    h_ptr: npt.NDArray[
        np.int64
    ]  # secondary-diagnosis row → its (HAC number, list) entries h_ptr[r]:h_ptr[r + 1]
    h_num: npt.NDArray[np.int64]  # the entry's HAC number (index into ``hac_tests``; -1: no formula)
    h_plain: npt.NDArray[np.bool_]  # its list needs no other HAC (not in the scheme's hac_show)
    h_need: npt.NDArray[np.int64]  # else the HAC number that must be met too (-1: none that can be)
    memo: Memo  # the rule choices seen (mutable: grows as batches are grouped)
    # the same code → row maps as hash tables over codes packed into 64-bit words (None: a code of the
    # map cannot be packed, the dicts are used)
    s_ix: CodeIndex | None
    r_ix: CodeIndex | None
    p_ix: CodeIndex | None
    only_ix: CodeIndex | None


def build_tables(prog: Program) -> Tables:
    """The tables of ``prog`` (built once per program, a fraction of a second; :func:`tables`
    remembers them)."""
    width = -(-len(prog.bits) // 64)
    sdx_codes = list(prog.lean_sdx)
    sid = {c: i + 1 for i, c in enumerate(sdx_codes)}
    info = [prog.lean_sdx[c] for c in sdx_codes]
    ms = [0] + [x[0] for x in info]
    ml = [0] + [x[1] for x in info]
    ws = _nwords(ml)
    flags = np.array([0] + [x[2] | (4 if x[1] != x[0] else 0) for x in info], dtype=np.uint8)
    rows = len(sdx_codes) + 1
    pairs = sorted({g * rows + sid[c] for g, group in enumerate(prog.excl) for c in group if c in sid})
    lists = tuple(prog.lean_lists.values())
    list_ix = {id(lst): k for k, lst in enumerate(lists)}
    entries = [(c, e) for c, e in prog.lean_pdx.items() if e is not None]
    excl_of = prog.logic.pdx_exclusion
    only_marks = list(prog.only)
    only_ix = {prog.lean_only[m][1]: j for j, m in enumerate(only_marks)}
    only_of = {c: sum(1 << j for j, m in enumerate(only_marks) if m in d.raw) for c, d in prog.dx.items()}
    rcodes = list(prog.lean_pr)
    rm = [0] + [prog.lean_pr[c][0] for c in rcodes]
    counted = frozenset(k for c in prog.lean_terms for w, _ in c.terms for k in w)
    zero = (0,) * len(prog.lean_terms)
    terms = [zero] + [prog._terms_of(c) if prog.pr_raw[c] & counted else zero for c in rcodes]

    def one(x: int) -> Words:
        row: Words = _words([x], width)[0]
        return row

    fin_ref = prog.level_mask
    for rl in lists:
        for r in rl.rules:
            target = prog.lean_lists.get(r.reroute) if r.reroute is not None else None
            if target is not None:
                fin_ref |= target.ref

    nums = sorted(prog.lean_hac)
    num_ix = {k: j for j, k in enumerate(nums)}
    ptr = [0, 0]
    ent: list[tuple[int, bool, int]] = []
    for c in sdx_codes:
        for num, lst in prog.dx[c].hacs:
            need = prog.hac_show.get(lst)
            ent.append((num_ix.get(num, -1), need is None, -1 if need is None else num_ix.get(need, -1)))
        ptr.append(len(ent))

    rid = {c: i + 1 for i, c in enumerate(rcodes)}
    pid = {c: i + 1 for i, (c, _) in enumerate(entries)}
    return Tables(
        width,
        sid,
        _words(ms, ws),
        _words(ml, ws),
        flags,
        np.array(pairs, dtype=np.int64),
        pid,
        _words([0] + [e.m0 for _, e in entries], width),
        np.array([0] + [list_ix[id(e.lst)] for _, e in entries], dtype=np.int64),
        np.array([-1] + [excl_of.get(c, -1) for c, _ in entries], dtype=np.int64),
        np.array([0] + [sum(1 << only_ix[b] for _, b in e.only) for _, e in entries], dtype=np.int64),
        only_of,
        _words([prog.lean_only[m][1] for m in only_marks], width).reshape(len(only_marks), width),
        rid,
        _words(rm, _nwords(rm)),
        np.array([0] + [1 if prog.lean_pr[c][1] else 0 for c in rcodes], dtype=np.int64),
        np.array(terms, dtype=np.int64).reshape(len(terms), len(zero)),
        tuple(
            (one(b), mn, None if dm is None else one(dm), ti, one(rel))
            for b, mn, dm, ti, rel in prog.lean_counters
        ),
        one(prog.lean_count_rel),
        lists,
        _words([lst.ref for lst in lists], width),
        list_ix[id(prog.lean_pre)],
        one(prog.lean_pre_keys),
        one(prog.level_mask),
        one(fin_ref),
        tuple(_mask_test(parse(prog.logic.hac[k]), prog.bits) for k in nums),
        np.array(ptr, dtype=np.int64),
        np.array([x[0] for x in ent], dtype=np.int64),
        np.array([x[1] for x in ent], dtype=np.bool_),
        np.array([x[2] for x in ent], dtype=np.int64),
        Memo(),
        code_index(sid, 0),
        code_index(rid, 0),
        code_index(pid, 0),
        code_index(only_of, -1),
    )


_TABLES: dict[int, tuple[Program, Tables]] = {}


def tables(prog: Program) -> Tables:
    """``prog``'s tables, built on first use and kept with it."""
    got = _TABLES.get(id(prog))
    if got is None or got[0] is not prog:
        got = _TABLES[id(prog)] = (prog, build_tables(prog))
    return got[1]


def _bars(col: Sequence[str], joined: str) -> npt.NDArray[np.int64]:
    """How many ``|`` each text of ``col`` holds (``joined``: the texts joined by ``|``)."""
    if not joined.isascii():
        return np.fromiter(map(str.count, col, repeat("|")), dtype=np.int64, count=len(col))
    lens = np.fromiter(map(len, col), dtype=np.int64, count=len(col))
    ends = np.cumsum(lens + 1) - 1  # where each text ends in ``joined``
    seps = np.flatnonzero(np.frombuffer(joined.encode(), dtype=np.uint8) == 124)
    out: npt.NDArray[np.int64] = np.searchsorted(seps, ends) - np.searchsorted(seps, ends - lens)
    return out


def _buffers(col: pl.Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]] | None:
    """A String column as Arrow holds it: the offsets (``len(col) + 1``, from 0) and the UTF-8 bytes of
    every text, one after the other (None when some text is null)."""
    arr: Any = col.to_arrow()
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    if str(arr.type) != "large_string":
        arr = arr.cast("large_string")
    if arr.null_count:
        return None
    _, ob, db = arr.buffers()
    o = np.frombuffer(ob, dtype=np.int64, count=len(arr) + 1, offset=8 * arr.offset)
    if db is None or o[-1] == o[0]:
        return o - o[0], np.zeros(0, dtype=np.uint8)
    d: npt.NDArray[np.uint8] = np.frombuffer(db, dtype=np.uint8)[o[0] : o[-1]]
    return o - o[0], d


def list_counts(col: pl.Series) -> npt.NDArray[np.int64] | None:
    """Entries per ``|``-separated list of a String column (an empty text: none); None when some text
    is null."""
    got = _buffers(col)
    if got is None:
        return None
    o, d = got
    before = np.searchsorted(np.flatnonzero(d == _BAR), o)
    n: npt.NDArray[np.int64] = np.diff(before) + 1
    n[o[1:] == o[:-1]] = 0
    return n


def _pack_at(d: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lens: npt.NDArray[np.int64]) -> Words:
    """The texts ``d[starts[i] : starts[i] + lens[i]]`` packed as :func:`_pack` packs a code (a text
    longer than 8 bytes: ``_LONG``, which no code packs to)."""
    pad = np.zeros(d.size + 8, dtype=np.uint8)
    pad[: d.size] = d
    # every 8 bytes from every byte of ``pad``, read as one little-endian word (an unaligned view)
    win = np.ndarray((d.size + 1,), dtype="<u8", buffer=pad, strides=(1,))
    keys: Words = (win[starts] & _LOW[np.minimum(lens, 8)]).astype(np.uint64)
    keys[lens > 8] = _LONG
    return keys


def _codes_packed(col: pl.Series) -> tuple[Words, npt.NDArray[np.int64], int] | None:
    """Every code of every ``|``-separated list of ``col`` packed (a case without codes: one empty
    code, packed as 0), where each case's codes start, and how many codes there are — the codes
    :func:`_flat` gives when no text holds a space. None when a text holds a space or a NUL, or is null."""
    got = _buffers(col)
    if got is None:
        return None
    o, d = got
    if d.size and ((d == _SPACE).any() or (d == 0).any()):
        return None
    n = o.size - 1
    sep = np.flatnonzero(d == _BAR)
    before = np.searchsorted(sep, o)  # separators before each text (and in all of them)
    total = n + sep.size
    first = np.arange(n) + before[:-1]  # each case's first code
    last = first + np.diff(before)
    starts = np.empty(total, dtype=np.int64)
    ends = np.empty(total, dtype=np.int64)
    inner = np.ones(total, dtype=np.bool_)
    inner[first] = False
    starts[first] = o[:-1]
    starts[inner] = sep + 1
    inner[:] = True
    inner[last] = False
    ends[last] = o[1:]
    ends[inner] = sep
    return _pack_at(d, starts, ends - starts), first, total


def _texts_packed(col: pl.Series) -> Words | None:
    """Every text of ``col`` packed whole (None when one is null or holds a NUL)."""
    got = _buffers(col)
    if got is None:
        return None
    o, d = got
    if d.size and (d == 0).any():
        return None
    return _pack_at(d, o[:-1], np.diff(o))


def _flat(col: Sequence[str]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Every code of every case in one list (a case without codes: one empty code) and where each
    case starts in it; codes split as the per-case path splits them."""
    joined = "|".join(col)
    if " " not in joined:
        flat = joined.split("|")
        counts = _bars(col, joined) + 1
    else:
        flat = []
        n: list[int] = []
        for s in col:
            got = [x.strip() for x in s.split("|")] if " " in s else s.split("|")
            flat.extend(got)
            n.append(len(got))
        counts = np.array(n, dtype=np.int64)
    starts = np.zeros(len(col), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return flat, starts


def _mask_test(node: _Node, bits: dict[str, int]) -> Callable[[Words], npt.NDArray[np.bool_]]:
    """A formula over rows of mark words (complication level NONE, as a HAC formula is read)."""
    if node.op == "atom":
        if node.value in ("MCC", "CC", "NONE"):
            const = node.value == "NONE"
            return lambda m: np.full(m.shape[0], const, dtype=np.bool_)
        b = bits.get(node.value)
        if b is None:  # a mark no code carries
            return lambda m: np.zeros(m.shape[0], dtype=np.bool_)
        k = b.bit_length() - 1
        word, bit = k // 64, np.uint64(1 << (k % 64))
        return lambda m: (m[:, word] & bit) != 0
    kids = [_mask_test(x, bits) for x in node.kids]
    if node.op == "not":
        return lambda m: ~kids[0](m)
    if node.op == "and":
        return lambda m: kids[0](m) & kids[1](m)
    return lambda m: kids[0](m) | kids[1](m)


def _pick(xs: Sequence[str], rows: npt.NDArray[np.int64]) -> list[str]:
    """``[xs[i] for i in rows]`` in one C-level call."""
    if rows.size == 0:
        return []
    got = operator.itemgetter(*rows.tolist())(xs)
    return [got] if rows.size == 1 else list(got)


def _distinct(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``np.unique`` of an ascending array, without sorting it again."""
    if x.size < 2:
        return x
    keep = np.empty(x.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _distinct_inverse(x: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``np.unique(x, return_inverse=True)`` of an ascending array, without sorting it again."""
    keep = np.empty(x.size, dtype=np.bool_)
    keep[:1] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    inv: npt.NDArray[np.int64] = np.cumsum(keep, dtype=np.int64) - 1
    return x[keep], inv


def _popcount(a: Words) -> npt.NDArray[np.int64]:
    """Set bits per row."""
    out: npt.NDArray[np.int64] = np.unpackbits(np.ascontiguousarray(a).view(np.uint8), axis=1).sum(
        axis=1, dtype=np.int64
    )
    return out


def _to_int(row: Words) -> int:
    return int.from_bytes(row.astype("<u8").tobytes(), "little")


def _choices(
    prog: Program, t: Tables, memo: Memo, lst: npt.NDArray[np.int64], m: Words, results: bool
) -> npt.NDArray[np.int64]:
    """The lean path's rule choice for rows ``m`` of lists ``lst`` (choice numbers of ``memo``; with
    ``results``, a rule that gives a DRG itself as its shared result): one dict lookup per row, the
    list's own memo for a key not seen before."""
    w = t.width
    keys = np.empty((lst.size, w + 1), dtype="<u8")
    keys[:, 0] = lst
    keys[:, 1:] = m & t.ref[lst]
    kb: list[bytes] = keys.view(f"V{8 * (w + 1)}").ravel().tolist()
    code = memo.code
    got = np.fromiter(map(code.get, kb, repeat(MISS)), dtype=np.int64, count=len(kb))
    for j in np.flatnonzero(got == MISS).tolist():
        raw = kb[j]
        c = code.get(raw)  # a key twice in the batch
        if c is None:
            p = prog._lean_pick(t.lists[int.from_bytes(raw[:8], "little")], int.from_bytes(raw[8:], "little"))
            if results and p.out is not None:
                c = memo.res_no.get(id(p.out))
                if c is None:
                    c = memo.res_no[id(p.out)] = len(memo.results)
                    memo.results.append(p.out)
                    assert p.rule is not None
                    memo.rules.append((p.rule, p.slot, p.level))
            else:
                c = -1 - len(memo.picks)
                memo.picks.append(p)
            code[raw] = c
        got[j] = c
    return got


Packed = tuple[Words, npt.NDArray[np.int64], int, Words, npt.NDArray[np.int64], int, Words, Words | None]


def _packed(t: Tables, frame: pl.DataFrame) -> Packed | None:
    """The secondary diagnoses and procedures of ``frame`` as packed codes with each case's start and
    the code count, the principal diagnoses and (when every one packs) the discharge statuses packed
    whole; None when the tables or a column cannot be read so (the code lists are split in Python)."""
    if t.s_ix is None or t.r_ix is None or t.p_ix is None or t.only_ix is None:
        return None
    s = _codes_packed(frame["sdx"])
    p = _codes_packed(frame["procedures"])
    x = _texts_packed(frame["pdx"])
    if s is None or p is None or x is None:
        return None
    st = _texts_packed(frame["discharge_status"])
    if st is not None and (st == _LONG).any():
        st = None
    return (*s, *p, x, st)


def group_lean_batch(
    prog: Program,
    pdx: Sequence[str],
    sdx: Sequence[str],
    poa: Sequence[str],
    procs: Sequence[str],
    status: Sequence[str],
    one: Callable[[int, Sequence[str], Sequence[str]], Row | Result],
    trace: bool = False,
    frame: pl.DataFrame | None = None,
) -> tuple[pl.Series, ...]:
    """Group a batch → MDC, family, DRG and severity columns (and with ``trace`` the trace), the same
    as the lean path case by case. ``one(i, sdx, procs)`` groups row ``i`` on the per-case path (given
    its split code lists, with the trace when ``trace``). ``frame``, when given, holds the same rows as
    String columns ``pdx, sdx, procedures, discharge_status``: the codes are then read from its Arrow
    buffers and looked up in the tables' hash tables, without a Python object per code."""
    t = tables(prog)
    n = len(pdx)
    if n == 0:
        return tuple(pl.Series(name, [], dtype=pl.String) for name in (*NAMES, "trace")[: 4 + trace])
    w = t.width
    packed = _packed(t, frame) if frame is not None else None
    sflat: list[str] | None = None
    pflat: list[str] | None = None
    skeys: Words | None = None
    st_keys: Words | None = None
    if packed is not None:
        skeys, sstart, ns, pkeys, pstart, np_, pkx, st_keys = packed
        sid = lookup(t.s_ix, skeys) if t.s_ix is not None else np.zeros(0, dtype=np.int64)
        rid = lookup(t.r_ix, pkeys) if t.r_ix is not None else np.zeros(0, dtype=np.int64)
        pid = lookup(t.p_ix, pkx) if t.p_ix is not None else np.zeros(0, dtype=np.int64)
    else:
        sflat, sstart = _flat(sdx)
        pflat, pstart = _flat(procs)
        ns, np_ = len(sflat), len(pflat)
        sid = np.fromiter(map(t.sid.get, sflat, repeat(0)), dtype=np.int64, count=ns)
        rid = np.fromiter(map(t.rid.get, pflat, repeat(0)), dtype=np.int64, count=np_)
        pid = np.fromiter(map(t.pid.get, pdx, repeat(0)), dtype=np.int64, count=n)
    send = np.append(sstart, ns)
    pend = np.append(pstart, np_)
    slow: npt.NDArray[np.bool_] = np.equal(pid, 0)

    # discharge status: its marks and whether the patient died, per distinct status of the batch
    if st_keys is not None:
        _, first, inv = np.unique(st_keys, return_index=True, return_inverse=True)
        st_ix = inv.reshape(-1).astype(np.int64)
        st_rows = [status[i] for i in first.tolist()]
    else:
        st_seen: dict[str, int] = {}
        st_ix = np.fromiter(
            map(st_seen.setdefault, status, map(len, repeat(st_seen))), dtype=np.int64, count=n
        )
        st_rows = list(st_seen)
    st_int: list[int] = []
    died: list[bool] = []
    for s in st_rows:
        mk, d = prog.lean_status.get(s) or prog._lean_status_of(s)
        st_int.append(mk & ((1 << (64 * w)) - 1))  # bits no formula reads may lie beyond the tables
        died.append(d)
    dead = np.array(died, dtype=np.bool_)[st_ix]

    # secondary diagnoses: marks, and the level bits unless the pdx or death excludes the code
    case_s = np.repeat(np.arange(n), np.diff(send))
    fl = t.s_flags[sid]
    use = (fl & 4) != 0
    g = t.p_excl[pid][case_s]
    chk = np.flatnonzero(use & (g >= 0))
    if chk.size and t.excl_pairs.size:
        key = g[chk] * len(t.s_flags) + sid[chk]
        pos = np.minimum(np.searchsorted(t.excl_pairs, key), t.excl_pairs.size - 1)
        use[chk[t.excl_pairs[pos] == key]] = False
    use &= ~(((fl & 2) != 0) & dead[case_s])
    rows_s = np.where(use[:, None], t.s_level[sid], t.s_marks[sid])
    m = np.zeros((n, w), dtype=np.uint64)
    m[:, : rows_s.shape[1]] = np.bitwise_or.reduceat(rows_s, sstart, axis=0)
    m[:, : t.r_marks.shape[1]] |= np.bitwise_or.reduceat(t.r_marks[rid], pstart, axis=0)
    slow |= np.add.reduceat(t.r_cluster[rid], pstart) > 1  # a procedure cluster may form
    m |= t.p_m0[pid]
    m |= _words(st_int, w)[st_ix]

    # 'only' marks: every secondary diagnosis of the scheme carries the pdx's mark
    want = t.p_only[pid]
    if want.any():
        have = np.full(ns, -1, dtype=np.int64)
        rows = np.flatnonzero(want[case_s])  # the codes of the cases whose pdx has 'only' marks
        if sflat is None:
            assert skeys is not None and t.only_ix is not None
            have[rows] = lookup(t.only_ix, skeys[rows])
        else:
            have[rows] = np.fromiter(
                map(t.only_of.get, _pick(sflat, rows), repeat(-1)), dtype=np.int64, count=rows.size
            )
        got = np.bitwise_and.reduceat(have, sstart) & want
        for j in range(t.only_bits.shape[0]):
            hit = (got >> j) & 1 == 1
            if hit.any():
                m[hit] |= t.only_bits[j]

    # counters (bilateral, four stents, fusions, multiple trauma) over the counted marks
    k = m & t.count_rel
    live = np.flatnonzero(k.any(axis=1))
    if live.size:
        kk = k[live]
        tot: npt.NDArray[np.int64] | None = None
        for b, mn, dmask, ti, rel in t.counters:
            on = (kk & rel).any(axis=1)
            if not on.any():
                continue
            if dmask is not None:
                met: npt.NDArray[np.bool_] = np.array(on, copy=True)
                met[on] = _popcount(kk[on] & dmask) >= mn
            else:
                if tot is None:
                    tot = np.add.reduceat(t.r_terms[rid], pstart, axis=0)[live]
                met = on & (tot[:, ti] >= mn)
            kk[met] |= b
        m[live] |= kk

    # hospital-acquired conditions: a HAC-listed code not present on admission whose criteria hold
    # does not count toward the level
    hac = np.flatnonzero(fl & 1)
    hc = _distinct(case_s[hac])
    hc = hc[~slow[hc]]
    if hc.size:
        sub = _pick(poa, hc)
        qflat, qstart = _flat(sub)
        qn = np.diff(np.append(qstart, len(qflat)))
        pres = np.fromiter(map(prog.poa_present.__contains__, qflat), dtype=np.bool_, count=len(qflat))
        empty = np.fromiter(map(operator.not_, sub), dtype=np.bool_, count=len(sub))
        pres[qstart[empty]] = True  # no POA list: every diagnosis present on admission
        sn = send[hc + 1] - send[hc]
        slow[hc[~empty & (qn != sn)]] = True  # a POA list of another length: the per-case path
        al = ~empty & (qn == sn)
        # per secondary diagnosis of those cases: its POA entry not present on admission
        lens = sn[al]
        offs = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        absent = np.zeros(ns, dtype=np.bool_)
        absent[np.repeat(send[hc[al]], lens) + offs] = ~pres[np.repeat(qstart[al], lens) + offs]
        notall = np.zeros(n, dtype=np.bool_)
        notall[hc] = ~np.logical_and.reduceat(pres, qstart)
        # a HAC-listed code twice in a case with some diagnosis not present: the per-case path
        hr = hac[notall[case_s[hac]]]
        key, cnt = np.unique(case_s[hr] * len(t.s_flags) + sid[hr], return_counts=True)
        slow[key[cnt > 1] // len(t.s_flags)] = True
        cand = hac[absent[hac] & ~slow[case_s[hac]]]
        if cand.size and t.excl_pairs.size:  # a code the pdx excludes is not a HAC of the case
            gc = g[cand]
            key = gc * len(t.s_flags) + sid[cand]
            pos = np.minimum(np.searchsorted(t.excl_pairs, key), t.excl_pairs.size - 1)
            cand = cand[~((gc >= 0) & (t.excl_pairs[pos] == key))]
        # every (HAC number, list) entry of those codes, and whether its formula holds for the case
        cnt = t.h_ptr[sid[cand] + 1] - t.h_ptr[sid[cand]]
        er = np.repeat(np.arange(cand.size), cnt)
        ek = np.repeat(t.h_ptr[sid[cand]], cnt) + np.arange(er.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        if ek.size:
            enum, eplain, eneed = t.h_num[ek], t.h_plain[ek], t.h_need[ek]
            cases, inv = _distinct_inverse(case_s[cand][er])
            held = np.zeros((cases.size, max(1, len(t.hac_tests))), dtype=np.bool_)
            mc = m[cases]
            for j, test in enumerate(t.hac_tests):
                held[:, j] = test(mc)
            met = (enum >= 0) & held[inv, np.maximum(enum, 0)]
            plain = np.zeros(cases.size, dtype=np.int64)  # per case: the plain HAC numbers met
            np.bitwise_or.at(plain, inv[met & eplain], np.left_shift(1, enum[met & eplain]))
            ok = eplain | ((eneed >= 0) & ((plain[inv] >> np.maximum(eneed, 0)) & 1 == 1))
            gone = _distinct(cand[er[met & ok]])
            if gone.size and trace:  # the trace names the codes that count: the per-case path
                slow[case_s[gone]] = True
            elif gone.size:  # their CC / MCC level does not count: the level bits again without them
                lm = t.level_mask[: rows_s.shape[1]]
                lvb = rows_s & lm
                lvb[gone] = 0
                cg = _distinct(case_s[gone])
                m[cg, : lm.size] = (m[cg, : lm.size] & ~lm) | np.bitwise_or.reduceat(lvb, sstart, axis=0)[cg]

    # pre-MDC rules, then the rule of the pdx's MDC list
    memo = t.memo
    memo.bound()
    idx = np.full(n, -1, dtype=np.int64)
    finish: list[tuple[int, _Pick, bool, int]] = []  # pre-MDC results, reroutes, ungroupable: per case
    pre = np.flatnonzero(~slow & (m & t.pre_keys).any(axis=1))
    if pre.size:
        ch = _choices(prog, t, memo, np.full(pre.size, t.pre, dtype=np.int64), m[pre], False)
        for i, c in zip(pre.tolist(), ch.tolist(), strict=True):
            p = memo.picks[-c - 1]
            if p.rule is not None:
                slow[i] = True
                finish.append((i, p, True, c))
    fast = np.flatnonzero(~slow)
    ch = _choices(prog, t, memo, t.p_list[pid[fast]], m[fast], True)
    idx[fast] = ch
    for i, c in zip(fast[ch < 0].tolist(), ch[ch < 0].tolist(), strict=True):
        finish.append((i, memo.picks[-c - 1], False, c))
    if not trace:
        return _untraced(prog, t, memo, pdx, sdx, procs, m, idx, finish, sflat, send, pflat, pend, one)
    if sflat is None or pflat is None:  # the trace names codes
        sflat, pflat = _flat(sdx)[0], _flat(procs)[0]
    # the cases left, one by one: their results after the shared ones
    base = len(memo.results)
    more: list[Row | Result] = []
    lean_pdx = prog.lean_pdx
    for i, p, at_pre, _ in finish:
        e = lean_pdx[pdx[i]]
        assert e is not None
        idx[i] = base + len(more)
        sd = sflat[send[i] : send[i + 1]] if sdx[i] else ()
        ex = prog.pdx_excl.get(pdx[i])
        more.append(
            prog._lean_finish(p.rule, p.slot, _to_int(m[i]), sd, ex, bool(dead[i]), _NOTHING, e, at_pre)
        )
    for i in np.flatnonzero(idx < 0).tolist():
        sd = sflat[send[i] : send[i + 1]] if sdx[i] else ()
        pr = pflat[pend[i] : pend[i + 1]] if procs[i] else ()
        idx[i] = base + len(more)
        more.append(one(i, sd, pr))
    cols = memo.columns()
    out = tuple(
        pl.concat([c, pl.Series(c.name, [r[j] for r in more], dtype=pl.String)]).gather(idx)
        if more
        else c.gather(idx)
        for j, c in enumerate(cols.get_columns())
    )
    traces = [""] * n
    for i in np.flatnonzero(idx >= base).tolist():
        traces[i] = more[idx[i] - base][4]
    ok = np.flatnonzero(idx < base)
    if ok.size:
        # the first secondary diagnosis that gives the level the rule read (as the lean path's trace)
        rules = memo.rules
        c_ok = idx[ok]
        sh = np.zeros(n, dtype=np.uint64)
        lv = np.zeros(n, dtype=np.int64)
        split = np.array([r is not None and r.split for r, _, _ in rules], dtype=np.bool_)[c_ok]
        sh[ok] = np.array([x for _, x, _ in rules], dtype=np.uint64)[c_ok]
        lv[ok] = np.where(split, np.array([x for _, _, x in rules], dtype=np.int64)[c_ok], 0)
        lb = rows_s[:, 0] & t.level_mask[0]
        lev = _LEVEL[((lb >> sh[case_s]) & np.uint64(3)).astype(np.int64)]
        want = lv[case_s]
        hit = np.where((lev == want) & (want > 0), np.arange(ns), ns)
        first = np.minimum.reduceat(hit, sstart)
        res = memo.results
        for i, c, f in zip(ok.tolist(), c_ok.tolist(), first[ok].tolist(), strict=True):
            r, _, lvl = rules[c]
            assert r is not None
            head = f"MDC={res[c][0]}(pdx {pdx[i]})>{r.text}"
            if not r.split:
                traces[i] = f"{head}>DRG={r.drg}"
            elif f < ns:
                traces[i] = f"{head}>CC:{LEVEL_NAME[lvl]}({sflat[f]})>DRG={r.drg}"
            else:
                traces[i] = f"{head}>CC:NONE>DRG={r.drg}"
    return (*out, pl.Series("trace", traces, dtype=pl.String))


def _untraced(
    prog: Program,
    t: Tables,
    memo: Memo,
    pdx: Sequence[str],
    sdx: Sequence[str],
    procs: Sequence[str],
    m: Words,
    idx: npt.NDArray[np.int64],
    finish: list[tuple[int, _Pick, bool, int]],
    sflat: list[str] | None,
    send: npt.NDArray[np.int64],
    pflat: list[str] | None,
    pend: npt.NDArray[np.int64],
    one: Callable[[int, Sequence[str], Sequence[str]], Row | Result],
) -> tuple[pl.Series, ...]:
    """The rest of :func:`group_lean_batch` without the trace: every result numbered in ``memo``, the
    columns gathered at once. A finish without the trace reads the rule, its level and the marks of the
    lists it may reroute to: remembered by those."""
    if finish:
        rows = np.array([x[0] for x in finish], dtype=np.int64)
        keys: list[bytes] = np.ascontiguousarray(m[rows] & t.fin_ref).view(f"V{8 * t.width}").ravel().tolist()
        fin = memo.finish
        lean_pdx = prog.lean_pdx
        for (i, p, at_pre, c), kb in zip(finish, keys, strict=True):
            e = lean_pdx[pdx[i]]
            assert e is not None
            key = (c, at_pre, e.mdc, kb)
            got = fin.get(key)
            if got is None:
                r = prog._lean_finish(
                    p.rule, p.slot, _to_int(m[i]), (), None, False, _NOTHING, e, at_pre, False
                )
                got = fin[key] = memo.number(r)
            idx[i] = got
    for i in np.flatnonzero(idx < 0).tolist():
        # no flat code lists: the texts hold no space, so a split is what the flat lists hold
        sd = (sflat[send[i] : send[i + 1]] if sflat is not None else sdx[i].split("|")) if sdx[i] else ()
        pr = (pflat[pend[i] : pend[i + 1]] if pflat is not None else procs[i].split("|")) if procs[i] else ()
        idx[i] = memo.number(one(i, sd, pr))
    return tuple(memo.columns().gather(idx).get_columns())
