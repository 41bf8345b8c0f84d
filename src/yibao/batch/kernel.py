"""The visit-stage kernel: numpy arrays in, 2207 money fields out, accumulators carried in state.

Pure: it reads only its arguments and mutates only the ``State`` it is given.  Visits arrive sorted
into rounds; within a round no two visits share a person-year or an account, so a round is one
vectorised step.  As in the engine, every read in a visit sees the accumulators as they were before
that visit, and the visit's deltas are applied after it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from yibao.money import RATIO_ONE, apply_ratio, base_for_payment, ratio_sum_to_fen

I64 = npt.NDArray[np.int64]
NO_CAP = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class Terms:
    deductible: int
    bounds: tuple[tuple[int, int | None, int], ...]
    cap: int | None


@dataclass(frozen=True)
class Slot:
    """One layer of one policy version; ``terms_idx`` per visit says which terms apply (−1: none)."""

    field: str
    over_cap: bool
    include_pre: bool
    exclude_dedc: bool
    counter: int
    paid_counter: int
    terms: tuple[Terms, ...]
    terms_idx: npt.NDArray[np.int16]


@dataclass(frozen=True)
class RepeatRule:
    schedule: tuple[int, ...] | None
    step: int | None
    floor: int | None
    compound: int | None = None


@dataclass(frozen=True)
class ComTerms:
    """A commercial product (医保+商保一单制) as the kernel reads it: the engine's ``_pay_commercial``."""

    ratio: int
    deductible: int
    per_claim_cap: int
    annual_cap: int
    out_of_scope: bool
    paid_counter: int
    ded_counter: int


@dataclass
class Static:
    """Per-visit parameters that do not depend on accumulators, all aligned with the round order."""

    py: I64
    acct: I64
    full: I64
    over: I64
    pre: I64
    ins: I64
    has_ben: npt.NDArray[np.bool_]
    basis: npt.NDArray[np.int8]  # 0 none, 1 per year, 2 per admission
    ded_ctr: I64
    n_ctr: I64
    ded_full: I64
    rep_id: I64  # −1 none
    ratio: I64
    cap_ctr: I64
    cap: I64  # NO_CAP when uncapped
    acct_ok: npt.NDArray[np.bool_]
    acct_in: npt.NDArray[np.bool_]
    acct_out: npt.NDArray[np.bool_]
    family: npt.NDArray[np.bool_]
    slots: list[Slot]
    rules: list[RepeatRule]
    round_starts: I64
    # the continuity incentives (国办发〔2024〕38号) per visit: the critical-illness layer's cap uplift (fen)
    # and its limit as a share of the original cap (1/10000); None: no benefit check ran
    ci_uplift: I64 | None = None
    ci_share: I64 | None = None
    ci_field: str = "hifmi_pay"
    # the commercial product paying on each visit (index into ``com_terms``, −1 none); None: no covers given
    com_idx: I64 | None = None
    com_terms: tuple[ComTerms, ...] = ()
    # the first round of each part (parts share no person-year and no account); None: one part
    part_rounds: tuple[int, ...] | None = None


@dataclass
class State:
    """The accumulators.  ``counters[c, p]`` is counter ``c`` of person-year ``p``; in memory a person-year's
    counters lie side by side (after :func:`run`, ``counters`` is the transpose of a person-year-major
    array), so a visit's reads and writes touch one or two cache lines, not one per counter."""

    counters: I64  # [counter id, person-year]
    balance: I64  # [account index]


FIELDS = ("hifmi_pay", "hifob_pay", "maf_pay", "cvlserv_pay", "hifes_pay", "oth_pay")


@dataclass
class Out:
    n: int
    cols: dict[str, I64] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "act_pay_dedc",
            "hifp_pay",
            *FIELDS,
            "fund_pay_sumamt",
            "psn_part_amt",
            "acct_pay",
            "acct_mulaid_pay",
            "psn_cash_pay",
            "balc",
            "pool_prop_selfpay",
            "commercial_pay",
        ):
            self.cols[name] = np.zeros(self.n, dtype=np.int64)


