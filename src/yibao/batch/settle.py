"""Batch settlement of visit and line tables (the synth Parquet schema, docs/SYNTH.md).

``settle_batch`` returns one row per visit with the 2207 money fields, in fen, plus the final
accumulators.  Static parameters (which benefit, ratio, deductible, caps, layers, account rule) are
resolved once per distinct combination of visit attributes with the same compiled-policy lookups the
engine uses; only the accumulator-dependent arithmetic runs in the vectorised kernel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from yibao.batch import kernel
from yibao.batch.lines import catalogue_frame, split_lines, split_lines_fast, visit_sums
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.model import SettlementError

MONEY_OUT = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
)


@dataclass
class BatchResult:
    visits: pl.DataFrame  # visit_id + MONEY_OUT + pool_prop_selfpay; row order unspecified, join on visit_id
    counters: dict[str, int]  # counter name → id
    person_years: pl.DataFrame  # py index → psn_id, year
    state: kernel.State

    def accumulators(self, psn_id: int, year: int) -> dict[str, int]:
        """The person-year's accumulators after the batch, as the engine's counter dict (zeros dropped)."""
        row = self.person_years.filter((pl.col("psn_id") == psn_id) & (pl.col("year") == year))
        if row.height == 0:
            return {}
        py = int(row["py"][0])
        return {
            name: int(self.state.counters[cid, py])
            for name, cid in self.counters.items()
            if self.state.counters[cid, py]
        }


def _components(psn: np.ndarray, payer: np.ndarray, n_persons: int) -> np.ndarray:
    """Label each person with the smallest psn_id reachable through family account payments."""
    comp = np.arange(n_persons, dtype=np.int64)
    m = (payer >= 0) & (payer != psn)
    a, b = psn[m], payer[m]
    while len(a):
        low = np.minimum(comp[a], comp[b])
        before = comp.copy()
        np.minimum.at(comp, a, low)
        np.minimum.at(comp, b, low)
        comp = comp[comp]
        if np.array_equal(before, comp):
            break
    return comp


class _Counters:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, name: str | None) -> int:
        if name is None:
            return -1
        if name not in self.ids:
            self.ids[name] = len(self.ids)
        return self.ids[name]


def settle_batch(
    book: PolicyBook, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame | pl.LazyFrame
) -> BatchResult:
    """Settle ``visits`` (with their ``lines``) of ``persons`` in time order (begin_date, seq)."""
    loaded = book.loaded
    versions = sorted(loaded.region.versions, key=lambda v: v.effective_from)
    policies: list[CompiledPolicy] = [book.for_date(v.effective_from) for v in versions]
    catalogue_ids: dict[str, int] = {}
    for v in versions:
        catalogue_ids.setdefault(v.catalogue or loaded.region.catalogue, len(catalogue_ids))
    cat = catalogue_frame({cid: loaded.catalogues[name] for name, cid in catalogue_ids.items()})

    # time order, version per visit (by begin date)
    n_vis = visits.height
    days = visits["begin_date"].to_numpy().astype("datetime64[D]")
    seq = visits["seq"].to_numpy()
    dint = days.astype(np.int64)
    in_order = bool(
        n_vis < 2 or np.all((dint[1:] > dint[:-1]) | ((dint[1:] == dint[:-1]) & (seq[1:] > seq[:-1])))
    )
    order = np.arange(n_vis) if in_order else np.lexsort((seq, days))
    days = days[order]
    ver_of = _version_index(days, [v.effective_from for v in versions], [v.effective_to for v in versions])
    if (ver_of < 0).any():
        i = int(order[np.nonzero(ver_of < 0)[0][0]])
        raise SettlementError(
            "visit.begin_date",
            f"{days[np.nonzero(ver_of < 0)[0][0]]} (visit "
            f"{visits['mdtrt_id'][i]}) is outside every policy version of region {book.admdvs}",
            "no_policy",
        )
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    visit_ids = visits["visit_id"].to_numpy()[order]

    # line stage → per-visit sums aligned with the time order
    sums: pl.DataFrame | None = None
    if len(catalogue_ids) == 1 and isinstance(lines, pl.DataFrame):
        sums = split_lines_fast(lines, loaded.catalogues[next(iter(catalogue_ids))])
    if sums is None:  # several catalogues, a lazy frame, or an unknown code to report
        cat_of_ver = np.array(
            [catalogue_ids[v.catalogue or loaded.region.catalogue] for v in versions], dtype=np.int32
        )
        visit_cat = pl.DataFrame({"visit_id": visit_ids, "cat_id": cat_of_ver[ver_of]})
        split = split_lines(lines.lazy(), visit_cat.lazy(), cat)
        sums = visit_sums(split).collect()
        if not sums["all_known"].all():
            bad_line = split.filter(~pl.col("known")).head(1).collect().row(0, named=True)
            raise SettlementError(
                "lines.code",
                f"unknown item code {bad_line['code']!r} (visit_id "
                f"{bad_line['visit_id']}, line {bad_line['feedetl_sn']})",
                "unknown_item",
            )
    parts = _align(sums, visit_ids)

    # persons' attributes by dense psn_id, as integer codes
    n_persons = int(persons["psn_id"].max()) + 1  # type: ignore[arg-type]
    pid = persons["psn_id"].to_numpy()
    scheme_codes, scheme_cats = _factor(persons["insutype"])
    ptype_codes, ptype_cats = _factor(persons["psn_type"])
    ident_codes, ident_cats = _factor(persons["identities"].fill_null(""))
    p_scheme = np.full(n_persons, -1, dtype=np.int64)
    p_ptype = np.zeros(n_persons, dtype=np.int64)
    p_ident = np.zeros(n_persons, dtype=np.int64)
    p_fam = np.full(n_persons, -1, dtype=np.int64)
    p_scheme[pid], p_ptype[pid], p_ident[pid] = scheme_codes, ptype_codes, ident_codes
    p_fam[pid] = persons["family_payer_id"].to_numpy()
    psn = visits["psn_id"].to_numpy().astype(np.int64)[order]
    if len(psn) and (psn.max() >= n_persons or (p_scheme[psn] < 0).any()):
        raise SettlementError("visit.psn_id", "refers to a person not in the persons table", "unknown_person")
    payer = visits["account_payer_id"].to_numpy().astype(np.int64)[order]
    family = (payer >= 0) & (payer != psn)
    payer_scheme = np.where(payer >= 0, p_scheme[np.maximum(payer, 0)], -1)
    family_ok = np.where(family, p_fam[psn] == payer, True)
    med_codes, med_cats = _factor(visits["med_type"])
    lv_codes, lv_cats = _factor(visits["hosp_lv"])
    loc_codes, loc_cats = _factor(visits["locality"])
    emergency = visits["emergency"].to_numpy()[order]
    use_acct = visits["use_account"].to_numpy()[order]
    med, lv, loc = med_codes[order], lv_codes[order], loc_codes[order]
    # 异地急诊抢救 is treated as filed (the engine's rule), folded into an effective locality code
    loc_names = [*loc_cats, "remote_filed"]
    unfiled = loc_cats.index("remote_unfiled") if "remote_unfiled" in loc_cats else -1
    filed = loc_cats.index("remote_filed") if "remote_filed" in loc_cats else len(loc_cats)
    loc = np.where((loc == unfiled) & emergency, filed, loc)

    # static parameters per distinct combination of attributes
    fields = [
        ver_of.astype(np.int64),
        p_scheme[psn],
        p_ptype[psn],
        med,
        lv,
        loc,
        p_ident[psn],
        use_acct.astype(np.int64),
        family.astype(np.int64),
        payer_scheme + 1,
        family_ok.astype(np.int64),
    ]
    key = np.zeros(n_vis, dtype=np.int64)
    for f in fields:
        key = key * (int(f.max()) + 1 if len(f) else 1) + f
    combo_idx, first_idx = _dense(key)
    combo_rows = []
    for c, i in enumerate(first_idx):
        combo_rows.append(
            {
                "combo": c,
                "ver": int(ver_of[i]),
                "insutype": scheme_cats[p_scheme[psn[i]]],
                "psn_type": ptype_cats[p_ptype[psn[i]]],
                "med_type": med_cats[med[i]],
                "hosp_lv": lv_cats[lv[i]],
                "loc_eff": loc_names[loc[i]],
                "identities": ident_cats[p_ident[psn[i]]],
                "use_account": bool(use_acct[i]),
                "family": bool(family[i]),
                "payer_insutype": scheme_cats[payer_scheme[i]] if payer_scheme[i] >= 0 else None,
                "family_ok": bool(family_ok[i]),
            }
        )
    ctr = _Counters()
    rules: list[kernel.RepeatRule] = []
    rule_ids: dict[tuple[Any, ...], int] = {}
    slot_defs: list[tuple[int, Any]] = []  # (version index, CompiledLayer) in file order
    for vi, v in enumerate(versions):
        by_id = {lay.id: lay for key_layers in policies[vi].layers.values() for lay in key_layers}
        for layer in v.layers:
            slot_defs.append((vi, by_id[layer.id]))
    n_combo = len(combo_rows)
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "has_ben",
            "basis",
            "ded_ctr",
            "n_ctr",
            "ded_full",
            "rep_id",
            "ratio",
            "cap_ctr",
            "cap",
            "acct_ok",
            "acct_in",
            "acct_out",
        )
    }
    slot_terms = [np.full(n_combo, -1, dtype=np.int16) for _ in slot_defs]
    slot_term_lists: list[list[Any]] = [[] for _ in slot_defs]
    for row in combo_rows:
        policy = policies[row["ver"]]
        _check_combo(policy, row)
        ben = policy.benefits.get((row["insutype"], row["med_type"]))
        if ben is None:
            cols["has_ben"].append(False)
            for k, val in (
                ("basis", 0),
                ("ded_ctr", -1),
                ("n_ctr", -1),
                ("ded_full", 0),
                ("rep_id", -1),
                ("ratio", 0),
                ("cap_ctr", 0),
                ("cap", kernel.NO_CAP),
            ):
                cols[k].append(val)
        else:
            cols["has_ben"].append(True)
            cols["basis"].append({"none": 0, "per_year": 1, "per_admission": 2}[ben.basis])
            cols["ded_ctr"].append(ctr(ben.counter) if ben.basis != "none" else -1)
            cols["n_ctr"].append(ctr(f"{ben.counter}:n") if ben.basis == "per_admission" else -1)
            cols["ded_full"].append(ben.deductible.get((row["hosp_lv"], row["psn_type"]), 0))
            rk = (ben.repeat_schedule, ben.repeat_step, ben.repeat_floor)
            if ben.basis == "per_admission" and (rk[0] is not None or rk[1] is not None):
                if rk not in rule_ids:
                    rule_ids[rk] = len(rules)
                    rules.append(kernel.RepeatRule(*rk))
                cols["rep_id"].append(rule_ids[rk])
            else:
                cols["rep_id"].append(-1)
            cols["ratio"].append(ben.ratio[(row["hosp_lv"], row["psn_type"], row["loc_eff"])])
            cols["cap_ctr"].append(ctr(ben.cap_counter))
            cap = ben.cap_by_person_type.get(row["psn_type"], ben.cap) if ben.cap_by_person_type else ben.cap
            cols["cap"].append(kernel.NO_CAP if cap is None else cap)
        idents = frozenset(x for x in (row["identities"] or "").split("|") if x)
        applicable = {lay.id for lay in policy.layers.get((row["insutype"], row["med_type"]), ())}
        for si, (vi, layer) in enumerate(slot_defs):
            if vi != row["ver"] or layer.id not in applicable:
                continue
            terms = layer.terms_for(idents)
            if terms is None:
                continue
            tl = slot_term_lists[si]
            if terms not in tl:
                tl.append(terms)
            slot_terms[si][row["combo"]] = tl.index(terms)
        ok, a_in, a_out = _account(policy, row)
        cols["acct_ok"].append(ok)
        cols["acct_in"].append(a_in)
        cols["acct_out"].append(a_out)

    # rounds: rank of each visit within its family-account component, in time order
    comp = _components(psn, payer, n_persons)[psn]
    pos = np.arange(n_vis)
    by_comp = pl.DataFrame({"c": comp, "i": pos}).select(pl.arg_sort_by("c", "i")).to_series().to_numpy()
    sorted_comp = comp[by_comp]
    first = np.r_[0, np.nonzero(np.diff(sorted_comp))[0] + 1] if n_vis else np.zeros(0, dtype=np.int64)
    rank_sorted = pos - np.repeat(first, np.diff(np.r_[first, n_vis]))
    rank = np.empty(n_vis, dtype=np.int64)
    rank[by_comp] = rank_sorted
    # ranks are small: a stable sort on a narrow integer type is a radix sort
    perm = np.argsort(rank.astype(np.int16 if n_vis and rank.max() < 32_000 else np.int64), kind="stable")
    round_starts = np.r_[np.searchsorted(rank[perm], np.arange(int(rank.max()) + 1 if n_vis else 0)), n_vis]

    y0 = int(years.min()) if n_vis else 0
    py_key = psn * 64 + (years - y0)
    py, py_first = _dense(py_key)
    uniq = py_key[py_first]
    combo_idx = combo_idx[perm]

    def g(name: str, dtype: Any) -> Any:
        return np.asarray(cols[name], dtype=dtype)[combo_idx]

    acct_idx = np.where(payer >= 0, payer, psn)[perm]
    static = kernel.Static(
        py=py.astype(np.int64)[perm],
        acct=acct_idx,
        full=parts["full"][perm],
        over=parts["over"][perm],
        pre=parts["pre"][perm],
        ins=parts["ins"][perm],
        has_ben=g("has_ben", np.bool_),
        basis=g("basis", np.int8),
        ded_ctr=g("ded_ctr", np.int64),
        n_ctr=g("n_ctr", np.int64),
        ded_full=g("ded_full", np.int64),
        rep_id=g("rep_id", np.int64),
        ratio=g("ratio", np.int64),
        cap_ctr=g("cap_ctr", np.int64),
        cap=g("cap", np.int64),
        acct_ok=g("acct_ok", np.bool_),
        acct_in=g("acct_in", np.bool_),
        acct_out=g("acct_out", np.bool_),
        family=family[perm],
        slots=[],
        rules=rules,
        round_starts=round_starts.astype(np.int64),
    )
    for si, (_vi, layer) in enumerate(slot_defs):
        if not slot_term_lists[si]:
            continue
        static.slots.append(
            kernel.Slot(
                field=layer.field,
                over_cap=layer.base == "over_cap",
                include_pre=layer.include_preselfpay,
                counter=ctr(layer.counter),
                paid_counter=ctr(f"{layer.counter}:paid"),
                terms=tuple(kernel.Terms(t.deductible, t.bounds, t.cap) for t in slot_term_lists[si]),
                terms_idx=slot_terms[si][combo_idx],
            )
        )
    balances = np.zeros(n_persons, dtype=np.int64)
    balances[persons["psn_id"].to_numpy()] = persons["account_balance"].to_numpy()
    state = kernel.State(
        counters=np.zeros((max(len(ctr.ids), 1), len(uniq)), dtype=np.int64), balance=balances
    )
    out = kernel.run(static, state)

    # results stay in round order (no scatter back): consumers join on visit_id
    res: dict[str, Any] = {"visit_id": visit_ids[perm]}
    res.update(out.cols)
    full_, over_, pre_, ins_ = static.full, static.over, static.pre, static.ins
    res.update(
        medfee_sumamt=full_ + over_ + pre_ + ins_,
        fulamt_ownpay_amt=full_,
        overlmt_selfpay=over_,
        preselfpay_amt=pre_,
        inscp_scp_amt=ins_,
        hosp_part_amt=np.zeros(n_vis, dtype=np.int64),
    )
    frame = pl.DataFrame(res).select("visit_id", *MONEY_OUT, "pool_prop_selfpay")
    person_years = pl.DataFrame({"py": np.arange(len(uniq)), "psn_id": uniq // 64, "year": uniq % 64 + y0})
    return BatchResult(frame, dict(ctr.ids), person_years, state)


def _dense(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense rank of each key in ascending key order, index of the first occurrence of each rank) —
    ``np.unique(return_inverse, return_index)`` done with Polars' parallel rank."""
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    inv = pl.Series(key).rank("dense").to_numpy().astype(np.int64) - 1
    first = np.empty(int(inv.max()) + 1, dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv) - 1, -1, -1)
    return inv, first


