"""Formula schemes (format 2): grouping by marks and boolean formulas, the way the CMS MS-DRG grouper's
tables are written (docs/DRG.md "Formula schemes").

A case's *marks* are the logic lists its codes are on — a principal diagnosis's marks also as
``PDX:m``, a secondary diagnosis's as ``SDX:m``, every one also as ``ANY:m`` — plus marks derived from
the case (procedure clusters, counters such as bilateral joints or four stents, discharge status, the
principal diagnosis's MDC …), all declared in the scheme. A rule is a formula over marks (``&``, ``|``,
``~``, parentheses; ``MCC`` / ``CC`` / ``NONE`` stand for the case's complication level *for that
rule*: secondary diagnoses carrying one of the rule's ``suppress`` marks do not count). Rules are tried
in file order, first the pre-MDC list, then the list of the principal diagnosis's MDC; the first rule
that holds gives the DRG, reroutes to another list (MDC 24 multiple trauma, MDC 25 HIV, unrelated OR
procedures 981–989) or makes the case ungroupable. Everything here is generic: no code names a DRG.

Formulas are compiled once into Python functions of (marks, severity); each rule list is indexed by a
mark every case satisfying the rule must have, so a case evaluates only the few rules it can meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from yibao.drg.model import FormulaLogic, Scheme

MCC, CC, NONE = 2, 1, 0
MEMO_MAX = 200_000  # bound of the per-pdx caches (a stream of junk codes cannot grow them without limit)
LEVEL_NAME = ("NONE", "CC", "MCC")
LEVEL_OF = (NONE, CC, MCC, MCC)  # a slot's two level bits ("CC or more", "MCC") → the level
_TOKEN = re.compile(r"\s*(?:(\()|(\))|(&)|(\|)|(~)|([^\s()&|~]+))")
_SEVERITY_ATOMS = {"MCC": "S == 2", "CC": "S == 1", "NONE": "S == 0"}

Test = Callable[[frozenset[str] | set[str], int], bool]


def split_codes(s: str) -> tuple[str, ...]:
    """A ``|``-separated code list (the CLI input contract) as a tuple; blanks around codes dropped."""
    if not s:
        return ()
    return tuple(x.strip() for x in s.split("|")) if " " in s else tuple(s.split("|"))


class FormulaError(ValueError):
    """A formula that cannot be parsed (the message names the formula and the position)."""


class _Node(NamedTuple):
    op: str  # "atom", "and", "or", "not"
    value: str
    kids: tuple[_Node, ...]


def parse(formula: str) -> _Node:
    """Parse a formula (``a & (b | ~c)``; ``&`` binds tighter than ``|``) into a tree."""
    toks: list[tuple[str, str]] = []
    pos = 0
    text = formula.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FormulaError(f"公式无法读取 {formula!r}: cannot read at position {pos}")
        pos = m.end()
        kind = ("(", ")", "&", "|", "~", "atom")[m.lastindex - 1 if m.lastindex else 0]
        toks.append((kind, m.group(m.lastindex or 0)))
    i = 0

    def expr() -> _Node:
        nonlocal i
        left = term()
        while i < len(toks) and toks[i][0] == "|":
            i += 1
            left = _Node("or", "", (left, term()))
        return left

    def term() -> _Node:
        nonlocal i
        left = factor()
        while i < len(toks) and toks[i][0] == "&":
            i += 1
            left = _Node("and", "", (left, factor()))
        return left

    def factor() -> _Node:
        nonlocal i
        if i >= len(toks):
            raise FormulaError(f"公式不完整 {formula!r}: ends too early")
        kind, val = toks[i]
        i += 1
        if kind == "atom":
            return _Node("atom", val, ())
        if kind == "~":
            return _Node("not", "", (factor(),))
        if kind == "(":
            e = expr()
            if i >= len(toks) or toks[i][0] != ")":
                raise FormulaError(f"公式缺少右括号 {formula!r}: missing )")
            i += 1
            return e
        raise FormulaError(f"公式中出现意外内容 {formula!r}: unexpected {val!r}")

    if not toks:
        raise FormulaError(f"公式为空 {formula!r}: empty")
    node = expr()
    if i != len(toks):
        raise FormulaError(f"公式中出现意外内容 {formula!r}: unexpected {toks[i][1]!r}")
    return node


def _python(n: _Node) -> str:
    if n.op == "atom":
        return _SEVERITY_ATOMS.get(n.value) or f"({n.value!r} in M)"
    if n.op == "not":
        return f"(not {_python(n.kids[0])})"
    sep = " and " if n.op == "and" else " or "
    return "(" + sep.join(_python(k) for k in n.kids) + ")"


def compile_formula(formula: str) -> Test:
    """The formula as a function ``test(marks, severity) -> bool``."""
    code = _python(parse(formula))
    fn: Test = eval(f"lambda M, S: {code}", {"__builtins__": {}})
    return fn


MaskTest = Callable[[int, int], bool]


def _mask_python(n: _Node, bit: Callable[[str], int]) -> str:
    if n.op == "atom":
        return _SEVERITY_ATOMS.get(n.value) or f"(M & {bit(n.value)})"
    if n.op == "not":
        return f"(not {_mask_python(n.kids[0], bit)})"
    sep = " and " if n.op == "and" else " or "
    return "(" + sep.join(_mask_python(k, bit) for k in n.kids) + ")"


def compile_mask_formula(formula: str, bit: Callable[[str], int]) -> MaskTest:
    """The formula as ``test(marks, severity)`` over marks held as the bits of one int (``bit(mark)``)."""
    fn: MaskTest = eval(f"lambda M, S: {_mask_python(parse(formula), bit)}", {"__builtins__": {}})
    return fn


def triggers(n: _Node, weight: Callable[[str], int] | None = None) -> frozenset[str] | None:
    """Marks of which a case satisfying the formula has at least one (None: no such set). Of the parts
    of an AND, the set with the least ``weight`` (how common its marks are; default: one each) wins."""
    w = weight or (lambda _m: 1)
    if n.op == "atom":
        return None if n.value in _SEVERITY_ATOMS else frozenset((n.value,))
    if n.op == "not":
        return None
    subs = [triggers(k, weight) for k in n.kids]
    if n.op == "or":
        if any(s is None for s in subs):
            return None
        return frozenset().union(*(s for s in subs if s is not None))
    known = [s for s in subs if s is not None]
    return min(known, key=lambda t: sum(w(m) for m in t)) if known else None


class _Rule(NamedTuple):
    test: Test
    drg: str | None
    family: str | None
    reroute: str | None
    ungroupable: bool
    suppress: frozenset[str] | None
    label: str  # "05.58" list and position, for the trace
    formula: str
    text: str  # "ADRG=321-322(rule 05.56: formula)" for the trace
    final: bool  # gives a DRG itself (no reroute, not ungroupable)
    split: bool  # its family splits by severity (MCC / CC / NONE)
    fam_code: str  # the family (ADRG column)


class _RuleList(NamedTuple):
    rules: tuple[_Rule, ...]
    by_mark: dict[str, tuple[int, ...]]  # trigger mark → rule positions
    keys: frozenset[str]
    always: tuple[int, ...]  # rules without a trigger mark


class _Dx(NamedTuple):
    mdc: str
    level: int
    as_pdx: frozenset[str]
    as_sdx: frozenset[str]
    raw: frozenset[str]
    hacs: tuple[tuple[str, str], ...]  # (HAC number, list) of this code
    dead_excluded: bool
    only: tuple[str, ...]  # the scheme's "only" marks this code has


class _Counter(NamedTuple):
    mark: str
    min: int
    distinct: frozenset[str] | None
    terms: tuple[tuple[dict[str, int], frozenset[str] | None], ...]
    relevant: frozenset[str]  # the marks it counts (a case without any of them is skipped)


class _Fast(NamedTuple):
    mdc: str
    marks: frozenset[str]  # the pdx's marks with the discharge status's
    cands: tuple[int, ...]  # rules of the MDC list those marks can trigger
    rules: _RuleList
    excl: frozenset[str] | None
    dead: bool
    only: tuple[str, ...]  # the pdx's "only" marks (every secondary diagnosis must have them too)


class _Pick(NamedTuple):
    """A memoised rule choice: the rule (None: no rule holds), where its level sits in the marks (the
    shift of its suppress slot's two level bits), the case's level there (the memo key holds those
    bits), and when the rule gives a DRG itself, the result without a trace (shared by every case)."""

    rule: _Rule | None
    slot: int
    level: int
    out: Result | None


_NO_RULE = _Pick(None, 0, NONE, None)
_NOTHING: frozenset[str] = frozenset()


class _LeanList(NamedTuple):
    """A rule list for the lean path: marks as the bits of an int, and a memo of the rule chosen."""

    rules: tuple[_Rule, ...]
    tests: tuple[MaskTest, ...]
    # every mark a rule of the list reads and the level bits of its rules' suppress slots: the rule
    # chosen depends on these bits alone, so they are the memo key
    ref: int
    rule_sh: tuple[int, ...]  # per rule: the shift of its level bits (its suppress slot × 2)
    keys: int  # the trigger marks
    by_bit: dict[int, tuple[int, ...]]  # trigger mark bit → rule positions
    always: tuple[int, ...]  # rules without a trigger mark
    memo: dict[int, _Pick]  # marks & ref → the first rule that holds (or none), its slot, its result
    mdc: str
    shared: dict[tuple[int, str], Result]  # (rule, severity) → its result without a trace, one object


class _LeanEntry(NamedTuple):
    """What the lean path needs for one principal diagnosis."""

    m0: int  # the pdx's marks
    lst: _LeanList
    excl: frozenset[str] | None
    head: str  # the trace's first step, ``MDC=05(pdx I214)>``
    mdc: str
    only: tuple[tuple[frozenset[str], int], ...]  # per 'only' mark of the pdx: (codes that have it, ONLY bit)


_UNSET: object = object()
_new = tuple.__new__  # builds a Result without the NamedTuple constructor's Python-level call


class Result(NamedTuple):
    """A formula grouping: MDC, family (ADRG column), DRG, severity name and trace."""

    mdc: str
    family: str
    drg: str
    severity: str
    trace: str
    ungroupable: bool


class Program:
    """A formula scheme compiled for grouping (built once per scheme, shared by every case)."""

    def __init__(self, scheme: Scheme) -> None:
        f = scheme.formulas
        assert f is not None
        self.logic: FormulaLogic = f
        raw = [frozenset(p) for p in f.patterns]
        # only the marks some formula, counter or rule reads are carried per case (smaller sets, and
        # secondary diagnoses that carry none of them and no CC level do not change the grouping)
        used = self._referenced(f)
        as_pdx = [
            frozenset(m for a in p for m in (a, "PDX:" + a, "ANY:" + a) if m in used) for p in f.patterns
        ]
        as_sdx = [
            frozenset(m for a in p for m in (a, "SDX:" + a, "ANY:" + a) if m in used) for p in f.patterns
        ]
        pr_sets = [frozenset(m for a in p for m in (a, "ANY:" + a) if m in used) for p in f.patterns]
        self.pr_marks = {c: pr_sets[p] for c, p in f.pr.items()}
        self.pr_raw = {c: raw[p] for c, p in f.pr.items()}
        dead = frozenset(f.dead_excludes)
        hac_lists = f.hac_lists
        pat_hacs = [tuple((hac_lists[a], a) for a in sorted(p) if a in hac_lists) for p in f.patterns]
        self.dx: dict[str, _Dx] = {}
        for code, (mdc, level, p) in f.dx.items():
            self.dx[code] = _Dx(
                f"{mdc:02d}" if mdc else "",
                level,
                as_pdx[p],
                as_sdx[p],
                raw[p],
                pat_hacs[p],
                bool(raw[p] & dead),
                tuple(m for m in f.only_marks if m in raw[p]),
            )
        self.sex_mdc = {
            c: (f"{m:02d}" if m >= 0 else "", f"{w:02d}" if w >= 0 else "")
            for c, (m, w) in f.dx_sex_mdc.items()
        }
        self.clusters = [
            (c.code, [frozenset(ch) for ch in c.choices], frozenset(c.suppress_mdcs)) for c in f.clusters
        ]
        idx: dict[str, list[int]] = {}
        for i, c in enumerate(f.clusters):
            for ch in c.choices:
                for code in ch:
                    idx.setdefault(code, []).append(i)
        self.cluster_by_code = {k: tuple(v) for k, v in idx.items()}
        # two-choice clusters (nearly all) by their code pairs; the others by code, checked in full
        pairs: dict[tuple[str, str], list[int]] = {}
        multi: dict[str, list[int]] = {}
        for i, c in enumerate(f.clusters):
            if len(c.choices) == 2:
                for a_ in c.choices[0]:
                    for b_ in c.choices[1]:
                        pairs.setdefault((a_, b_) if a_ <= b_ else (b_, a_), []).append(i)
            else:
                for ch in c.choices:
                    for code in ch:
                        multi.setdefault(code, []).append(i)
        self.cluster_pairs = {k: tuple(v) for k, v in pairs.items()}
        self.cluster_multi = {k: tuple(v) for k, v in multi.items()}
        self.excl = [frozenset(g) for g in f.exclusion_groups]
        self.pdx_excl = {c: self.excl[g] for c, g in f.pdx_exclusion.items()}
        self.families = f.families
        # how common a mark is (codes carrying it), so that rule lists are indexed by their rarest marks
        freq: dict[str, int] = {}
        for p in f.pr.values():
            for a in f.patterns[p]:
                freq[a] = freq.get(a, 0) + 1
        for v in f.dx.values():  # diagnosis marks are far more common in cases than procedure marks
            for a in f.patterns[v[2]]:
                freq[a] = freq.get(a, 0) + 100
        self._weight: Callable[[str], int] = lambda m: (
            freq.get(m.split(":", 1)[-1], 1) + (100_000 if m in ("ALIVE", "ANYDX") else 0)
        )
        self.lists = {k: self._compile_list(k, rules) for k, rules in f.rules.items()}
        self.pre = f.pre
        self.unrelated = f.unrelated
        self.counters = [
            _Counter(
                c.mark,
                c.min,
                frozenset(c.distinct) if c.distinct is not None else None,
                tuple((t.weights, frozenset(t.requires) if t.requires else None) for t in c.terms or ()),
                frozenset(c.distinct or ()) | frozenset(k for t in c.terms or () for k in t.weights),
            )
            for c in f.counters
        ]
        self.status_marks = {k: frozenset(v) for k, v in f.status_marks.items()}
        self.status_other = frozenset(("ALIVE",)) if f.status_marks else frozenset()
        self.always = frozenset(f.always_marks)
        self.mdc_marks = {k: frozenset(v) for k, v in f.mdc_marks.items()}
        self.prefix_marks = {k: frozenset(v) for k, v in f.pdx_prefix_marks.items()}
        self.unknown_pdx = frozenset(f.unknown_pdx_marks)
        self.only = tuple(f.only_marks)
        self.hac = {k: compile_formula(v) for k, v in f.hac.items()}
        self.hac_show = dict(f.hac_show)
        self.poa_present = frozenset(f.hac_poa_present)
        self.death = frozenset(scheme.discharge_status.get("death", []))
        self.ungroupable_drg = scheme.ungroupable.drg
        self.counter_marks = frozenset(
            {k for c in f.counters for t in c.terms or () for k in t.weights}
            | {k for c in f.counters for k in c.distinct or ()}
        )
        self.unknown_base = self.always | self.unknown_pdx
        # a principal diagnosis's marks with everything that depends on it alone (MDC marks, first letter)
        self.pdx_base: dict[str, frozenset[str]] = {}
        for code, e in self.dx.items():
            self.pdx_base[code] = (
                self.always
                | e.as_pdx
                | self.mdc_marks.get(e.mdc, frozenset())
                | self.prefix_marks.get(code[:1], frozenset())
            )
        self.pdx_cands: dict[tuple[str, ...], tuple[int, ...]] = {}
        self.fast_by_status: dict[str, dict[str, _Fast | None]] = {}
        self.dead_marks = frozenset(("DIED",))
        # marks that send a case to the general path: pre-MDC triggers and counted marks
        self.pre_keys = self.lists[self.pre].keys
        # secondary diagnoses that change nothing: no mark any rule reads, no CC / MCC level, no HAC list
        # per secondary diagnosis: (marks, level, raw marks, flags 1 = on a HAC list, 2 = no CC/MCC if died)
        self.sdx_info = {
            c: (e.as_sdx, e.level, e.raw, (1 if e.hacs else 0) | (2 if e.dead_excluded else 0))
            for c, e in self.dx.items()
        }
        self.inert = frozenset(c for c, e in self.dx.items() if not e.as_sdx and not e.level and not e.hacs)
        self._build_lean()

    # ------------------------------------------------------------------ the lean path (compiled once)
    def _bit(self, mark: str) -> int:
        b = self.bits.get(mark)
        if b is None:
            b = self.bits[mark] = 1 << len(self.bits)
        return b

    def _mask(self, marks: frozenset[str] | set[str]) -> int:
        m = 0
        for x in marks:
            m |= self._bit(x)
        return m

    def _fmask(self, marks: frozenset[str]) -> int:
        """``_mask`` remembered per mark set (principal diagnoses share a few thousand sets)."""
        m = self.mask_of.get(marks)
        if m is None:
            m = self._mask(marks)
            if len(self.mask_of) < MEMO_MAX:
                self.mask_of[marks] = m
        return m

    def _build_lean(self) -> None:
        """Marks as the bits of one int per code, per-code lookups of everything the lean path reads,
        and per rule list the mask-compiled formulas. Built once with the program."""
        self.bits: dict[str, int] = {}
        self.mask_of: dict[frozenset[str], int] = {}
        f = self.logic
        supp_marks = sorted({m for rules in f.rules.values() for r in rules for m in r.suppress or ()})
        sup_bit = {m: 1 << i for i, m in enumerate(supp_marks)}

        def sup_mask(raw: frozenset[str] | Sequence[str]) -> int:
            return sum(sup_bit[m] for m in raw if m in sup_bit)

        # The complication level is carried in the marks: every distinct ``suppress`` set of the rules is a
        # slot (slot 0: no suppression) with two level bits at the bottom of the int, "CC or more" and
        # "MCC"; a secondary diagnosis sets them in every slot whose suppress marks it does not carry.
        # A case's level under slot k is then LEVEL_OF[(marks >> 2k) & 3], with no per-case list.
        slot_sets = sorted({sup_mask(r.suppress) for rules in f.rules.values() for r in rules if r.suppress})
        self.slot_of = {sm: k + 1 for k, sm in enumerate(slot_sets)}
        assert not self.bits  # the level bits are the lowest
        for k in range(1 + len(slot_sets)):
            self._bit(f"LEVEL{k}:CC")
            self._bit(f"LEVEL{k}:MCC")
        self.level_mask = (1 << (2 + 2 * len(slot_sets))) - 1

        def level_bits(lv: int, sb: int) -> int:
            out = 0
            for k, sm in enumerate((0, *slot_sets)):
                if lv and not sb & sm:
                    out |= (1 if lv == CC else 3) << (2 * k)
            return out

        # per pattern first (1,500 patterns for 150,000 codes), then per code:
        # (marks, marks with its level bits, flags 1 = on a HAC list, 2 = no CC/MCC if died)
        pat_sdx: dict[tuple[frozenset[str], int, frozenset[str]], tuple[int, int]] = {}
        self.lean_sdx: dict[str, tuple[int, int, int]] = {}
        for c, (ms, lv, raw, fl) in self.sdx_info.items():
            if c in self.inert:
                continue
            got = pat_sdx.get((ms, lv, raw))
            if got is None:
                mm = self._mask(ms)
                got = pat_sdx[(ms, lv, raw)] = (mm, mm | level_bits(lv, sup_mask(raw)))
            self.lean_sdx[c] = (got[0], got[1], fl)
        pat_pr: dict[frozenset[str], int] = {}
        self.lean_pr: dict[str, tuple[int, bool]] = {}
        for c, pm in self.pr_marks.items():
            a = pat_pr.get(pm)
            if a is None:
                a = pat_pr[pm] = self._mask(pm)
            self.lean_pr[c] = (a, c in self.cluster_by_code)
        self.lean_lists: dict[str, _LeanList] = {}
        for name, rl in self.lists.items():
            rule_sh: list[int] = []
            ref: set[str] = set(rl.keys)
            lvl_bits = 3  # the plain level (slot 0) is always part of the key
            for r in rl.rules:
                self._atoms(parse(r.formula), ref)
                k = 0 if r.suppress is None else self.slot_of[sup_mask(r.suppress)]
                rule_sh.append(2 * k)
                lvl_bits |= 3 << (2 * k)
            self.lean_lists[name] = _LeanList(
                rl.rules,
                tuple(compile_mask_formula(r.formula, self._bit) for r in rl.rules),
                self._mask(ref) | lvl_bits,
                tuple(rule_sh),
                self._mask(rl.keys),
                {self._bit(k): v for k, v in rl.by_mark.items()},
                rl.always,
                {},
                name,
                {},
            )
        self.lean_pre = self.lean_lists[self.pre]
        self.lean_pre_keys = self._mask(self.lists[self.pre].keys)
        # counters over bits: (mark bit, min, distinct marks or None, index among term counters, relevant)
        self.lean_counters: list[tuple[int, int, int | None, int, int]] = []
        terms: list[_Counter] = []
        for ctr in self.counters:
            self.lean_counters.append(
                (
                    self._bit(ctr.mark),
                    ctr.min,
                    None if ctr.distinct is None else self._mask(ctr.distinct),
                    len(terms),
                    self._mask(ctr.relevant),
                )
            )
            if ctr.distinct is None:
                terms.append(ctr)
        self.lean_terms = tuple(terms)
        self.lean_term_rel = self._mask(frozenset(k for c in terms for k in c.relevant))
        # a counter's own mark that a procedure counter reads: the procedures always key the memo
        self.lean_term_chain = bool(self.lean_term_rel & self._mask(frozenset(c.mark for c in self.counters)))
        self.count_memo: dict[object, int] = {}
        self.poa_all: dict[str, bool] = {}  # unsplit POA list → every entry present on admission
        self.lean_count_rel = self._mask(self.counter_marks)
        self.pr_terms: dict[str, tuple[int, ...]] = {}  # procedure → its weight in every term counter
        self.lean_hac = {k: compile_mask_formula(v, self._bit) for k, v in f.hac.items()}
        only_has: dict[str, frozenset[str]] = {
            m: frozenset(c for c, e in self.dx.items() if m in e.raw) for m in f.only_marks
        }
        self.lean_only = {m: (only_has[m], self._bit("ONLY:" + m)) for m in f.only_marks}
        self.lean_pdx: dict[str, _LeanEntry | None] = {}
        self.lean_status: dict[str, tuple[int, bool]] = {}  # status as given → (its marks, died)
        for code in self.dx:  # every principal diagnosis's entry, once (a few tenths of a second)
            self._lean_entry(code)

    @staticmethod
    def _atoms(n: _Node, out: set[str]) -> None:
        if n.op == "atom":
            if n.value not in _SEVERITY_ATOMS:
                out.add(n.value)
        for k in n.kids:
            Program._atoms(k, out)

    def _lean_entry(self, pdx: str) -> _LeanEntry | None:
        """The lean path's entry for a pdx (remembered); None: the case takes the other paths (an unknown
        pdx, one without an MDC or whose MDC depends on the sex)."""
        d = self.dx.get(pdx)
        e = None
        lst = self.lean_lists.get(d.mdc) if d is not None else None
        if d is not None and lst is not None and pdx not in self.sex_mdc and not self.lists[self.pre].always:
            e = _LeanEntry(
                self._fmask(self.pdx_base[pdx]),
                lst,
                self.pdx_excl.get(pdx),
                f"MDC={d.mdc}(pdx {pdx})>",
                d.mdc,
                tuple(self.lean_only[m] for m in d.only),
            )
        if len(self.lean_pdx) < MEMO_MAX:
            self.lean_pdx[pdx] = e
        return e

    def _lean_status_of(self, status: str) -> tuple[int, bool]:
        """A discharge status's marks and whether the patient died (remembered per status as given)."""
        st = self._status(status)
        got = (self._fmask(self.status_marks.get(st, self.status_other)), st in self.death)
        if len(self.lean_status) < 1_000:  # bounded: a stream of junk statuses cannot grow it
            self.lean_status[status] = got
        return got

    def _lean_choose(self, lst: _LeanList, m: int) -> _Pick:
        """The first rule of the list that holds for marks ``m`` (memo miss)."""
        cand: set[int] = set(lst.always)
        x = m & lst.keys
        while x:
            b = x & -x
            cand.update(lst.by_bit[b])
            x ^= b
        for j in sorted(cand):
            sh = lst.rule_sh[j]
            if lst.tests[j](m, LEVEL_OF[(m >> sh) & 3]):
                r = lst.rules[j]
                lvl = LEVEL_OF[(m >> sh) & 3]
                if not r.final:
                    return _Pick(r, sh, lvl, None)
                name = LEVEL_NAME[lvl] if r.split else "ALL"
                return _Pick(
                    r,
                    sh,
                    lvl,
                    lst.shared.setdefault(
                        (j, name), Result(lst.mdc, r.fam_code, r.drg or "", name, "", False)
                    ),
                )
        return _NO_RULE

    def _lean_pick(self, lst: _LeanList, m: int) -> _Pick:
        key = m & lst.ref
        memo = lst.memo
        hit = memo.get(key)
        if hit is None:
            hit = self._lean_choose(lst, m)
            if len(memo) < MEMO_MAX:
                memo[key] = hit
        return hit

    def _lean_count(self, m: int, procs: Sequence[str]) -> int:
        """Counter marks over bits (as :meth:`_count`), remembered by the counted marks (and the
        procedures, when a counter over procedures can run)."""
        k = m & self.lean_count_rel
        key: object = (k, *procs) if k & self.lean_term_rel or self.lean_term_chain else k
        add = self.count_memo.get(key)
        if add is None:
            add = self._lean_count_bits(k, procs) & ~k
            if len(self.count_memo) < MEMO_MAX:
                self.count_memo[key] = add
        return m | add

    def _lean_count_bits(self, m: int, procs: Sequence[str]) -> int:
        tot: list[int] | None = None
        for b, mn, dmask, ti, rel in self.lean_counters:
            if not m & rel:
                continue
            if dmask is not None:
                if (m & dmask).bit_count() >= mn:
                    m |= b
                continue
            if tot is None:
                tot = [0] * len(self.lean_terms)
                for p in procs:
                    if p in self.pr_raw:
                        w = self.pr_terms.get(p)
                        if w is None:
                            w = self._terms_of(p)
                        for j, x in enumerate(w):
                            tot[j] += x
            if tot[ti] >= mn:
                m |= b
        return m

    def _terms_of(self, p: str) -> tuple[int, ...]:
        r = self.pr_raw[p]
        w = tuple(
            sum(
                sum(x for k, x in weights.items() if k in r)
                for weights, req in c.terms
                if req is None or r & req
            )
            for c in self.lean_terms
        )
        if len(self.pr_terms) < MEMO_MAX:
            self.pr_terms[p] = w
        return w

    def _lean_hacs(self, at: list[int], sdx: Sequence[str], m: int, excl: frozenset[str] | None) -> set[int]:
        """As :meth:`_hacs`, over bits: positions of HAC-listed diagnoses not present on admission whose
        HAC criteria are met."""
        met: list[tuple[int, str, str, bool]] = []
        for i in at:
            s = sdx[i]
            if excl is None or s not in excl:
                for num, lst in self.dx[s].hacs:
                    t = self.lean_hac.get(num)
                    if t is not None and t(m, 0):
                        met.append((i, num, lst, lst not in self.hac_show))
        skip: set[int] = set()
        for i, _num, lst, _plain in met:
            if lst in self.hac_show:
                need = self.hac_show[lst]
                if not any(n == need and plain for _, n, _, plain in met):
                    continue
            skip.add(i)
        return skip

    def _lean(
        self,
        e: _LeanEntry,
        sm: tuple[int, bool],
        sdx: Sequence[str],
        poa: Sequence[str] | str,
        procs: Sequence[str],
        trace: bool = True,
    ) -> Result | None:
        """A case with its marks — and its complication level under every suppress slot — as the bits of
        one int, and the rule choice memoised per rule list by the bits its rules read. ``poa`` may be
        the unsplit ``|`` list. Without ``trace`` the result is a shared tuple with an empty trace. None
        hands the case to the fast / general path, which give the same result (procedure clusters, a
        HAC-listed code listed twice)."""
        m0, lst, excl, head, mdc, only = e
        dead = sm[1]
        info = self.lean_sdx
        m = 0  # the codes' marks (low bits: few digits), then the principal diagnosis's and the status's
        hac: list[int] | None = None
        allp: bool | None = None
        for s in sdx:
            t = info.get(s)
            if t is None:
                continue
            ms, ml, fl = t
            if fl:
                if fl & 1:
                    if allp is None:
                        allp = self._poa_all(poa)
                    if not allp:  # some diagnosis not present on admission: find the positions
                        if sdx.count(s) > 1:
                            return None  # the general path tells the positions apart
                        i = sdx.index(s)
                        if isinstance(poa, str):
                            poa = split_codes(poa)
                        if (poa[i] if i < len(poa) else "Y") not in self.poa_present:
                            hac = [i] if hac is None else [*hac, i]
                if fl & 2 and dead:
                    m |= ms
                    continue
            m |= ms if excl is not None and s in excl else ml
        if procs:
            prm = self.lean_pr
            clustered = 0
            for p in procs:
                pt = prm.get(p)
                if pt is not None:
                    m |= pt[0]
                    if pt[1]:
                        clustered += 1
            if clustered > 1 and self._formed([p for p in procs if p in prm]):
                return None
        if only:
            dx = self.dx
            for has, b in only:
                if all(s in has or s not in dx for s in sdx):
                    m |= b
        m |= m0 | sm[0]
        if m & self.lean_count_rel:
            m = self._lean_count(m, procs)
        gone = _NOTHING
        if hac is not None:
            skip = self._lean_hacs(hac, sdx, m, excl)
            if skip:  # their CC / MCC level does not count: the level bits again without them
                gone = frozenset(sdx[i] for i in skip)
                m = (m & ~self.level_mask) | self._lean_levels(sdx, excl, dead, gone)
        if m & self.lean_pre_keys:
            ph = self._lean_pick(self.lean_pre, m)
            if ph.rule is not None:  # a pre-MDC rule holds
                return self._lean_finish(ph.rule, ph.slot, m, sdx, excl, dead, gone, e, True, trace)
        hit = lst.memo.get(m & lst.ref)
        if hit is None:
            hit = self._lean_pick(lst, m)
        r, sh, lvl, out = hit
        if out is None:
            return self._lean_finish(r, sh, m, sdx, excl, dead, gone, e, False, trace)
        if not trace:
            return out
        assert r is not None
        if not r.split:
            return _new(Result, (mdc, r.fam_code, r.drg, "ALL", f"{head}{r.text}>DRG={r.drg}", False))
        name = LEVEL_NAME[lvl]
        why = self._lean_why(sdx, excl, dead, gone, sh, lvl)
        if why:
            return _new(
                Result, (mdc, r.fam_code, r.drg, name, f"{head}{r.text}>CC:{name}({why})>DRG={r.drg}", False)
            )
        return _new(Result, (mdc, r.fam_code, r.drg, name, f"{head}{r.text}>CC:NONE>DRG={r.drg}", False))

    def _lean_counted(
        self, sdx: Sequence[str], excl: frozenset[str] | None, dead: bool, gone: frozenset[str]
    ) -> list[tuple[str, int]]:
        """The secondary diagnoses whose level counts, in order, with their level bits (not excluded by
        the principal diagnosis, by death, or as a hospital-acquired condition)."""
        out: list[tuple[str, int]] = []
        for s in sdx:
            t = self.lean_sdx.get(s)
            if t is None or (t[2] & 2 and dead) or (excl is not None and s in excl) or s in gone:
                continue
            if t[1] != t[0]:
                out.append((s, t[1] & self.level_mask))
        return out

    def _lean_levels(
        self, sdx: Sequence[str], excl: frozenset[str] | None, dead: bool, gone: frozenset[str]
    ) -> int:
        lb = 0
        for _, b in self._lean_counted(sdx, excl, dead, gone):
            lb |= b
        return lb

    def _lean_why(
        self,
        sdx: Sequence[str],
        excl: frozenset[str] | None,
        dead: bool,
        gone: frozenset[str],
        sh: int,
        lvl: int,
    ) -> str:
        """For the trace: the first counted secondary diagnosis with level ``lvl`` in the slot at ``sh``."""
        if not lvl:
            return ""
        return next(
            (s for s, b in self._lean_counted(sdx, excl, dead, gone) if LEVEL_OF[(b >> sh) & 3] == lvl), ""
        )

    def _poa_all(self, poa: Sequence[str] | str) -> bool:
        """Every POA entry present on admission (remembered per unsplit list: few distinct ones)."""
        if not isinstance(poa, str):
            return all(x in self.poa_present for x in poa)
        got = self.poa_all.get(poa)
        if got is None:
            got = all(x in self.poa_present for x in split_codes(poa))
            if len(self.poa_all) < MEMO_MAX:
                self.poa_all[poa] = got
        return got

    def _lean_finish(
        self,
        rule: _Rule | None,
        sh: int,
        m: int,
        sdx: Sequence[str],
        excl: frozenset[str] | None,
        dead: bool,
        gone: frozenset[str],
        e: _LeanEntry,
        pre: bool,
        with_trace: bool = True,
    ) -> Result:
        """As :meth:`_finish` over bits: pre-MDC results, reroutes and ungroupable results."""
        mdc = e.mdc
        where = "PRE" if pre else mdc
        got = None if rule is None else (rule, sh)
        trace = [f"PRE-MDC:{got[0].text}"] if pre and got is not None else [e.head[:-1]]
        if not pre and got is not None:
            trace.append(got[0].text)
        for _ in range(2):  # a reroute (MDC 24 / 25, unrelated OR) may reroute once more
            if got is None or got[0].reroute is None or got[0].ungroupable:
                break
            target = got[0].reroute
            tl = self.lean_lists.get(target)
            nxt = _NO_RULE if tl is None else self._lean_pick(tl, m)
            if nxt.rule is None:
                trace.append(f"REROUTE {target}: no rule holds")
                got = None
                break
            if where == "PRE":
                where = target
            trace.append(f"REROUTE {target}:{nxt.rule.text}")
            got = (nxt.rule, nxt.slot)
        if got is None or got[0].ungroupable or got[0].drg is None:
            trace.append(f"UNGROUPABLE({got[0].formula if got is not None else 'no rule holds'})")
            trace.append(f"DRG={self.ungroupable_drg}")
            text = ">".join(trace) if with_trace else ""
            return Result("", self.ungroupable_drg, self.ungroupable_drg, "NONE", text, True)
        r, sh = got
        lv = LEVEL_OF[(m >> sh) & 3]
        family = r.family or r.drg or ""
        fam = self.families.get(family)
        severity = "ALL" if fam is None or "ALL" in fam.drg else LEVEL_NAME[lv]
        if not with_trace:
            trace = []
        elif severity != "ALL":
            w = self._lean_why(sdx, excl, dead, gone, sh, lv)
            trace.append(f"CC:{LEVEL_NAME[lv]}({w})" if w else "CC:NONE")
        trace.append(f"DRG={r.drg}")
        if where == "PRE" and fam is not None and fam.mdc != "PRE" and mdc:
            where = mdc
        return Result(where, family, r.drg or "", severity, ">".join(trace) if with_trace else "", False)

    @staticmethod
    def _referenced(f: FormulaLogic) -> frozenset[str]:
        """Every mark a rule or HAC formula, a counter, an 'only' or death rule or a HAC list reads."""
        atoms: set[str] = set()

        def walk(n: _Node) -> None:
            if n.op == "atom":
                atoms.add(n.value)
            for k in n.kids:
                walk(k)

        for rules in f.rules.values():
            for r in rules:
                walk(parse(r.formula))
        for h in f.hac.values():
            walk(parse(h))
        for c in f.counters:
            atoms.update(c.distinct or ())
            for t in c.terms or ():
                atoms.update(t.weights)
                atoms.update(t.requires or ())
        atoms.update(f.only_marks)
        atoms.update(f.dead_excludes)
        atoms.update(f.hac_lists)
        return frozenset(atoms)

    def _compile_list(self, name: str, rules: Sequence[object]) -> _RuleList:
        out: list[_Rule] = []
        index: dict[str, list[int]] = {}
        always: list[int] = []
        for i, r in enumerate(self.logic.rules[name]):
            try:
                tree = parse(r.formula)
            except FormulaError as exc:
                raise FormulaError(f"分组规则公式错误 rules.{name}.{i}: {exc}") from exc
            out.append(
                _Rule(
                    compile_formula(r.formula),
                    r.drg,
                    r.family,
                    r.reroute,
                    r.ungroupable,
                    frozenset(r.suppress) if r.suppress else None,
                    f"{name}.{i}",
                    r.formula,
                    f"ADRG={r.family or r.drg}(rule {name}.{i}: {r.formula})"
                    if r.drg
                    else f"rule {name}.{i}: {r.formula}",
                    r.drg is not None and r.reroute is None and not r.ungroupable,
                    r.family is not None and "ALL" not in self.logic.families[r.family].drg,
                    r.family or r.drg or "",
                )
            )
            trig = triggers(tree, self._weight)
            if trig is None:
                always.append(i)
            else:
                for m in trig:
                    index.setdefault(m, []).append(i)
        return _RuleList(tuple(out), {k: tuple(v) for k, v in index.items()}, frozenset(index), tuple(always))

    # ------------------------------------------------------------------ per case
    def group(
        self, pdx: str, sdx: Sequence[str], poa: Sequence[str], procs: Sequence[str], sex: str, status: str
    ) -> Result:
        """Group one case (pure). Most cases take the lean path, then the one-pass fast path; the rest
        the general path (each gives the same result as the general path alone)."""
        e = self.lean_pdx.get(pdx, _UNSET)
        if e is _UNSET:
            e = self._lean_entry(pdx)
        if e is not None:
            sm = self.lean_status.get(status) or self._lean_status_of(status)
            got = self._lean(e, sm, sdx, poa, procs)  # type: ignore[arg-type]
            if got is not None:
                return got
        status = self._status(status)
        by_pdx = self.fast_by_status.get(status)
        if by_pdx is None:
            by_pdx = self.fast_by_status.setdefault(status, {})
        fp = by_pdx.get(pdx, _UNSET)
        if fp is _UNSET:
            fp = self._fast_entry(pdx, self.status_marks.get(status, self.status_other))
            if len(by_pdx) < MEMO_MAX:
                by_pdx[pdx] = fp
        if fp is not None:
            got = self._fast(fp, pdx, sdx, poa, procs, status)  # type: ignore[arg-type]
            if got is not None:
                return got
        return self._group(pdx, sdx, poa, procs, sex, status)

    def group_many(
        self,
        pdx: Sequence[str],
        sdx: Sequence[str],
        poa: Sequence[str],
        procs: Sequence[str],
        sex: Sequence[str],
        status: Sequence[str],
        lo: int,
        hi: int,
        no_pdx: Callable[[int], tuple[str, str, str, str, str]],
        trace: bool = True,
    ) -> tuple[list[str], ...]:
        """Group rows ``lo:hi`` of columns in the CLI input contract (code lists unsplit, ``|``-separated)
        → MDC, family, DRG, severity and (with ``trace``) trace lists; the same results as :meth:`group`
        row by row. ``no_pdx(i)`` gives the row of a case without a principal diagnosis. Without the
        trace nothing is built per case for the common path (results are shared tuples); the trace of
        any case is :meth:`group` again (pure, so the same grouping)."""
        res: list[tuple[str, str, str, str, str] | Result] = []
        lean_pdx = self.lean_pdx
        lean_st = self.lean_status
        lean = self._lean
        for i in range(lo, hi):
            pd = pdx[i]
            if not pd:
                res.append(no_pdx(i))
                continue
            st = status[i]
            s = sdx[i]
            sd = (s.split("|") if " " not in s else [x.strip() for x in s.split("|")]) if s else ()
            s = procs[i]
            pr = (s.split("|") if " " not in s else [x.strip() for x in s.split("|")]) if s else ()
            r: Result | None = None
            e = lean_pdx.get(pd, _UNSET)
            if e is _UNSET:
                e = self._lean_entry(pd)
            if e is not None:
                sm = lean_st.get(st) or self._lean_status_of(st)
                r = lean(e, sm, sd, poa[i], pr, trace)  # type: ignore[arg-type]
            res.append(r or self.group(pd, sd, split_codes(poa[i]), pr, sex[i], st))
        cols: list[list[str]] = [list(c) for c in zip(*res, strict=False)] if res else [[] for _ in range(5)]
        return tuple(cols[:5] if trace else cols[:4])

    def group_row(
        self, pdx: str, sdx: Sequence[str], poa: str, procs: Sequence[str], sex: str, status: str, trace: bool
    ) -> Result:
        """One row of :meth:`group_many` (code lists split, ``poa`` unsplit): the lean path, else
        :meth:`group`."""
        e = self.lean_pdx.get(pdx, _UNSET)
        if e is _UNSET:
            e = self._lean_entry(pdx)
        r: Result | None = None
        if e is not None:
            sm = self.lean_status.get(status) or self._lean_status_of(status)
            r = self._lean(e, sm, sdx, poa, procs, trace)  # type: ignore[arg-type]
        return r or self.group(pdx, sdx, split_codes(poa), procs, sex, status)

    def _status(self, status: str) -> str:
        if status not in self.status_marks and status.isdigit() and len(status) < 2:
            return status.zfill(2)  # UB-04 status "1" written without its leading zero
        return status

    def group_general(
        self, pdx: str, sdx: Sequence[str], poa: Sequence[str], procs: Sequence[str], sex: str, status: str
    ) -> Result:
        """The general path alone (what every case would get without the fast path; tests compare them)."""
        if status not in self.status_marks and status.isdigit() and len(status) < 2:
            status = status.zfill(2)
        return self._group(pdx, sdx, poa, procs, sex, status)

    def _fast_entry(self, pdx: str, smk: frozenset[str]) -> _Fast | None:
        """What the fast path needs for a principal diagnosis and discharge-status marks, or None
        when the case must take the general path (unknown pdx, sex-dependent MDC, 'only' marks, a
        pre-MDC rule or a counter its own marks can trigger)."""
        d = self.dx.get(pdx)
        out: _Fast | None = None
        if d is not None and d.mdc and pdx not in self.sex_mdc:
            m0 = self.pdx_base[pdx] | smk
            pre = self.lists[self.pre]
            rl = self.lists.get(d.mdc)
            if (
                rl is not None
                and not pre.always
                and pre.keys.isdisjoint(m0)
                and self.counter_marks.isdisjoint(m0)
            ):
                cands: set[int] = set(rl.always)
                for k in rl.keys.intersection(m0):
                    cands.update(rl.by_mark[k])
                out = _Fast(
                    d.mdc,
                    m0,
                    tuple(sorted(cands)),
                    rl,
                    self.pdx_excl.get(pdx),
                    bool(smk & self.dead_marks),
                    d.only,
                )
        return out

    def _fast(
        self, fp: _Fast, pdx: str, sdx: Sequence[str], poa: Sequence[str], procs: Sequence[str], status: str
    ) -> Result | None:
        """The common case in one pass (no cluster, counter, HAC, reroute or pre-MDC rule involved);
        None sends the case to the general path, which gives the same result for every case."""
        mdc, m0, cands, rl, excl, dead, only = fp
        if dead != (status in self.death):
            return None
        info = self.sdx_info
        inert = self.inert
        adds: frozenset[str] | None = None
        sev: list[tuple[int, str, frozenset[str]]] = []
        base_level, base_why = NONE, ""
        hac: list[tuple[int, str, _Dx]] | None = None
        only_ok = bool(only)
        for i, s in enumerate(sdx):
            if s in inert and not only:
                continue
            t = info.get(s)
            if t is None:
                continue
            ms, lv, raw, fl = t
            if only_ok and not all(o in raw for o in only):
                only_ok = False
            if ms:
                adds = ms if adds is None else adds | ms
            if fl:
                if fl & 1 and (poa[i] if i < len(poa) else "Y") not in self.poa_present:
                    if hac is None:
                        hac = []
                    hac.append((i, s, self.dx[s]))
                if fl & 2 and dead:
                    continue
            if lv and (excl is None or s not in excl):
                sev.append((lv, s, raw))
                if lv > base_level:
                    base_level, base_why = lv, s
        plist: Sequence[str] = ()
        if procs:
            pr_marks = self.pr_marks
            cbc = self.cluster_by_code
            plist = []
            maybe = 0
            for p in procs:
                pm = pr_marks.get(p)
                if pm is None:
                    continue
                if p in cbc:
                    maybe += 1
                adds = pm if adds is None else adds | pm
                plist.append(p)
            if maybe > 1 and self._formed(plist):
                return None  # a procedure cluster forms: the general path adds and suppresses marks
        if only_ok:
            extra_only = frozenset("ONLY:" + o for o in only)
            adds = extra_only if adds is None else adds | extra_only
        if adds is not None and not self.counter_marks.isdisjoint(adds):
            counted = set(m0)
            counted |= adds
            self._count(list(plist), counted)
            adds = frozenset(counted - m0)
        if hac is not None:
            mm = m0 | adds if adds is not None else m0
            skip = self._hacs(hac, poa, set(mm), excl)
            if skip:
                if len(set(sdx)) != len(sdx):
                    return None  # a code listed twice: the general path tells its positions apart
                keep = {s for i, s, _ in hac if i in skip}
                sev = [x for x in sev if x[1] not in keep]
                base_level, base_why = NONE, ""
                for lv, s, _ in sev:
                    if lv > base_level:
                        base_level, base_why = lv, s
        order: Sequence[int]
        m: frozenset[str]
        if adds is None:
            m, order = m0, cands
        else:
            if not self.pre_keys.isdisjoint(adds):
                return None
            m = m0 | adds
            hits = rl.keys.intersection(adds)
            if hits:
                c = set(cands)
                index = rl.by_mark
                for k in hits:
                    c.update(index[k])
                order = sorted(c)
            else:
                order = cands
        rules = rl.rules
        for j in order:
            r = rules[j]
            if r.suppress is None:
                lv, why = base_level, base_why
            else:
                lv, why = NONE, ""
                for x, s, raw_marks in sev:
                    if x > lv and raw_marks.isdisjoint(r.suppress):
                        lv, why = x, s
            if r.test(m, lv):
                if not r.final:
                    return None
                if r.split:
                    name = LEVEL_NAME[lv]
                    cc = f"CC:{name}({why})" if why else "CC:NONE"
                    trace = f"MDC={mdc}(pdx {pdx})>{r.text}>{cc}>DRG={r.drg}"
                    return _new(Result, (mdc, r.fam_code, r.drg or "", name, trace, False))
                trace = f"MDC={mdc}(pdx {pdx})>{r.text}>DRG={r.drg}"
                return _new(Result, (mdc, r.fam_code, r.drg or "", "ALL", trace, False))
        return None

    def _group(
        self, pdx: str, sdx: Sequence[str], poa: Sequence[str], procs: Sequence[str], sex: str, status: str
    ) -> Result:
        dx = self.dx
        d = dx.get(pdx)
        mdc = ""
        base: frozenset[str]
        if d is None:
            base = self.unknown_base | self.prefix_marks.get(pdx[:1], frozenset())
        else:
            mdc = d.mdc
            sm = self.sex_mdc.get(pdx)
            if sm is None:
                base = self.pdx_base[pdx]
            else:
                mdc = (sm[0] if sex == "M" else sm[1]) or mdc
                base = (
                    self.always
                    | d.as_pdx
                    | self.mdc_marks.get(mdc, frozenset())
                    | self.prefix_marks.get(pdx[:1], frozenset())
                )
        # marks the secondary diagnoses, procedures and discharge status add to the pdx's own
        extra: set[str] = set(self.status_marks.get(status, self.status_other))
        excl = self.pdx_excl.get(pdx)
        dead = status in self.death
        valid: list[tuple[int, str, _Dx]] = []
        need_valid = d is not None and bool(d.only)
        sev: list[tuple[int, str, frozenset[str]]] = []
        base_level, base_why = NONE, ""
        hac_seen = False
        info = self.sdx_info
        inert = self.inert
        for i, s in enumerate(sdx):
            if s in inert and not need_valid:
                continue
            t = info.get(s)
            if t is None:
                continue
            ms, lv, raw, fl = t
            if ms:
                extra |= ms
            if need_valid:
                valid.append((i, s, dx[s]))
            if fl:
                if fl & 1 and (poa[i] if i < len(poa) else "Y") not in self.poa_present:
                    hac_seen = True
                if fl & 2 and dead:
                    continue
            if lv and (excl is None or s not in excl):
                sev.append((lv, s, raw))
                if lv > base_level:
                    base_level, base_why = lv, s
        plist: list[str] = []
        suppressed: dict[str, frozenset[str]] = {}
        if procs:
            pr_marks = self.pr_marks
            cluster_hit = False
            cbc = self.cluster_by_code
            for p in procs:
                pmk = pr_marks.get(p)
                if pmk is not None:
                    extra |= pmk
                    plist.append(p)
                    if p in cbc:
                        cluster_hit = True
            if cluster_hit:
                suppressed = self._clusters(plist, extra)
        if need_valid:
            for m in d.only:  # type: ignore[union-attr]
                if all(m in e.raw for _, _, e in valid):
                    extra.add("ONLY:" + m)
        if not self.counter_marks.isdisjoint(extra) or not self.counter_marks.isdisjoint(base):
            both = set(base)
            both |= extra
            self._count(plist, both)
            extra |= both - base
        marks = set(base)
        marks |= extra
        if hac_seen:
            if not need_valid:
                valid = [(j, c, e) for j, c in enumerate(sdx) if (e := dx.get(c)) is not None]
            # a hospital-acquired condition whose criteria are met (not present on admission, and the
            # HAC formula holds) does not count toward the CC / MCC level
            skip = self._hacs(valid, poa, marks, excl)
            if skip:
                sev = []
                base_level, base_why = NONE, ""
                for i, s, e in valid:
                    lv = e.level
                    if not lv or i in skip or (excl is not None and s in excl) or (dead and e.dead_excluded):
                        continue
                    sev.append((lv, s, e.raw))
                    if lv > base_level:
                        base_level, base_why = lv, s
        key = (pdx, mdc)
        got = self._run(self.pre, key, base, extra, marks, suppressed, sev, base_level, base_why)
        if got is None and mdc:  # the common path: a rule of the pdx's MDC gives the DRG
            got = self._run(mdc, key, base, extra, marks, suppressed, sev, base_level, base_why)
            if got is not None and got[0].final:
                r, lv, why = got
                if r.split:
                    name = LEVEL_NAME[lv]
                    cc = f"CC:{name}({why})" if why else "CC:NONE"
                    return Result(
                        mdc,
                        r.fam_code,
                        r.drg or "",
                        name,
                        f"MDC={mdc}(pdx {pdx})>{r.text}>{cc}>DRG={r.drg}",
                        False,
                    )
                return Result(
                    mdc, r.fam_code, r.drg or "", "ALL", f"MDC={mdc}(pdx {pdx})>{r.text}>DRG={r.drg}", False
                )
            trace: list[str] = [f"MDC={mdc}(pdx {pdx})"]
            if got is not None:
                trace.append(got[0].text)
            return self._finish(
                got, mdc, "", pdx, trace, key, base, extra, marks, suppressed, sev, base_level, base_why
            )
        return self._finish(
            got, mdc, "PRE", pdx, [], key, base, extra, marks, suppressed, sev, base_level, base_why
        )

    def _finish(
        self,
        got: tuple[_Rule, int, str] | None,
        mdc: str,
        start: str,
        pdx: str,
        trace: list[str],
        key: tuple[str, str],
        base: frozenset[str],
        extra: set[str],
        marks: set[str],
        suppressed: dict[str, frozenset[str]],
        sev: list[tuple[int, str, frozenset[str]]],
        base_level: int,
        base_why: str,
    ) -> Result:
        """Reroutes, ungroupable results and pre-MDC results (the less common paths)."""
        where = "PRE" if start == "PRE" else mdc
        if got is not None and start == "PRE":
            trace.append(f"PRE-MDC:{got[0].text}")
        for _ in range(2):  # a reroute (MDC 24 / 25, unrelated OR) may reroute once more
            if got is None or got[0].reroute is None or got[0].ungroupable:
                break
            target = got[0].reroute
            nxt = self._run(target, key, base, extra, marks, suppressed, sev, base_level, base_why)
            if nxt is None:
                trace.append(f"REROUTE {target}: no rule holds")
                got = None
                break
            if where == "PRE":
                where = target
            trace.append(f"REROUTE {target}:{nxt[0].text}")
            got = nxt
        if got is None or got[0].ungroupable or got[0].drg is None:
            why = (
                got[0].formula
                if got is not None
                else (f"pdx {pdx} not in any MDC" if not mdc else "no rule holds")
            )
            trace.append(f"UNGROUPABLE({why})")
            trace.append(f"DRG={self.ungroupable_drg}")
            return Result("", self.ungroupable_drg, self.ungroupable_drg, "NONE", ">".join(trace), True)
        r, lv, why = got
        family = r.family or r.drg or ""
        fam = self.families.get(family)
        severity = "ALL" if fam is None or "ALL" in fam.drg else LEVEL_NAME[lv]
        if severity != "ALL":
            trace.append(f"CC:{LEVEL_NAME[lv]}({why})" if why else "CC:NONE")
        trace.append(f"DRG={r.drg}")
        if where == "PRE" and fam is not None and fam.mdc != "PRE" and mdc:
            where = mdc
        return Result(where, family, r.drg or "", severity, ">".join(trace), False)

    def _run(
        self,
        name: str,
        key: tuple[str, str],
        base: frozenset[str],
        extra: set[str],
        marks: set[str],
        suppressed: dict[str, frozenset[str]],
        sev: list[tuple[int, str, frozenset[str]]],
        base_level: int,
        base_why: str,
    ) -> tuple[_Rule, int, str] | None:
        """The first rule of list ``name`` that holds, with the severity it was evaluated at."""
        rl = self.lists.get(name)
        if rl is None:
            return None
        m: set[str] | frozenset[str] = marks
        order: Sequence[int]
        if suppressed:
            gone = {k for k, mdcs in suppressed.items() if name in mdcs}
            if gone:
                m = frozenset(marks) - gone
            hits = rl.keys.intersection(m)
            cand: set[int] = set(rl.always)
            for k in hits:
                cand.update(rl.by_mark[k])
            order = sorted(cand)
        else:
            # the rules the principal diagnosis's own marks can trigger are known per pdx (cached);
            # only the marks the rest of the case adds need looking up
            ck = (name, *key)
            pc = self.pdx_cands.get(ck)
            if pc is None:
                pcs: set[int] = set(rl.always)
                for k in rl.keys.intersection(base):
                    pcs.update(rl.by_mark[k])
                pc = tuple(sorted(pcs))
                if len(self.pdx_cands) < MEMO_MAX:
                    self.pdx_cands[ck] = pc
            hits = rl.keys.intersection(extra)
            if not hits:
                order = pc
            else:
                cand = set(pc)
                index = rl.by_mark
                for k in hits:
                    cand.update(index[k])
                order = sorted(cand)
        rules = rl.rules
        for j in order:
            r = rules[j]
            if r.suppress is None:
                lv, why = base_level, base_why
            else:
                lv, why = NONE, ""
                for x, s, raw_marks in sev:
                    if x > lv and raw_marks.isdisjoint(r.suppress):
                        lv, why = x, s
            if r.test(m, lv):
                return r, lv, why
        return None

    def _count(self, plist: list[str], marks: set[str]) -> None:
        """Counter marks (bilateral joints, four stents or vessels, fusion counts, multiple trauma)."""
        for c in self.counters:
            if c.relevant.isdisjoint(marks):
                continue
            if c.distinct is not None:
                if len(c.distinct & marks) >= c.min:
                    marks.add(c.mark)
                continue
            total = 0
            for weights, req in c.terms:
                for p in plist:
                    r = self.pr_raw[p]
                    if req is None or r & req:
                        total += sum(w for k, w in weights.items() if k in r)
            if total >= c.min:
                marks.add(c.mark)

    def _hacs(
        self,
        valid: list[tuple[int, str, _Dx]],
        poa: Sequence[str],
        marks: set[str],
        excl: frozenset[str] | None,
    ) -> set[int]:
        """Positions of secondary diagnoses that are hospital-acquired conditions with their criteria met."""
        met: list[tuple[int, str, str, bool]] = []
        for i, s, e in valid:
            if e.hacs and (poa[i] if i < len(poa) else "Y") not in self.poa_present:
                if excl is None or s not in excl:
                    for num, lst in e.hacs:
                        t = self.hac.get(num)
                        if t is not None and t(marks, 0):
                            met.append((i, num, lst, lst not in self.hac_show))
        skip: set[int] = set()
        for i, _num, lst, _plain in met:
            if lst in self.hac_show:
                need = self.hac_show[lst]
                if not any(n == need and plain for _, n, _, plain in met):
                    continue
            skip.add(i)
        return skip

    def _formed(self, plist: Sequence[str]) -> list[int]:
        """The clusters the procedures complete (a code from every choice), in cluster order."""
        have = set(plist)
        found: set[int] = set()
        codes = sorted(have)
        pairs = self.cluster_pairs
        for x in range(len(codes)):
            for y in range(x + 1, len(codes)):
                hit = pairs.get((codes[x], codes[y]))
                if hit:
                    found.update(hit)
        multi = self.cluster_multi
        for p in codes:
            for ci in multi.get(p, ()):
                if ci not in found and all(ch & have for ch in self.clusters[ci][1]):
                    found.add(ci)
        return sorted(found)

    def _clusters(self, plist: list[str], marks: set[str]) -> dict[str, frozenset[str]]:
        """Form the clusters the procedures complete: add their marks, and return mark → MDCs in which it
        no longer counts (marks of member procedures that no other code of the case gives)."""
        have = set(plist)
        members: dict[str, set[str]] = {}
        free: set[str] = set()
        for ci in self._formed(plist):
            code, choices, supp = self.clusters[ci]
            cm = self.pr_marks.get(code)
            if cm is not None:
                marks |= cm
                free |= cm
            if supp:
                for ch in choices:
                    for q in ch & have:
                        members.setdefault(q, set()).update(supp)
        if not members:
            return {}
        out: dict[str, set[str]] = {}
        for p in plist:
            mk = self.pr_marks[p]
            if p in members:
                for m in mk:
                    s = out.get(m)
                    out[m] = set(members[p]) if s is None else s & members[p]
            else:
                free |= mk
        return {m: frozenset(v) for m, v in out.items() if v and m not in free}