@dataclass
class _At:
    """Where each visit (round order) reads and writes its dense counters in the flat counters: its
    deductible counter and its capped-payment counter, or its part's spare cell when it has no such counter
    (no benefit, no deductible).  A spare cell is set to 0 at the start of every round of its part, so
    every read of it gives 0, and a round's writes to it are thrown away — so a round reads and writes
    these counters for every visit at once, with no mask."""

    flat: I64  # the counters person-year-major, one row; the spare cells after them
    ded: I64
    cap: I64
    ded_full: I64  # the per-year deductible where it applies, else 0 (per admission: computed per round)
    ratio: I64  # the basic fund's ratio where the visit has a benefit, else 0
    spare: I64  # the spare cell of each part


def _positions(s: Static, st: State, parts: int, ratio: I64) -> _At:
    """The flat counters with a spare cell per part (``st.counters`` becomes a view of them, same shape
    and values, person-year-major) and every visit's read and write positions; ``ratio`` (zeros, one per
    visit) receives the basic fund's ratio where the visit has a benefit."""
    n_ctr, n_py = st.counters.shape
    flat = np.zeros(n_py * n_ctr + parts, dtype=np.int64)
    flat[: n_py * n_ctr] = st.counters.T.reshape(-1)
    st.counters = flat[: n_py * n_ctr].reshape(n_py, n_ctr).T
    spare = n_py * n_ctr + np.arange(parts, dtype=np.int64)
    if s.part_rounds is None:
        spare_of = np.full(len(s.py), spare[0], dtype=np.int64)
    else:
        at = s.round_starts[np.asarray(s.part_rounds, dtype=np.int64)]
        spare_of = np.repeat(spare, np.diff(at))
    has = s.has_ben
    cap = s.py * n_ctr  # each visit's first counter, then (in place) its capped-payment counter
    ded = cap + s.ded_ctr
    np.copyto(ded, spare_of, where=~(has & (s.basis > 0)))
    cap += s.cap_ctr
    np.copyto(cap, spare_of, where=~has)
    np.copyto(ratio, s.ratio, where=has)
    return _At(
        flat=flat,
        ded=ded,
        cap=cap,
        ded_full=s.ded_full * (has & (s.basis == 1)),
        ratio=ratio,
        spare=spare,
    )


@dataclass(frozen=True)
class _SlotRows:
    """One layer slot as the rounds read it: the visits it applies to, by round, and its terms as arrays
    ([terms, bounds]; a terms with fewer bounds is padded with empty ones), so a round settles the slot's
    visits in one step whatever terms each has."""

    rows: I64  # the visits (round order) the slot applies to, ascending
    by_round: I64  # round r's are rows[by_round[r] : by_round[r + 1]]
    t_of: npt.NDArray[np.int16]  # the terms of each of ``rows``
    lo: I64  # [terms, bounds]
    hi: I64  # NO_CAP where a band has no upper edge
    rt: I64
    cap: I64  # [terms]: NO_CAP where uncapped
    capped: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, slot: Slot, round_starts: I64) -> _SlotRows:
        rows = np.flatnonzero(slot.terms_idx >= 0)
        n_b = max((len(t.bounds) for t in slot.terms), default=0)
        band = np.zeros((3, len(slot.terms), n_b), dtype=np.int64)
        for t, terms in enumerate(slot.terms):
            for j, (lo, hi, rt) in enumerate(terms.bounds):
                band[:, t, j] = (lo, NO_CAP if hi is None else hi, rt)
        return cls(
            rows=rows,
            by_round=np.searchsorted(rows, round_starts),
            t_of=slot.terms_idx[rows],
            lo=band[0],
            hi=band[1],
            rt=band[2],
            cap=np.array([NO_CAP if t.cap is None else t.cap for t in slot.terms], dtype=np.int64),
            capped=np.array([t.cap is not None for t in slot.terms], dtype=bool),
        )