def _factor(series: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their category names for a string column (categories sorted)."""
    cats = sorted(x for x in series.cast(pl.String).unique().to_list() if x is not None)
    if series.null_count():
        raise SettlementError(series.name, "has missing values", "missing")
    codes = series.cast(pl.String).cast(pl.Enum(cats)).to_physical().to_numpy().astype(np.int64)
    return codes, cats


def _align(sums: pl.DataFrame, visit_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-visit sums in the order of ``visit_ids`` (visits without lines get zeros)."""
    sid = sums["visit_id"].to_numpy()
    order = np.argsort(sid, kind="stable")
    sid = sid[order]
    where = np.searchsorted(sid, visit_ids)
    where_c = np.minimum(where, max(len(sid) - 1, 0))
    found = (where < len(sid)) & (sid[where_c] == visit_ids) if len(sid) else np.zeros(len(visit_ids), bool)
    out = {}
    for c in ("full", "over", "pre", "ins"):
        v = sums[c].to_numpy().astype(np.int64)[order] if len(sid) else np.zeros(0, dtype=np.int64)
        out[c] = np.where(found, v[where_c] if len(sid) else 0, 0).astype(np.int64)
    return out


def _version_index(days: np.ndarray, starts: list[dt.date], ends: list[dt.date]) -> np.ndarray:
    out = np.full(len(days), -1, dtype=np.int64)
    d = days.astype("datetime64[D]")
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        out[(d >= np.datetime64(a)) & (d <= np.datetime64(b))] = i
    return out


def _check_combo(policy: CompiledPolicy, row: dict[str, Any]) -> None:
    """The engine's input checks, once per combination (same fields, same reasons)."""
    pt = row["psn_type"]
    if pt not in policy.person_groups:
        raise SettlementError("person.psn_type", f"unknown person type {pt!r} in region {policy.admdvs}")
    if policy.person_scheme[pt] != row["insutype"]:
        raise SettlementError(
            "person.insutype", f"person type {pt!r} does not belong to scheme {row['insutype']!r}"
        )
    if row["med_type"] not in policy.visit_types:
        raise SettlementError("visit.med_type", f"unknown visit type {row['med_type']!r}")
    if row["hosp_lv"] not in policy.levels:
        raise SettlementError("visit.hosp_lv", f"unknown hospital level {row['hosp_lv']!r}")
    if row["loc_eff"] not in ("local", "remote_filed", "remote_unfiled"):
        raise SettlementError("visit.locality", f"unknown locality {row['loc_eff']!r}")


def _account(policy: CompiledPolicy, row: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(account pays on this visit, covers in-scope, covers out-of-scope) — the engine's step 4."""
    rule = policy.accounts.get(row["insutype"])
    if row["family"]:
        rule = policy.accounts.get(row["payer_insutype"] or row["insutype"])
        if rule is None or not rule.family_mutual_aid:
            raise SettlementError("visit.account_psn_no", "family mutual aid (家庭共济) is not allowed here")
        if not row["family_ok"]:
            raise SettlementError("visit.account_psn_no", "the payer is not a registered family member")
        active = True
    else:
        active = bool(row["use_account"]) and rule is not None
    if active and rule is not None and row["med_type"] in rule.visit_types:
        return True, rule.in_scope, rule.out_of_scope
    return False, False, False
