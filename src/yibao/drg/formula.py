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
_TOKEN = re.compile(r"\s*(?:(\()|(\))|(&)|(\|)|(~)|([^\s()&|~]+))")
_SEVERITY_ATOMS = {"MCC": "S == 2", "CC": "S == 1", "NONE": "S == 0"}

Test = Callable[[frozenset[str] | set[str], int], bool]


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
        """Group one case (pure). Most cases take the one-pass fast path; the rest the general path."""
        if status not in self.status_marks and status.isdigit() and len(status) < 2:
            status = status.zfill(2)  # UB-04 status "1" written without its leading zero
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