def _due(s: Static, st: State, at: _At, a: int, b: int) -> I64:
    """The deductible still due on each visit of the round (0 where no benefit or no deductible)."""
    due: I64 = np.maximum(at.ded_full[a:b] - at.flat.take(at.ded[a:b]), 0)  # per year; 0 − 0 elsewhere
    m2 = s.has_ben[a:b] & (s.basis[a:b] == 2)
    if m2.any():
        py = s.py[a:b]
        full = s.ded_full[a:b]
        n = at.flat.take(py[m2] * st.counters.shape[0] + s.n_ctr[a:b][m2])
        f = full[m2]
        d = f.copy()
        rep = s.rep_id[a:b][m2]
        for r, rule in enumerate(s.rules):
            mr = rep == r
            if not mr.any():
                continue
            if rule.schedule is not None:
                sched = np.asarray(rule.schedule, dtype=np.int64)
                factor = sched[np.minimum(n[mr], len(sched) - 1)]
                d[mr] = ratio_sum_to_fen(f[mr] * factor)
            elif rule.compound is not None:
                nz = mr & (n > 0)
                dd = f[nz].copy()
                nn = n[nz]
                for k in range(int(nn.max()) if len(nn) else 0):
                    dd = np.where(nn > k, ratio_sum_to_fen(dd * rule.compound), dd)
                d[nz] = np.maximum(dd, np.minimum(rule.floor or 0, f[nz]))
            elif rule.step is not None:
                nz = mr & (n > 0)
                floor = np.minimum(rule.floor or 0, f[nz])
                factor = np.maximum(RATIO_ONE - n[nz] * rule.step, 0)
                d[nz] = np.maximum(ratio_sum_to_fen(f[nz] * factor), floor)
        due[m2] = d
    return due


def run(s: Static, st: State) -> Out:
    """Settle every visit of ``s`` round by round, updating ``st``; returns the per-visit fields.

    The parts (``s.part_rounds``) touch disjoint person-years, accounts and output rows, so each runs in
    its own thread; within a part the rounds run in order."""
    out = Out(len(s.py))
    c = out.cols
    starts = s.round_starts
    bounds = s.part_rounds if s.part_rounds is not None else (0, len(starts) - 1)
    at = _positions(s, st, len(bounds) - 1, c["pool_prop_selfpay"])

    slot_rows = [_SlotRows.of(slot, starts) for slot in s.slots]

    def settle_part(p: int) -> None:
        for r in range(bounds[p], bounds[p + 1]):
            _round(s, st, at, slot_rows, int(at.spare[p]), c, r)

    busy = [p for p in range(len(bounds) - 1) if bounds[p + 1] > bounds[p]]
    if len(busy) <= 1:
        for p in busy:
            settle_part(p)
    else:
        with ThreadPoolExecutor(len(busy)) as pool:
            list(pool.map(settle_part, busy))
    # the fields that follow from the others visit by visit: once over every visit, not round by round
    total = s.full + s.over + s.pre + s.ins
    np.subtract(total, c["fund_pay_sumamt"], out=c["psn_part_amt"])  # the commercial payment included
    np.subtract(c["psn_part_amt"], c["commercial_pay"], out=c["psn_cash_pay"])
    c["psn_cash_pay"] -= c["acct_pay"]
    np.copyto(c["acct_mulaid_pay"], c["acct_pay"], where=s.family)
    return out


