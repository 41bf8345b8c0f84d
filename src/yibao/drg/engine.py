"""The one grouping engine: a scheme compiled into dict/set lookups, and a pure per-case function.

Order of a grouping (the same for every scheme; the CHS-DRG 2.0 grouping steps, 国家医疗保障局 2024-07-23,
https://www.nhsa.gov.cn/art/2024/7/23/art_53_13314.html, and the OpenDRG/DRG_Java README):

1. no / unknown principal diagnosis → the scheme's ungroupable group (0000 / 999);
2. pre-MDC ADRGs, in file order (transplants, ventilation, ECMO …);
3. the MDC: the first MDC whose conditions hold and whose principal-diagnosis list has the pdx;
4. within the MDC: OR ADRGs (by procedure, in file order = surgical hierarchy) > the unrelated-OR /
   ambiguous group when the case has an OR procedure none of them accepts > non-OR ADRGs > medical
   ADRGs (by pdx);
5. the severity split by the highest CC / MCC among the secondary diagnoses, after the principal-
   diagnosis exclusions, POA-not-present hospital-acquired conditions and alive-only rules.

Every result carries a compact trace of why, e.g.
``MDC=F(pdx I214)>ADRG=FM1(OR proc 3607)>CC:MCC(I509)>DRG=FM11``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from yibao.drg.formula import Program
from yibao.drg.model import Conditions, Scheme

MCC, CC, NONE = 2, 1, 0
LEVEL_NAME = {MCC: "MCC", CC: "CC", NONE: "NONE"}


class Case(NamedTuple):
    """One discharge in the CLI input contract (codes without dots). Immutable."""

    case_id: str
    age: int
    sex: str
    discharge_status: str
    pdx: str
    sdx: tuple[str, ...] = ()
    sdx_poa: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    age_days: int | None = None
    weight_g: int | None = None
    los_days: int | None = None


class Grouping(NamedTuple):
    """The result of grouping one case. ``severity`` is MCC / CC / NONE, or ALL when the ADRG is not split."""

    case_id: str
    mdc: str
    adrg: str
    drg: str
    severity: str
    trace: str


class CodeMap(dict[str, Any]):
    """Code → value (None when absent) with exact or longest-prefix matching (a bureau's 国标 codes may
    carry extensions). Lookups are ``m[code]``; a miss is resolved once and remembered, so repeated
    codes cost one C-level dict lookup."""

    __slots__ = ("exact", "lengths", "look", "table")

    def __init__(self, items: dict[str, Any], prefix: bool) -> None:
        super().__init__(items if not prefix else {})  # exact: hits and misses never reach Python code
        self.table = dict(items)
        self.exact = not prefix
        self.lengths = tuple(sorted({len(k) for k in items}, reverse=True))
        # ``look(code)`` → value or None: dict.get for exact maps, the memoising subscript for prefix maps
        self.look: Callable[[str], Any] = self.get if self.exact else self.__getitem__

    def __missing__(self, code: str) -> Any:
        if self.exact:
            v = self.table.get(code)
        else:
            v = None
            for n in self.lengths:
                if n <= len(code):
                    v = self.table.get(code[:n])
                    if v is not None:
                        break
        if len(self) < 1_000_000:  # bounded memo: a stream of junk codes cannot grow it without limit
            self[code] = v
        return v

    def has(self, code: str) -> bool:
        return self.look(code) is not None


@dataclass(frozen=True, slots=True)
class _Cond:
    sex: str | None
    age_min: int | None
    age_max: int | None
    age_days_min: int | None
    age_days_max: int | None
    weight_min: int | None
    weight_max: int | None
    los_min: int | None
    los_max: int | None
    discharge: str | None
    pdx: CodeMap | None
    sdx_any: CodeMap | None
    dx_any: CodeMap | None
    also_procedures: CodeMap | None
    all_procedures_in: CodeMap | None
    no_procedures: CodeMap | None
    groups: CodeMap | None = None
    groups_min: int = 0
    sdx_all_in: CodeMap | None = None
    pgroups: CodeMap | None = None
    pgroups_min: int = 0


@dataclass(frozen=True, slots=True)
class _Adrg:
    code: str
    mdc: str
    kind: str
    label: str  # "OR proc" / "non-OR proc" / "pdx"
    cond: _Cond | None
    drg: dict[str, str]
    cc_exclude: frozenset[str] = frozenset()
    pairs: dict[str, frozenset[str]] | None = None
    any_of: tuple[_Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class _Cc:
    level: int
    exclusion: frozenset[str] | None
    hac: bool
    alive_only: bool


class Compiled:
    """A scheme compiled for grouping. Build with :func:`compile_scheme`; immutable after that."""

    def __init__(self, scheme: Scheme) -> None:
        prefix = scheme.code_match == "prefix"
        self.scheme = scheme
        self.prefix = prefix
        # format 2 (formula schemes, e.g. MS-DRG): the marks-and-formulas program does the grouping
        self.program: Program | None = Program(scheme) if scheme.formulas is not None else None

        def cmap(codes: Sequence[str] | None) -> CodeMap | None:
            return None if codes is None else CodeMap(dict.fromkeys(codes, True), prefix)

        def cond(c: Conditions | None) -> _Cond | None:
            if c is None:
                return None
            dg, pg = c.distinct_groups, c.distinct_procedure_groups
            groups = (
                None
                if dg is None
                else CodeMap({code: g for g, codes in dg.groups.items() for code in codes}, prefix)
            )
            pgroups = (
                None
                if pg is None
                else CodeMap({code: g for g, codes in pg.groups.items() for code in codes}, prefix)
            )
            return _Cond(
                c.sex,
                c.age_min,
                c.age_max,
                c.age_days_min,
                c.age_days_max,
                c.weight_g_min,
                c.weight_g_max,
                c.los_min,
                c.los_max,
                c.discharge,
                cmap(c.pdx),
                cmap(c.sdx_any),
                cmap(c.dx_any),
                cmap(c.also_procedures),
                cmap(c.all_procedures_in),
                cmap(c.no_procedures),
                groups,
                dg.min if dg else 0,
                cmap(c.sdx_all_in),
                pgroups,
                pg.min if pg else 0,
            )

        st = scheme.discharge_status
        self.death = frozenset(st.get("death", ()))
        self.transfer = frozenset(st.get("transfer", ()))
        self.ama = frozenset(st.get("against_advice", ()))
        self.poa_np = frozenset(scheme.poa_not_present)
        self.ungroupable = scheme.ungroupable
        self.mdc_list = [(m.code, cmap(m.pdx), cond(m.when)) for m in scheme.mdcs]
        self.no_unrelated = frozenset(m.code for m in scheme.mdcs if not m.unrelated_or)
        # pdx → the MDC entries (in file order) whose list has it, plus the entries open to every pdx
        idx: dict[str, list[int]] = {}
        for i, m in enumerate(scheme.mdcs):
            for c in m.pdx or ():
                idx.setdefault(c, []).append(i)
        self.mdc_open = tuple(i for i, m in enumerate(scheme.mdcs) if m.pdx is None)
        self.mdc_by_pdx = CodeMap({k: tuple(v) for k, v in idx.items()}, prefix)
        # every pdx any MDC accepts (a pdx in none of them is not a valid principal diagnosis)
        self.known_pdx = CodeMap({c: True for m in scheme.mdcs if m.pdx for c in m.pdx}, prefix)
        self.any_pdx_mdc = any(m.pdx is None for m in scheme.mdcs)
        # a code on both lists counts as OR
        kinds = {c: "non_or" for c in scheme.non_or_procedures} | {c: "or" for c in scheme.or_procedures}
        self.proc_kind = CodeMap(kinds, prefix)

        self.pre: list[tuple[_Adrg, CodeMap | None, CodeMap | None]] = []
        # per MDC: procedure → [(rank, adrg)], pdx → [(rank, adrg)]
        self.or_by_proc: dict[str, CodeMap] = {}
        self.nonor_by_proc: dict[str, CodeMap] = {}
        self.med_by_pdx: dict[str, CodeMap] = {}
        self.med_any: dict[str, list[tuple[int, _Adrg]]] = {}
        self.or_any: dict[str, list[tuple[int, _Adrg]]] = {}
        acc: dict[tuple[str, str], dict[str, list[tuple[int, _Adrg]]]] = {}
        labels = {"or": "OR proc", "non_or": "non-OR proc", "medical": "pdx"}
        for rank, a in enumerate(scheme.adrgs):
            acond = cond(a.when)
            if a.kind != "medical" and a.pdx and not a.pre_mdc:  # a surgical ADRG restricted to some pdx
                acond = _merge_pdx(acond, cmap(a.pdx))
            pairs = None if not a.procedure_pairs else {k: frozenset(v) for k, v in a.procedure_pairs.items()}
            any_of = tuple(c for c in (cond(w) for w in a.when_any or ()) if c is not None)
            ca = _Adrg(
                a.code,
                a.mdc,
                a.kind,
                labels[a.kind],
                acond,
                {str(k): v for k, v in a.drg.items()},
                frozenset(a.cc_exclude or ()),
                pairs,
                any_of,
            )
            if a.pre_mdc:
                self.pre.append((ca, cmap(a.procedures), cmap(a.pdx)))
                continue
            if (
                a.kind == "medical" and a.pdx is None
            ):  # any principal diagnosis of its MDC, after the specific
                self.med_any.setdefault(a.mdc, []).append((rank + 1_000_000, ca))
                continue
            if a.kind == "or" and a.procedures is None:  # any OR procedure, in hierarchy order
                self.or_any.setdefault(a.mdc, []).append((rank, ca))
                continue
            keyed = a.procedures if a.kind != "medical" else a.pdx
            bucket = acc.setdefault((a.kind, a.mdc), {})
            for code in keyed or ():
                bucket.setdefault(code, []).append((rank, ca))
        pre_proc: dict[str, list[int]] = {}
        self.pre_procless: tuple[int, ...] = ()
        for i, (_, procs, _) in enumerate(self.pre):
            if procs is None:
                self.pre_procless += (i,)
            else:
                for code in procs.table:
                    pre_proc.setdefault(code, []).append(i)
        self.pre_by_proc = CodeMap({k: tuple(v) for k, v in pre_proc.items()}, prefix)
        # a cheap gate: when every procedure-less pre-MDC rule is for newborns, older cases skip them
        gates = [_age_days_max(self.pre[i][0].cond) for i in self.pre_procless]
        self.pre_gate: int | None = (
            None if not gates or None in gates else max(g for g in gates if g is not None)
        )
        for (kind, mdc), bucket in acc.items():
            target = {"or": self.or_by_proc, "non_or": self.nonor_by_proc, "medical": self.med_by_pdx}[kind]
            target[mdc] = CodeMap(
                {k: tuple(sorted(v, key=lambda t: t[0])) for k, v in bucket.items()}, prefix
            )
        self.unrelated = [
            (u.adrg, cond(u.when), {str(k): v for k, v in u.drg.items()}) for u in scheme.unrelated_or
        ]
        excl = {k: frozenset(v) for k, v in scheme.exclusions.items()}
        self.cc = CodeMap(
            {
                e.code: _Cc(
                    MCC if e.level == "MCC" else CC,
                    excl[e.exclusion] if e.exclusion else None,
                    e.hac,
                    e.alive_only,
                )
                for e in scheme.cc
            },
            prefix,
        )
        # exclusion lists are matched on the pdx: with prefix matching, a list entry is a prefix
        self.excl_prefix = prefix


def _age_days_max(c: _Cond | None) -> int | None:
    return None if c is None else c.age_days_max


def _merge_pdx(c: _Cond | None, pdx: CodeMap | None) -> _Cond:
    if c is None:
        return _Cond(
            None, None, None, None, None, None, None, None, None, None, pdx, None, None, None, None, None
        )
    return _Cond(
        c.sex,
        c.age_min,
        c.age_max,
        c.age_days_min,
        c.age_days_max,
        c.weight_min,
        c.weight_max,
        c.los_min,
        c.los_max,
        c.discharge,
        pdx,
        c.sdx_any,
        c.dx_any,
        c.also_procedures,
        c.all_procedures_in,
        c.no_procedures,
        c.groups,
        c.groups_min,
        c.sdx_all_in,
        c.pgroups,
        c.pgroups_min,
    )


def compile_scheme(scheme: Scheme) -> Compiled:
    """Compile a validated scheme into lookups (done once per scheme, then shared by every case)."""
    return Compiled(scheme)


def _discharge_is(cs: Compiled, what: str, status: str) -> bool:
    if what == "death":
        return status in cs.death
    if what == "alive":
        return status not in cs.death
    if what == "transfer":
        return status in cs.transfer
    if what == "death_or_transfer":
        return status in cs.death or status in cs.transfer
    return status in cs.ama


def _holds(cs: Compiled, c: _Cond, case: Case, or_procs: Sequence[str]) -> bool:
    if c.sex is not None and case.sex != c.sex:
        return False
    if c.age_min is not None and case.age < c.age_min:
        return False
    if c.age_max is not None and case.age > c.age_max:
        return False
    if c.age_days_min is not None or c.age_days_max is not None:
        d = case.age_days if case.age_days is not None else (case.age * 365 if case.age > 0 else None)
        if d is None:
            return False
        if c.age_days_min is not None and d < c.age_days_min:
            return False
        if c.age_days_max is not None and d > c.age_days_max:
            return False
    if c.weight_min is not None and (case.weight_g is None or case.weight_g < c.weight_min):
        return False
    if c.weight_max is not None and (case.weight_g is None or case.weight_g > c.weight_max):
        return False
    if c.los_min is not None and (case.los_days is None or case.los_days < c.los_min):
        return False
    if c.los_max is not None and (case.los_days is None or case.los_days > c.los_max):
        return False
    if c.discharge is not None and not _discharge_is(cs, c.discharge, case.discharge_status):
        return False
    if c.pdx is not None and not c.pdx.has(case.pdx):
        return False
    if c.sdx_any is not None and not any(c.sdx_any.has(d) for d in case.sdx):
        return False
    if c.dx_any is not None and not (c.dx_any.has(case.pdx) or any(c.dx_any.has(d) for d in case.sdx)):
        return False
    if c.also_procedures is not None and not any(c.also_procedures.has(p) for p in case.procedures):
        return False
    if c.all_procedures_in is not None and not all(c.all_procedures_in.has(p) for p in or_procs):
        return False
    if c.no_procedures is not None and any(c.no_procedures.has(p) for p in case.procedures):
        return False
    if c.sdx_all_in is not None and not all(c.sdx_all_in.has(d) for d in case.sdx):
        return False
    if c.pgroups is not None:
        pg = c.pgroups
        if len({pg.look(p) for p in case.procedures} - {None}) < c.pgroups_min:
            return False
    if c.groups is not None:
        g = c.groups
        found = {g.look(d) for d in (case.pdx, *case.sdx)} - {None}
        if len(found) < c.groups_min:
            return False
    return True


def severity_of(cs: Compiled, case: Case, skip: frozenset[str] = frozenset()) -> tuple[int, str]:
    """The highest complication level among the secondary diagnoses and the code that gives it."""
    best, why = NONE, ""
    dead = case.discharge_status in cs.death
    poa = case.sdx_poa
    pdx = case.pdx
    for i, d in enumerate(case.sdx):
        e = cs.cc.look(d)
        if e is None or d == pdx or d in skip:
            continue
        assert isinstance(e, _Cc)
        if e.level <= best:
            continue
        if e.exclusion is not None and _excluded(cs, e.exclusion, pdx):
            continue
        if e.hac and i < len(poa) and poa[i] in cs.poa_np:
            continue
        if e.alive_only and dead:
            continue
        best, why = e.level, d
        if best == MCC:
            break
    return best, why


def _excluded(cs: Compiled, excl: frozenset[str], pdx: str) -> bool:
    if pdx in excl:
        return True
    if cs.excl_prefix:
        return any(pdx[:n] in excl for n in range(3, len(pdx)))
    return False


def _result(
    cs: Compiled,
    case: Case,
    mdc: str,
    adrg: str,
    drgs: dict[str, str],
    trace: list[str],
    skip: frozenset[str] = frozenset(),
) -> Grouping:
    if "ALL" in drgs:
        drg = drgs["ALL"].replace("{mdc}", mdc)
        trace.append(f"DRG={drg}")
        return Grouping(case.case_id, mdc, adrg, drg, "ALL", ">".join(trace))
    level, why = severity_of(cs, case, skip)
    name = LEVEL_NAME[level]
    trace.append(f"CC:{name}({why})" if why else "CC:NONE")
    drg = drgs[name].replace("{mdc}", mdc)
    trace.append(f"DRG={drg}")
    return Grouping(case.case_id, mdc, adrg, drg, name, ">".join(trace))


def _ungroupable(
    cs: Compiled, case: Case, reason: str, trace: list[str] | None = None, invalid_pdx: bool = False
) -> Grouping:
    u = cs.ungroupable
    drg = u.invalid_pdx_drg if invalid_pdx and u.invalid_pdx_drg else u.drg
    t = [*(trace or []), f"UNGROUPABLE({reason})", f"DRG={drg}"]
    return Grouping(case.case_id, u.mdc, drg if drg != u.drg else u.adrg, drg, "NONE", ">".join(t))


def _rank(t: tuple[int, _Adrg, str]) -> int:
    return t[0]


def _pick(
    cs: Compiled,
    table: CodeMap | None,
    codes: Sequence[str],
    case: Case,
    or_procs: Sequence[str],
    extra: list[tuple[int, _Adrg]] | None = None,
) -> tuple[_Adrg, str] | None:
    """The highest-ranked ADRG any of ``codes`` selects (or ``extra`` offers) whose conditions hold."""
    cands: list[tuple[int, _Adrg, str]] = []
    sources = 0
    if table is not None:
        for code in codes:
            hit = table.look(code)
            if hit is not None:
                cands += [(r, a, code) for r, a in hit]
                sources += 1
    if extra:
        cands += [(r, a, "") for r, a in extra]
        sources += 1
    if not cands:
        return None
    if sources > 1:  # each table entry is already in rank order
        cands.sort(key=_rank)
    for _, a, code in cands:
        if a.pairs is not None and code in a.pairs and a.pairs[code].isdisjoint(case.procedures):
            continue
        if a.any_of and not any(_holds(cs, c, case, or_procs) for c in a.any_of):
            continue
        if a.cond is None or _holds(cs, a.cond, case, or_procs):
            return a, code
    return None


def group_case(cs: Compiled, case: Case) -> Grouping:
    """Group one case (pure: the same case and scheme always give the same result)."""
    pdx = case.pdx
    if not pdx:
        return _ungroupable(cs, case, "no principal diagnosis")
    prog = cs.program
    if prog is not None:
        r = prog.group(pdx, case.sdx, case.sdx_poa, case.procedures, case.sex, case.discharge_status)
        return Grouping(case.case_id, r.mdc, r.family, r.drg, r.severity, r.trace)
    look = cs.proc_kind.look
    or_procs = [p for p in case.procedures if look(p) == "or"]
    cands: list[int] = []
    for p in case.procedures:
        hit = cs.pre_by_proc.look(p)
        if hit is not None:
            cands.extend(hit)
    gate = cs.pre_gate
    if cs.pre_procless and (
        gate is None or (case.age_days if case.age_days is not None else case.age * 365) <= gate
    ):
        cands.extend(cs.pre_procless)
    if cands:
        if len(cands) > 1:
            cands = sorted(set(cands))
        for i in cands:
            a, procs, pdxs = cs.pre[i]
            if procs is not None:
                hit = next((p for p in case.procedures if procs.has(p)), None)
                if hit is None:
                    continue
                why = f"{a.label} {hit}"
            else:
                why = f"pdx {pdx}"
            if pdxs is not None and not pdxs.has(pdx):
                continue
            if a.cond is not None and not _holds(cs, a.cond, case, or_procs):
                continue
            if a.any_of and not any(_holds(cs, c, case, or_procs) for c in a.any_of):
                continue
            return _result(cs, case, a.mdc, a.code, a.drg, [f"PRE-MDC:ADRG={a.code}({why})"], a.cc_exclude)
    if not cs.any_pdx_mdc and not cs.known_pdx.has(pdx):
        return _ungroupable(cs, case, f"pdx {pdx} not in any MDC")
    mdc = ""
    entries: tuple[int, ...] = cs.mdc_by_pdx.look(pdx) or ()
    if cs.mdc_open:
        entries = tuple(sorted(entries + cs.mdc_open))
    for i in entries:
        code, _, cond = cs.mdc_list[i]
        if cond is not None and not _holds(cs, cond, case, or_procs):
            continue
        mdc = code
        break
    if not mdc:
        return _ungroupable(cs, case, f"pdx {pdx} not valid for this case (sex/age)")
    trace = [f"MDC={mdc}(pdx {pdx})"]
    if or_procs:
        got = _pick(cs, cs.or_by_proc.get(mdc), case.procedures, case, or_procs, cs.or_any.get(mdc))
        if got is not None:
            a, code = got
            code = code or or_procs[0]
            trace.append(f"ADRG={a.code}(OR proc {code})")
            return _result(cs, case, mdc, a.code, a.drg, trace, a.cc_exclude)
        for adrg, cond, drgs in () if mdc in cs.no_unrelated else cs.unrelated:
            if cond is None or _holds(cs, cond, case, or_procs):
                adrg = adrg.replace("{mdc}", mdc)
                trace.append(f"ADRG={adrg}(OR proc {or_procs[0]} unrelated to MDC {mdc})")
                return _result(cs, case, mdc, adrg, drgs, trace)
    got = _pick(cs, cs.nonor_by_proc.get(mdc), case.procedures, case, or_procs)
    if got is not None:
        a, code = got
        trace.append(f"ADRG={a.code}(non-OR proc {code})")
        return _result(cs, case, mdc, a.code, a.drg, trace, a.cc_exclude)
    got = _pick(cs, cs.med_by_pdx.get(mdc), (pdx,), case, or_procs, cs.med_any.get(mdc))
    if got is not None:
        a, _ = got
        trace.append(f"ADRG={a.code}(medical pdx {pdx})")
        return _result(cs, case, mdc, a.code, a.drg, trace, a.cc_exclude)
    return _ungroupable(cs, case, f"no ADRG of MDC {mdc} accepts the case", trace, invalid_pdx=True)
