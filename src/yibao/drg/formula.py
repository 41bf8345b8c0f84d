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
            raise FormulaError(f"{formula!r}: cannot read at position {pos}")
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
            raise FormulaError(f"{formula!r}: ends too early")
        kind, val = toks[i]
        i += 1
        if kind == "atom":
            return _Node("atom", val, ())
        if kind == "~":
            return _Node("not", "", (factor(),))
        if kind == "(":
            e = expr()
            if i >= len(toks) or toks[i][0] != ")":
                raise FormulaError(f"{formula!r}: missing )")
            i += 1
            return e
        raise FormulaError(f"{formula!r}: unexpected {val!r}")

    if not toks:
        raise FormulaError(f"{formula!r}: empty")
    node = expr()
    if i != len(toks):
        raise FormulaError(f"{formula!r}: unexpected {toks[i][1]!r}")
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
    fn: Test = eval(f"lambda M, S: {code}", {"__builtins__": {}})  # noqa: S307 - generated from the parse tree
    return fn


def triggers(n: _Node) -> frozenset[str] | None:
    """Marks of which a case satisfying the formula has at least one (None: no such small set)."""
    if n.op == "atom":
        return None if n.value in _SEVERITY_ATOMS else frozenset((n.value,))
    if n.op == "not":
        return None
    subs = [triggers(k) for k in n.kids]
    if n.op == "or":
        if any(s is None for s in subs):
            return None
        return frozenset().union(*(s for s in subs if s is not None))
    known = [s for s in subs if s is not None]
    return min(known, key=len) if known else None


class _Rule(NamedTuple):
    test: Test
    drg: str | None
    family: str | None
    reroute: str | None
    ungroupable: bool
    suppress: frozenset[str] | None
    label: str  # "05.58" list and position, for the trace
    formula: str


class _RuleList(NamedTuple):
    rules: tuple[_Rule, ...]
    index: dict[str, tuple[int, ...]]  # trigger mark → rule positions
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