def _round(
    s: Static, st: State, at: _At, slot_rows: list[_SlotRows], spare: int, c: dict[str, I64], r: int
) -> None:
    a, b = int(s.round_starts[r]), int(s.round_starts[r + 1])
    flat = at.flat
    n_ctr = st.counters.shape[0]
    flat[spare] = 0  # this part's spare cell reads 0 in this round
    py = s.py[a:b]
    ins, pre = s.ins[a:b], s.pre[a:b]
    ded_at, cap_at = at.ded[a:b], at.cap[a:b]
    # (flat positions, values) added after the round; the reads above them see the counters before it
    writes: list[tuple[I64, I64]] = []
    dedc = c["act_pay_dedc"][a:b]  # zeros: stays 0 where the visit has no benefit
    np.minimum(ins, _due(s, st, at, a, b), out=dedc, where=s.has_ben[a:b])
    writes.append((ded_at, dedc))
    m2 = s.has_ben[a:b] & (s.basis[a:b] == 2)
    if m2.any():
        writes.append((py[m2] * n_ctr + s.n_ctr[a:b][m2], np.ones(int(m2.sum()), dtype=np.int64)))
    ratio = at.ratio[a:b]
    base = ins - dedc
    raw = ratio_sum_to_fen(base * ratio)  # 0 without a benefit (ratio 0)
    # an uncapped visit's cap is NO_CAP, far above anything paid: its room never binds
    room = np.maximum(s.cap[a:b] - flat.take(cap_at), 0)
    paid = np.minimum(raw, room, out=c["hifp_pay"][a:b])
    capped = paid < raw
    over_base = np.zeros(b - a, dtype=np.int64)
    if capped.any():
        used = base_for_payment(paid[capped], ratio[capped])
        over_base[capped] = base[capped] - np.minimum(used, base[capped])
    writes.append((cap_at, paid))
    remaining_scope = ins - paid
    remaining_pre = pre.copy()
    fund_total = c["fund_pay_sumamt"][a:b]
    fund_total[:] = paid
    for slot, sr in zip(s.slots, slot_rows, strict=True):
        k0, k1 = int(sr.by_round[r]), int(sr.by_round[r + 1])
        if k0 == k1:
            continue
        idx = sr.rows[k0:k1] - a
        lbase = (
            np.minimum(over_base[idx], remaining_scope[idx])
            if slot.over_cap
            else (
                np.maximum(remaining_scope[idx] - dedc[idx], 0).astype(np.int64)
                if slot.exclude_dedc
                else remaining_scope[idx]
            )
            + (remaining_pre[idx] if slot.include_pre else 0)
        )
        p_idx = py[idx]
        p_first = p_idx * n_ctr
        before = flat.take(p_first + slot.counter)
        paid_before = flat.take(p_first + slot.paid_counter)
        hi_amt = before + lbase
        one = len(slot.terms) == 1  # one terms: its bands and cap as scalars, no gather per visit
        t_of = sr.t_of[k0:k1]
        acc = np.zeros(len(idx), dtype=np.int64)
        for j in range(sr.lo.shape[1]):  # the part of [before, before + base) in each band
            if one:
                lo, hi, rt = int(sr.lo[0, j]), int(sr.hi[0, j]), int(sr.rt[0, j])
                lo_edge = np.maximum(lo, before)
                hi_edge = hi_amt if hi == NO_CAP else np.minimum(hi, hi_amt)
                acc += np.maximum(hi_edge - lo_edge, 0) * rt
            else:
                lo_edge = np.maximum(sr.lo[t_of, j], before)
                hi_edge = np.minimum(sr.hi[t_of, j], hi_amt)
                acc += np.maximum(hi_edge - lo_edge, 0) * sr.rt[t_of, j]
        lraw = np.where(lbase > 0, ratio_sum_to_fen(acc), 0)
        lroom: I64 | int = NO_CAP
        if sr.capped.any():
            capped_v = bool(sr.capped[0]) if one else sr.capped[t_of]
            cap_v: I64 | int = int(sr.cap[0]) if one else np.where(capped_v, sr.cap[t_of], 0)
            tcap: I64 | int = cap_v
            if slot.field == s.ci_field and s.ci_uplift is not None and s.ci_share is not None:
                at_v = a + idx
                cap_arr = np.full(len(idx), cap_v, dtype=np.int64) if isinstance(cap_v, int) else cap_v
                limit = apply_ratio(cap_arr, s.ci_share[at_v])
                tcap = np.maximum(cap_v + np.minimum(s.ci_uplift[at_v], limit), 0)
            lroom = np.maximum(tcap - paid_before, 0)
            if not one:
                lroom = np.where(capped_v, lroom, NO_CAP)
            elif not capped_v:
                lroom = NO_CAP
        lpaid = np.minimum(lraw, lroom)
        writes.append((p_first + slot.counter, lbase))
        writes.append((p_first + slot.paid_counter, lpaid))
        from_scope = np.minimum(lpaid, remaining_scope[idx])
        remaining_scope[idx] -= from_scope
        remaining_pre[idx] -= lpaid - from_scope
        if slot.over_cap:
            over_base[idx] -= np.minimum(lpaid, over_base[idx])
        c[slot.field][a + idx] += lpaid
        fund_total[idx] += lpaid
    in_scope = ins + pre - fund_total
    out_scope = s.full[a:b] + s.over[a:b]
    if (
        s.com_idx is not None
    ):  # a commercial product pays first (医保+商保一单制); without covers nothing changes
        psn_part = out_scope + in_scope  # what the person owes after the public layers
        com, com_scope = _commercial(s, st, py, in_scope, psn_part, writes, a, b)
        c["commercial_pay"][a:b] = com
        in_scope = in_scope - com_scope
        out_scope = out_scope - (com - com_scope)
    acct_idx = s.acct[a:b]
    bal = np.maximum(st.balance.take(acct_idx), 0)
    ok = s.acct_ok[a:b]
    payable = np.where(s.acct_in[a:b], in_scope, 0) + np.where(s.acct_out[a:b], out_scope, 0)
    acct = np.where(ok, np.minimum(payable, bal), 0)
    st.balance[acct_idx] -= acct
    c["acct_pay"][a:b] = acct
    np.subtract(bal, acct, out=c["balc"][a:b])
    # within one write no position repeats but the spare cell — a round holds one visit per person-year —
    # so a plain fancy-index add is exact; writes apply one after another
    for where, val in writes:
        if len(val):
            flat[where] += val


