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
    counters lie side by side (``counters`` is the transpose of a person-year-major array, see
    :func:`person_year_major`), so a visit's reads and writes touch one or two cache lines, not one per
    counter."""

    counters: I64  # [counter id, person-year]
    balance: I64  # [account index]


def person_year_major(counters: I64) -> I64:
    """``counters`` (shape [counter, person-year]) laid out person-year-major, same shape and values."""
    return counters if counters.T.flags.c_contiguous else np.ascontiguousarray(counters.T).T


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


def _flat(st: State) -> I64:
    """The counters as one row (a view): counter ``c`` of person-year ``p`` at ``p * n_counters + c``."""
    return st.counters.T.reshape(-1)  # a view: the state is person-year-major (``run`` makes sure)


def _due(s: Static, st: State, a: int, b: int) -> I64:
    py = s.py[a:b]
    basis = s.basis[a:b]
    full = s.ded_full[a:b]
    due = np.zeros(b - a, dtype=np.int64)
    m1 = basis == 1
    if m1.any():
        used = _flat(st)[py[m1] * st.counters.shape[0] + s.ded_ctr[a:b][m1]]
        due[m1] = np.maximum(full[m1] - used, 0)
    m2 = basis == 2
    if m2.any():
        n = _flat(st)[py[m2] * st.counters.shape[0] + s.n_ctr[a:b][m2]]
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
    st.counters = person_year_major(st.counters)
    out = Out(len(s.py))
    c = out.cols
    starts = s.round_starts
    bounds = s.part_rounds if s.part_rounds is not None else (0, len(starts) - 1)

    def settle_part(p: int) -> None:
        for r in range(bounds[p], bounds[p + 1]):
            _round(s, st, c, int(starts[r]), int(starts[r + 1]))

    busy = [p for p in range(len(bounds) - 1) if bounds[p + 1] > bounds[p]]
    if len(busy) <= 1:
        for p in busy:
            settle_part(p)
    else:
        with ThreadPoolExecutor(len(busy)) as pool:
            list(pool.map(settle_part, busy))
    # the fields that follow from the others visit by visit: once over every visit, not round by round
    c["pool_prop_selfpay"][:] = np.where(s.has_ben, s.ratio, 0)
    total = s.full + s.over + s.pre + s.ins
    np.subtract(total, c["fund_pay_sumamt"], out=c["psn_part_amt"])  # the commercial payment included
    np.subtract(c["psn_part_amt"], c["commercial_pay"], out=c["psn_cash_pay"])
    c["psn_cash_pay"] -= c["acct_pay"]
    np.copyto(c["acct_mulaid_pay"], c["acct_pay"], where=s.family)
    return out


def _round(s: Static, st: State, c: dict[str, I64], a: int, b: int) -> None:
    py = s.py[a:b]
    ins, pre = s.ins[a:b], s.pre[a:b]
    has = s.has_ben[a:b]
    writes: list[tuple[I64 | int, I64, I64]] = []
    due = _due(s, st, a, b)
    dedc = np.where(has, np.minimum(ins, due), 0)
    basis = s.basis[a:b]
    mded = has & (basis > 0)
    writes.append((s.ded_ctr[a:b][mded], py[mded], dedc[mded]))
    m2 = has & (basis == 2)
    writes.append((s.n_ctr[a:b][m2], py[m2], np.ones(int(m2.sum()), dtype=np.int64)))
    ratio = s.ratio[a:b]
    base = ins - dedc
    raw = np.where(has, ratio_sum_to_fen(base * ratio), 0)
    cap = s.cap[a:b]
    cap_ctr = s.cap_ctr[a:b]
    room = np.full(b - a, NO_CAP, dtype=np.int64)
    mh = has & (cap < NO_CAP)
    room[mh] = np.maximum(cap[mh] - _flat(st)[py[mh] * st.counters.shape[0] + cap_ctr[mh]], 0)
    paid = np.minimum(raw, room)
    capped = paid < raw
    over_base = np.zeros(b - a, dtype=np.int64)
    if capped.any():
        used = base_for_payment(paid[capped], ratio[capped])
        over_base[capped] = base[capped] - np.minimum(used, base[capped])
    writes.append((cap_ctr[has], py[has], paid[has]))
    c["act_pay_dedc"][a:b] = dedc
    c["hifp_pay"][a:b] = paid
    remaining_scope = ins - paid
    remaining_pre = pre.copy()
    fund_total = paid.copy()
    for slot in s.slots:
        ti = slot.terms_idx[a:b]
        idx = np.nonzero(ti >= 0)[0]
        if len(idx) == 0:
            continue
        t_of = ti[idx]
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
        before = st.counters[slot.counter][p_idx]
        paid_before = st.counters[slot.paid_counter][p_idx]
        lraw = np.zeros(len(idx), dtype=np.int64)
        lroom = np.full(len(idx), NO_CAP, dtype=np.int64)
        hi_amt = before + lbase
        for t, terms in enumerate(slot.terms):
            mt = t_of == t
            if not mt.any():
                continue
            acc = np.zeros(int(mt.sum()), dtype=np.int64)
            lo_amt, top = before[mt], hi_amt[mt]
            for lo, hi, rt in terms.bounds:
                lo_edge = np.maximum(lo, lo_amt)
                hi_edge = top if hi is None else np.minimum(hi, top)
                acc += np.maximum(hi_edge - lo_edge, 0) * rt
            lraw[mt] = np.where(lbase[mt] > 0, ratio_sum_to_fen(acc), 0)
            if terms.cap is not None:
                tcap: I64 | int = terms.cap
                if slot.field == s.ci_field and s.ci_uplift is not None and s.ci_share is not None:
                    at = a + idx[mt]
                    limit = apply_ratio(np.full(len(at), terms.cap, dtype=np.int64), s.ci_share[at])
                    tcap = np.maximum(terms.cap + np.minimum(s.ci_uplift[at], limit), 0)
                lroom[mt] = np.maximum(tcap - paid_before[mt], 0)
        lpaid = np.minimum(lraw, lroom)
        writes.append((slot.counter, p_idx, lbase))
        writes.append((slot.paid_counter, p_idx, lpaid))
        from_scope = np.minimum(lpaid, remaining_scope[idx])
        remaining_scope[idx] -= from_scope
        remaining_pre[idx] -= lpaid - from_scope
        if slot.over_cap:
            over_base[idx] -= np.minimum(lpaid, over_base[idx])
        c[slot.field][a + idx] += lpaid
        fund_total[idx] += lpaid
    c["fund_pay_sumamt"][a:b] = fund_total
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
    bal = np.maximum(st.balance[acct_idx], 0)
    ok = s.acct_ok[a:b]
    payable = np.where(s.acct_in[a:b], in_scope, 0) + np.where(s.acct_out[a:b], out_scope, 0)
    acct = np.where(ok, np.minimum(payable, bal), 0)
    st.balance[acct_idx] -= acct
    c["acct_pay"][a:b] = acct
    c["balc"][a:b] = bal - acct
    # within one write no (counter, person-year) repeats — a round holds one visit per person-year — so a
    # plain fancy-index add is exact (and much cheaper than ``np.add.at``); writes apply one after another
    n_ctr = st.counters.shape[0]
    flat = _flat(st)
    for ctr, who, val in writes:
        if len(val):
            flat[who * n_ctr + ctr] += val


def _commercial(
    s: Static,
    st: State,
    py: I64,
    in_scope: I64,
    psn_part: I64,
    writes: list[tuple[I64 | int, I64, I64]],
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
        writes.append((t.ded_counter, pj, np.asarray(dedc, dtype=np.int64)))
        writes.append((t.paid_counter, pj, paid))
    return com, com_scope