class _Counter(NamedTuple):
    mark: str
    min: int
    distinct: frozenset[str] | None
    terms: tuple[tuple[dict[str, int], frozenset[str] | None], ...]


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
        as_pdx = [frozenset(m for a in p for m in (a, "PDX:" + a, "ANY:" + a)) for p in f.patterns]
        as_sdx = [frozenset(m for a in p for m in (a, "SDX:" + a, "ANY:" + a)) for p in f.patterns]
        self.pr_marks = {c: frozenset(m for a in f.patterns[p] for m in (a, "ANY:" + a)) for c, p in f.pr.items()}
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
            )
        self.sex_mdc = {c: (f"{m:02d}" if m >= 0 else "", f"{w:02d}" if w >= 0 else "") for c, (m, w) in f.dx_sex_mdc.items()}
        self.clusters = [(c.code, [frozenset(ch) for ch in c.choices], frozenset(c.suppress_mdcs)) for c in f.clusters]
        idx: dict[str, list[int]] = {}
        for i, c in enumerate(f.clusters):
            for ch in c.choices:
                for code in ch:
                    idx.setdefault(code, []).append(i)
        self.cluster_by_code = {k: tuple(v) for k, v in idx.items()}
        self.excl = [frozenset(g) for g in f.exclusion_groups]
        self.pdx_excl = {c: self.excl[g] for c, g in f.pdx_exclusion.items()}
        self.families = f.families
        self.lists = {k: self._compile_list(k, rules) for k, rules in f.rules.items()}
        self.pre = f.pre
        self.unrelated = f.unrelated
        self.counters = [
            _Counter(
                c.mark,
                c.min,
                frozenset(c.distinct) if c.distinct is not None else None,
                tuple((t.weights, frozenset(t.requires) if t.requires else None) for t in c.terms or ()),
            )
            for c in f.counters
        ]
        self.term_marks = frozenset(k for c in f.counters for t in c.terms or () for k in t.weights)
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

    def _compile_list(self, name: str, rules: Sequence[object]) -> _RuleList:
        out: list[_Rule] = []
        index: dict[str, list[int]] = {}
        always: list[int] = []
        for i, r in enumerate(self.logic.rules[name]):
            try:
                tree = parse(r.formula)
            except FormulaError as exc:
                raise FormulaError(f"rules.{name}.{i}: {exc}") from exc
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
                )
            )
            trig = triggers(tree)
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
        """Group one case (pure)."""
        dx = self.dx
        d = dx.get(pdx)
        marks: set[str] = set(self.always)
        mdc = ""
        if d is None:
            marks |= self.unknown_pdx
        else:
            marks |= d.as_pdx
            mdc = d.mdc
            sm = self.sex_mdc.get(pdx)
            if sm is not None:
                mdc = (sm[0] if sex == "M" else sm[1]) or mdc
            mm = self.mdc_marks.get(mdc)
            if mm:
                marks |= mm
        pm = self.prefix_marks.get(pdx[:1])
        if pm:
            marks |= pm
        valid: list[tuple[int, str, _Dx]] = []
        for i, s in enumerate(sdx):
            e = dx.get(s)
            if e is not None:
                marks |= e.as_sdx
                valid.append((i, s, e))
        pr_marks = self.pr_marks
        plist: list[str] = []
        cluster_hit = False
        for p in procs:
            pmk = pr_marks.get(p)
            if pmk is not None:
                marks |= pmk
                plist.append(p)
                if p in self.cluster_by_code:
                    cluster_hit = True
        dead = status in self.death
        marks |= self.status_marks.get(status, self.status_other)
        if d is not None and self.only:
            for m in self.only:
                if m in d.raw and all(m in e.raw for _, _, e in valid):
                    marks.add("ONLY:" + m)
        suppressed: dict[str, frozenset[str]] = {}
        if cluster_hit:
            suppressed = self._clusters(plist, marks)
        for c in self.counters:
            if c.distinct is not None:
                if len(c.distinct & marks) >= c.min:
                    marks.add(c.mark)
            elif self.term_marks & marks:
                total = 0
                for weights, req in c.terms:
                    for p in plist:
                        r = self.pr_raw[p]
                        if req is None or r & req:
                            total += sum(w for k, w in weights.items() if k in r)
                if total >= c.min:
                    marks.add(c.mark)
        # severity candidates: valid secondary diagnoses with a level, not excluded by the pdx, not
        # "MCC only if alive" when the patient died, not a hospital-acquired condition whose criteria are met
        excl = self.pdx_excl.get(pdx)
        sev: list[tuple[int, str, frozenset[str]]] = []
        hac_met: list[tuple[int, str, str, bool]] = []
        for i, s, e in valid:
            if e.hacs and (poa[i] if i < len(poa) else "Y") not in self.poa_present:
                if excl is None or s not in excl:
                    for num, lst in e.hacs:
                        t = self.hac.get(num)
                        if t is not None and t(marks, 0):
                            hac_met.append((i, num, lst, lst not in self.hac_show))
        skip: set[int] = set()
        if hac_met:
            for i, num, lst, _plain in hac_met:
                if lst in self.hac_show:
                    need = self.hac_show[lst]
                    if not any(n == need and plain for _, n, _, plain in hac_met):
                        continue
                skip.add(i)
        for i, s, e in valid:
            if not e.level or i in skip:
                continue
            if excl is not None and s in excl:
                continue
            if dead and e.dead_excluded:
                continue
            sev.append((e.level, s, e.raw))
        base_level, base_why = NONE, ""
        for lv, s, _ in sev:
            if lv > base_level:
                base_level, base_why = lv, s
        frozen = frozenset(marks)

        def view(list_mdc: str) -> frozenset[str]:
            if not suppressed:
                return frozen
            gone = {m for m, mdcs in suppressed.items() if list_mdc in mdcs}
            return frozen - gone if gone else frozen

        def run(name: str) -> tuple[_Rule, int, str] | None:
            rl = self.lists.get(name)
            if rl is None:
                return None
            m = view(name)
            hits = rl.keys & m
            if hits:
                cand: set[int] = set(rl.always)
                for k in hits:
                    cand.update(rl.index[k])
                order: Sequence[int] = sorted(cand)
            else:
                order = rl.always
            for j in order:
                r = rl.rules[j]
                if r.suppress is None:
                    lv, why = base_level, base_why
                else:
                    lv, why = NONE, ""
                    for x, s, raw_marks in sev:
                        if x > lv and not (raw_marks & r.suppress):
                            lv, why = x, s
                if r.test(m, lv):
                    return r, lv, why
            return None

        trace: list[str] = []
        got = run(self.pre)
        where = "PRE"
        if got is not None:
            trace.append(f"PRE-MDC:RULE {got[0].label}({got[0].formula})")
        elif mdc:
            got = run(mdc)
            where = mdc
            trace.append(f"MDC={mdc}(pdx {pdx})")
            if got is not None:
                trace.append(f"RULE {got[0].label}({got[0].formula})")
        for _ in range(2):  # a reroute (MDC 24 / 25, unrelated OR) may reroute once more
            if got is None or got[0].reroute is None or got[0].ungroupable:
                break
            target = got[0].reroute
            nxt = run(target)
            if nxt is None:
                trace.append(f"REROUTE {target}: no rule holds")
                got = None
                break
            if where == "PRE":
                where = target
            trace.append(f"REROUTE {target}:RULE {nxt[0].label}({nxt[0].formula})")
            got = nxt
        if got is None or got[0].ungroupable or got[0].drg is None:
            why = got[0].formula if got is not None else (f"pdx {pdx} not in any MDC" if not mdc else "no rule holds")
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

    def _clusters(self, plist: list[str], marks: set[str]) -> dict[str, frozenset[str]]:
        """Form the clusters the procedures complete: add their marks, and return mark → MDCs in which it
        no longer counts (marks of member procedures that no other code of the case gives)."""
        have = set(plist)
        seen: set[int] = set()
        members: dict[str, set[str]] = {}
        free: set[str] = set()
        for p in plist:
            for ci in self.cluster_by_code.get(p, ()):
                if ci in seen:
                    continue
                seen.add(ci)
                code, choices, supp = self.clusters[ci]
                if all(ch & have for ch in choices):
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