def _commercial(
    s: Static,
    st: State,
    py: I64,
    in_scope: I64,
    psn_part: I64,
    writes: list[tuple[I64, I64]],
    a: int,
    b: int,
) -> tuple[I64, I64]:
    """(commercial payment, of which from the policy-scope part) per visit of the round: the engine's
    commercial tier — ratio of the remaining burden (or its policy-scope part) above the product's yearly
    deductible, within its per-claim cap and what its annual cap still allows."""
    com = np.zeros(b - a, dtype=np.int64)
    com_scope = np.zeros(b - a, dtype=np.int64)
    assert s.com_idx is not None
    ci = s.com_idx[a:b]
    for k, t in enumerate(s.com_terms):
        j = np.nonzero(ci == k)[0]
        if len(j) == 0:
            continue
        base = psn_part[j] if t.out_of_scope else in_scope[j]
        pj = py[j]
        due = np.maximum(t.deductible - st.counters[t.ded_counter][pj], 0) if t.deductible else 0
        dedc = np.minimum(base, due)
        raw = apply_ratio(base - dedc, t.ratio)
        room = np.clip(t.annual_cap - st.counters[t.paid_counter][pj], 0, t.per_claim_cap)
        paid = np.minimum(raw, room)
        com[j] = paid
        com_scope[j] = np.minimum(paid, in_scope[j])
        p_first = pj * st.counters.shape[0]
        writes.append((p_first + t.ded_counter, np.asarray(dedc, dtype=np.int64)))
        writes.append((p_first + t.paid_counter, paid))
    return com, com_scope
