"""Batch settlement of visit and line tables (the synth Parquet schema, docs/SYNTH.md).

``settle_batch`` returns one row per visit with the 2207 money fields, in fen, plus the final
accumulators.  Static parameters (which benefit, ratio, deductible, caps, layers, account rule) are
resolved once per distinct combination of visit attributes with the same compiled-policy lookups the
engine uses; only the accumulator-dependent arithmetic runs in the vectorised kernel.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from yibao.batch import kernel
from yibao.batch.lines import catalogue_frame, split_lines, split_lines_fast, visit_sums
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.engine import check_attributes
from yibao.settlement.model import CommercialProduct, SettlementError

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


ELIG_COLS = {
    "elig_decision": pl.Int8,  # 0 settle, 1 fully self-paid (no fund pays), 2 refused (not settled)
    "elig_account": pl.Boolean,  # the personal account may pay on a self-paid visit
    "ci_uplift_fen": pl.Int64,  # critical-illness cap uplift (国办发〔2024〕38号 continuity incentives)
    "ci_uplift_share": pl.Int32,  # its limit as a share of the original cap, 1/10000
}
"""Optional visit columns carrying the benefit check's answer (:mod:`yibao.batch.eligibility`); without
them no check is made (a region without enrolment data)."""
SETTLE, SELF_PAY, REFUSE = 0, 1, 2
KERNEL_PARTS = 2
"""The kernel settles the visits in this many parts side by side, in threads (numpy lets go of the
interpreter lock in its array loops): two, for a two-core machine."""
REFUSED_SCHEMA = {"visit_id": pl.Int64, "mdtrt_id": pl.String, "psn_id": pl.Int64, "reason_code": pl.String,
                  "reason_zh": pl.String}  # fmt: skip


OPENING_SCHEMA = {"psn_id": pl.Int64, "year": pl.Int32, "counter": pl.String, "value": pl.Int64}
"""Accumulators at the start of the period: one row per (person, year, counter), as the ledger keeps them."""


@dataclass
class BatchResult:
    visits: pl.DataFrame  # visit_id + MONEY_OUT + pool_prop_selfpay; row order unspecified, join on visit_id
    counters: dict[str, int]  # counter name → id
    person_years: pl.DataFrame  # py index → psn_id, year
    state: kernel.State
    refused: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REFUSED_SCHEMA))
    """visits the benefit check refused (not settled, not in ``visits``), with the reason"""

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

    def closing(self) -> pl.DataFrame:
        """Every person-year's non-zero accumulators after the batch (OPENING_SCHEMA): the opening of
        the period that follows."""
        names = sorted(self.counters, key=self.counters.__getitem__)
        cid, py = np.nonzero(self.state.counters[: len(names)])
        return pl.DataFrame(
            {
                "psn_id": self.person_years["psn_id"].to_numpy()[py],
                "year": self.person_years["year"].to_numpy()[py],
                "counter": [names[c] for c in cid],
                "value": self.state.counters[cid, py],
            },
            schema=OPENING_SCHEMA,
        )


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
    book: PolicyBook,
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    lines: pl.DataFrame | pl.LazyFrame,
    opening: pl.DataFrame | None = None,
    products: Mapping[str, CommercialProduct] | None = None,
) -> BatchResult:
    """Settle ``visits`` (with their ``lines``) of ``persons`` in time order (begin_date, seq).

    ``opening`` (OPENING_SCHEMA) holds accumulators at the start of the period — a region that starts
    mid-year, or the rest of a year re-settled: each visit then sees them as the engine sees the
    ledger's accumulator row (a deductible already met is not charged again).

    The steps: find each visit's policy version; split the lines and sum them per visit; order the visits
    by family-account component, then in time; read the persons' attributes; resolve the static
    parameters once per distinct combination of attributes; arrange the visits in rounds (one visit per
    family-account component per round); run the accumulator kernel round by round; return the result
    frame.

    When ``visits`` carry the benefit check's columns (:data:`ELIG_COLS`, from
    :func:`yibao.batch.eligibility.attach_eligibility`), refused visits are left out and listed in
    ``BatchResult.refused``; self-paid ones settle with no fund paying; the continuity uplift raises the
    critical-illness layer's cap — as :func:`yibao.settlement.engine.settle_visit` does with an
    :class:`~yibao.settlement.model.Entitlement`.

    When ``visits`` carry a ``commercial_product`` column (the id, in ``products``, of the commercial product
    that covers the visit — the first the person holds whose scenes and conditions match, as
    :meth:`~yibao.settlement.model.CommercialProduct.applies` decides; null or "" when none), the product
    pays after the public layers and before the account (医保+商保一单制) as the engine does with ``covers``,
    and the result carries ``commercial_pay``.
    """
    with _small_pages():
        return _settle_batch(book, persons, visits, lines, opening, products)


_PAGES_LOCK = threading.Lock()
_pages_users: list[bool] = []  # one entry per settlement running; the first holds numpy's setting before


@contextmanager
def _small_pages() -> Iterator[None]:
    """numpy asks the kernel for transparent huge pages for every array of 4 MB or more (``madvise``).  A
    batch allocates many such arrays once each and touches them once; on a busy machine the kernel's work
    to find and clear 2 MB pages cost more system time than the rest of the settlement took in user time.
    So the batch allocates ordinary pages, and the last settlement to finish restores numpy's setting
    (settlements may run in several threads at once); a numpy without the switch is left as it is."""
    switch = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if switch is None:
        yield
        return
    with _PAGES_LOCK:
        was = bool(switch(False))
        _pages_users.append(was if not _pages_users else _pages_users[0])
    try:
        yield
    finally:
        with _PAGES_LOCK:
            before = _pages_users.pop()
            if not _pages_users:
                switch(before)


def _settle_batch(
    book: PolicyBook,
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    lines: pl.DataFrame | pl.LazyFrame,
    opening: pl.DataFrame | None,
    products: Mapping[str, CommercialProduct] | None,
) -> BatchResult:
    if book.by_discharge:
        raise SettlementError(
            "region.settlement_date",
            "批量结算按入院日期定年度，本统筹区按出院日期定年度，请逐笔结算 "
            "the batch settles by admission date; this region takes the year from the discharge date",
            "unsupported",
        )
    refused = pl.DataFrame(schema=REFUSED_SCHEMA)
    if "elig_decision" in visits.columns:
        gone = visits["elig_decision"] == REFUSE
        if gone.any():
            r = visits.filter(gone)
            refused = r.select(
                pl.col("visit_id").cast(pl.Int64),
                pl.col("mdtrt_id").cast(pl.String),
                pl.col("psn_id").cast(pl.Int64),
                (pl.col("reason_code") if "reason_code" in r.columns else pl.lit("")).cast(pl.String),
                (pl.col("reason_zh") if "reason_zh" in r.columns else pl.lit("")).cast(pl.String),
            )
            visits = visits.filter(~gone)
            keep = visits.select("visit_id")
            if isinstance(lines, pl.LazyFrame):
                lines = lines.join(keep.lazy(), on="visit_id", how="semi")
            else:
                lines = lines.join(keep, on="visit_id", how="semi")
    versions = _Versions.of(book)
    dated = _dates(book, visits, versions)
    # the line stage needs only each visit's policy version: it runs in a thread of its own from the start,
    # while this one puts the visits in settlement order, reads the persons' attributes and resolves the
    # static parameters, and a third thread arranges the rounds (the three share the two cores)
    with ThreadPoolExecutor(2) as pool:
        line_stage = pool.submit(_line_stage, book, lines, versions, dated)
        try:
            n_persons = int(persons["psn_id"].max()) + 1  # type: ignore[arg-type]
            psn_rows = visits["psn_id"].to_numpy().astype(np.int64, copy=False)
            payer_rows = visits["account_payer_id"].to_numpy().astype(np.int64, copy=False)
            _check_known(psn_rows, payer_rows, n_persons)
            comp_rows = _components(psn_rows, payer_rows, n_persons)[psn_rows]
            order = _settlement_order(dated, comp_rows)
            rounds = pool.submit(_rounds_in_order, comp_rows[order], KERNEL_PARTS)
            # the attributes, the static parameters and the person-years per visit row, as given (no
            # reordering of the columns); the round order picks from them once, in ``table.static``
            who = _Attributes.of(persons, visits, psn_rows, payer_rows)  # checks every person is known
            table = _static_parameters(versions, dated.ver_of, who)
            py, uniq = _person_years(psn_rows, dated.years)
            perm, round_starts, part_rounds = rounds.result()
            rows = order[perm]  # the visit row of each visit, in round order
            static = table.static(py, who, rows, round_starts)
        except BaseException:
            line_stage.result()  # a line's error is reported first, as when the stages ran one by one
            raise
        parts = line_stage.result()
    static.full, static.over, static.pre, static.ins = (
        parts[c][rows] for c in ("full", "over", "pre", "ins")
    )
    static.part_rounds = part_rounds
    if "elig_decision" in visits.columns:
        _apply_eligibility(static, visits, rows, who.family[rows])
    with_commercial = "commercial_product" in visits.columns
    if with_commercial:
        _apply_commercial(static, visits, rows, products or {}, table.ctr)
    balances = np.zeros(who.n_persons, dtype=np.int64)
    balances[persons["psn_id"].to_numpy()] = persons["account_balance"].to_numpy()
    names = _opening_counters(opening, table.ctr)
    # person-year-major (kernel.State): a person-year's counters side by side in memory
    state = kernel.State(
        counters=np.zeros((len(uniq), max(len(table.ctr.ids), 1)), dtype=np.int64).T, balance=balances
    )
    if opening is not None and opening.height:
        _apply_opening(state.counters, opening, names, uniq, dated.years)
    out = kernel.run(static, state)
    frame = _result_frame(dated.visit_ids[rows], static, out, with_commercial)
    y0 = int(dated.years.min()) if len(dated.years) else 0
    person_years = pl.DataFrame({"py": np.arange(len(uniq)), "psn_id": uniq // 64, "year": uniq % 64 + y0})
    return BatchResult(frame, dict(table.ctr.ids), person_years, state, refused)


def _apply_eligibility(
    static: kernel.Static, visits: pl.DataFrame, rows: np.ndarray, family: np.ndarray
) -> None:
    """The engine's entitlement step on the kernel's inputs (round order; ``rows`` the visit row of each):
    a self-paid visit has no benefit and no layer, and its own account pays only when usable; the
    continuity uplift per visit for the critical-illness layer."""
    decision = visits["elig_decision"].fill_null(SETTLE).to_numpy()[rows]
    selfpay = decision == SELF_PAY
    if selfpay.any():
        static.has_ben[selfpay] = False
        for slot in static.slots:
            slot.terms_idx[selfpay] = -1
        usable = (
            visits["elig_account"].fill_null(True).to_numpy()[rows]
            if "elig_account" in visits.columns
            else True
        )
        static.acct_ok[selfpay & ~family & ~usable] = False
    if "ci_uplift_fen" in visits.columns:
        static.ci_uplift = visits["ci_uplift_fen"].fill_null(0).to_numpy().astype(np.int64)[rows]
        static.ci_share = (
            visits["ci_uplift_share"].fill_null(0).to_numpy().astype(np.int64)[rows]
            if "ci_uplift_share" in visits.columns
            else np.zeros(len(rows), dtype=np.int64)
        )


def _apply_commercial(
    static: kernel.Static,
    visits: pl.DataFrame,
    rows: np.ndarray,
    products: Mapping[str, CommercialProduct],
    ctr: _Counters,
) -> None:
    """Which product pays on each visit (round order; ``rows`` the visit row of each), and its terms with
    counter ids for its yearly deductible and payments (named as the engine names them)."""
    names = visits["commercial_product"].cast(pl.String).fill_null("").to_numpy()[rows]
    used = sorted({str(x) for x in names if x})
    unknown = [x for x in used if x not in products]
    if unknown:
        raise SettlementError(
            "visit.commercial_product",
            f"未知商保产品 {unknown[0]!r} unknown commercial product",
            "unknown_product",
        )
    index = {name: k for k, name in enumerate(used)}
    static.com_idx = np.array([index[str(x)] if x else -1 for x in names], dtype=np.int64)
    static.com_terms = tuple(
        kernel.ComTerms(
            p.ratio,
            p.deductible,
            p.per_claim_cap,
            p.annual_cap,
            p.out_of_scope,
            ctr(p.paid_counter),
            ctr(p.deductible_counter),
        )
        for p in (products[name] for name in used)
    )


def _opening_counters(opening: pl.DataFrame | None, ctr: _Counters) -> dict[str, int]:
    """Give every opening counter an id (so one no visit touches is still carried to the closing state)."""
    if opening is None or opening.height == 0:
        return dict(ctr.ids)
    for col in OPENING_SCHEMA:
        if col not in opening.columns:
            raise SettlementError(f"opening.{col}", "期初累计缺少列 column missing", "missing")
    if opening["value"].null_count() or (opening["value"] < 0).any():
        raise SettlementError("opening.value", "期初累计须为非负整数 must be a non-negative integer")
    for name in sorted(opening["counter"].unique().to_list()):
        ctr(name)
    return dict(ctr.ids)


def _apply_opening(
    counters: np.ndarray, opening: pl.DataFrame, names: dict[str, int], uniq: np.ndarray, years: np.ndarray
) -> None:
    """Add the opening rows of the person-years in this batch to the state (others are not settled here)."""
    y0 = int(years.min()) if len(years) else 0
    o = opening.filter((pl.col("year") >= y0) & (pl.col("year") < y0 + 64))
    key = o["psn_id"].to_numpy().astype(np.int64) * 64 + (o["year"].to_numpy().astype(np.int64) - y0)
    at = np.searchsorted(uniq, key)
    at_c = np.minimum(at, max(len(uniq) - 1, 0))
    hit = (at < len(uniq)) & (uniq[at_c] == key) if len(uniq) else np.zeros(len(key), dtype=bool)
    cid = np.array([names[c] for c in o["counter"].to_list()], dtype=np.int64)
    np.add.at(counters, (cid[hit], at_c[hit]), o["value"].to_numpy().astype(np.int64)[hit])


@dataclass(frozen=True)
class _Versions:
    """The region's policy versions in date order, each compiled, and their catalogues as one frame."""

    versions: list[Any]
    policies: list[CompiledPolicy]
    catalogue_ids: dict[str, int]  # catalogue name -> id in ``frame``
    frame: pl.DataFrame
    book: PolicyBook

    @classmethod
    def of(cls, book: PolicyBook) -> _Versions:
        loaded = book.loaded
        versions = sorted(loaded.region.versions, key=lambda v: v.effective_from)
        policies = [book.for_date(v.effective_from) for v in versions]
        catalogue_ids: dict[str, int] = {}
        for v in versions:
            catalogue_ids.setdefault(v.catalogue or loaded.region.catalogue, len(catalogue_ids))
        frame = catalogue_frame({cid: loaded.catalogues[name] for name, cid in catalogue_ids.items()})
        return cls(versions, policies, catalogue_ids, frame, book)

    def catalogue_of(self, v: Any) -> str:
        return str(v.catalogue or self.book.loaded.region.catalogue)


@dataclass(frozen=True)
class _Dates:
    """Per visit row (as given): its day, the policy version in force on it and its accumulator year."""

    days: np.ndarray  # days since 1970-01-01
    seq: np.ndarray
    ver_of: np.ndarray
    years: np.ndarray
    visit_ids: np.ndarray


def _dates(book: PolicyBook, visits: pl.DataFrame, vs: _Versions) -> _Dates:
    """Each visit's policy version by its begin date; a visit outside every version is refused (the first
    such in time order is named)."""
    days = visits["begin_date"].to_numpy().astype("datetime64[D]")
    seq = visits["seq"].to_numpy()
    ver_of = _version_index(
        days, [v.effective_from for v in vs.versions], [v.effective_to for v in vs.versions]
    )
    dint = days.astype(np.int64, copy=False)
    if (ver_of < 0).any():
        bad = np.flatnonzero(ver_of < 0)
        k = int(bad[np.lexsort((seq[bad], dint[bad]))[0]])
        raise SettlementError(
            "visit.begin_date",
            f"就诊日期 {days[k]}（就诊 {visits['mdtrt_id'][k]}）不在统筹区 {book.admdvs} 任何政策版本的"
            "有效期内 is outside every policy version of the region",
            "no_policy",
        )
    years = _years(dint)
    return _Dates(dint, seq, ver_of, years, visits["visit_id"].to_numpy())


def _settlement_order(dated: _Dates, comp: np.ndarray) -> np.ndarray:
    """The visit rows ordered by family-account component (``comp``, per visit row), then in time order
    (begin date, then seq, then as listed): each component's visits in the order the engine settles them,
    the components one after another — so the rounds need no other sort, and a round visits its persons
    in ascending order (the kernel's reads and writes walk the accumulators forwards)."""
    n_vis = len(comp)
    dint, seq = dated.days, dated.seq
    if n_vis == 0:
        return np.zeros(0, dtype=np.int64)
    d0 = int(dint.min())
    bits_d = (int(dint.max()) - d0).bit_length()
    bits_s = int(seq.max()).bit_length()
    if int(seq.min()) >= 0 and int(comp.max()).bit_length() + bits_d + bits_s <= 62:
        key = (comp << (bits_d + bits_s)) | ((dint - d0) << bits_s) | seq  # one int64 key, same order
        if bool(np.all(key[1:] >= key[:-1])):
            return np.arange(n_vis)
        keys, by = pl.DataFrame({"k": key}), ["k"]
    else:
        keys, by = pl.DataFrame({"c": comp, "d": dint, "s": seq}), ["c", "d", "s"]
    # a stable sort, in Polars' threads
    order = keys.select(pl.arg_sort_by(by, maintain_order=True)).to_series().to_numpy()
    return order.astype(np.int64)


def _check_known(psn: np.ndarray, payer: np.ndarray, n_persons: int) -> None:
    """Every visit's person and account payer (−1: own account) is an id of the persons table's range."""
    if len(psn) and (psn.min() < 0 or psn.max() >= n_persons):
        raise SettlementError(
            "visit.psn_id", "人员表中没有该人员 refers to a person not in the persons table", "unknown_person"
        )
    if len(payer) and payer.max() >= n_persons:
        raise SettlementError(
            "visit.account_payer_id",
            "人员表中没有该付款人 the account payer is not in the persons table",
            "unknown_person",
        )


def _line_stage(
    book: PolicyBook, lines: pl.DataFrame | pl.LazyFrame, vs: _Versions, dated: _Dates
) -> dict[str, np.ndarray]:
    """Every line split into its four parts and summed per visit, one value per visit row (as given)."""
    loaded = book.loaded
    sums: pl.DataFrame | None = None
    if len(vs.catalogue_ids) == 1 and isinstance(lines, pl.DataFrame):
        sums = split_lines_fast(lines, loaded.catalogues[next(iter(vs.catalogue_ids))])
    if sums is None:  # several catalogues, a lazy frame, or an unknown code to report
        cat_of_ver = np.array([vs.catalogue_ids[vs.catalogue_of(v)] for v in vs.versions], dtype=np.int32)
        visit_cat = pl.DataFrame({"visit_id": dated.visit_ids, "cat_id": cat_of_ver[dated.ver_of]})
        as_text = lines.lazy().with_columns(pl.col("code").cast(pl.String))  # the catalogue frame's type
        split = split_lines(as_text, visit_cat.lazy(), vs.frame)
        sums = visit_sums(split).collect()
        if not sums["all_known"].all():
            bad_line = split.filter(~pl.col("known")).head(1).collect().row(0, named=True)
            raise SettlementError(
                "lines.code",
                f"目录中没有该项目编码 {bad_line['code']!r}（就诊 {bad_line['visit_id']}，明细 "
                f"{bad_line['feedetl_sn']}） unknown item code",
                "unknown_item",
            )
    return _align(sums, dated.visit_ids)


@dataclass(frozen=True)
class _Attributes:
    """Persons' and visits' attributes as integer codes, one per visit row as given (``*_cats`` name the codes)."""

    n_persons: int
    psn: np.ndarray
    payer: np.ndarray
    family: np.ndarray
    family_ok: np.ndarray
    scheme: np.ndarray
    ptype: np.ndarray
    ident: np.ndarray
    payer_scheme: np.ndarray
    med: np.ndarray
    lv: np.ndarray
    loc: np.ndarray
    use_acct: np.ndarray
    scheme_cats: list[str]
    ptype_cats: list[str]
    ident_cats: list[str]
    med_cats: list[str]
    lv_cats: list[str]
    loc_names: list[str]

    @classmethod
    def of(
        cls, persons: pl.DataFrame, visits: pl.DataFrame, psn: np.ndarray, payer: np.ndarray
    ) -> _Attributes:
        """``psn`` and ``payer``: each visit's person and account payer (−1: own account), per visit row."""
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
        if len(psn) and (psn.min() < 0 or psn.max() >= n_persons or (p_scheme[psn] < 0).any()):
            raise SettlementError(
                "visit.psn_id",
                "人员表中没有该人员 refers to a person not in the persons table",
                "unknown_person",
            )
        family = (payer >= 0) & (payer != psn)
        med_codes, med_cats = _factor(visits["med_type"])
        lv_codes, lv_cats = _factor(visits["hosp_lv"])
        loc_codes, loc_cats = _factor(visits["locality"])
        emergency = visits["emergency"].to_numpy()
        loc = loc_codes
        # 异地急诊抢救 is treated as filed (the engine's rule), folded into an effective locality code
        unfiled = loc_cats.index("remote_unfiled") if "remote_unfiled" in loc_cats else -1
        filed = loc_cats.index("remote_filed") if "remote_filed" in loc_cats else len(loc_cats)
        return cls(
            n_persons=n_persons,
            psn=psn,
            payer=payer,
            family=family,
            family_ok=np.where(family, p_fam[psn] == payer, True),
            scheme=p_scheme[psn],
            ptype=p_ptype[psn],
            ident=p_ident[psn],
            payer_scheme=np.where(payer >= 0, p_scheme[np.maximum(payer, 0)], -1),
            med=med_codes,
            lv=lv_codes,
            loc=np.where((loc == unfiled) & emergency, filed, loc),
            use_acct=visits["use_account"].to_numpy(),
            scheme_cats=scheme_cats,
            ptype_cats=ptype_cats,
            ident_cats=ident_cats,
            med_cats=med_cats,
            lv_cats=lv_cats,
            loc_names=[*loc_cats, "remote_filed"],
        )


_BENEFIT_COLUMNS = ("has_ben", "basis", "ded_ctr", "n_ctr", "ded_full", "rep_id", "ratio", "cap_ctr", "cap")
_NO_BENEFIT = {"has_ben": False, "basis": 0, "ded_ctr": -1, "n_ctr": -1, "ded_full": 0, "rep_id": -1, "ratio": 0,
               "cap_ctr": 0, "cap": kernel.NO_CAP}  # fmt: skip
_BASIS_CODE = {"none": 0, "per_year": 1, "per_admission": 2}


@dataclass
class _StaticTable:
    """The static parameters per distinct combination of attributes (``combo``), and the layer slots."""

    combo_idx: np.ndarray  # combination of each visit (per visit row)
    cols: dict[str, list[Any]]  # parameter -> value per combination
    slot_defs: list[tuple[int, Any]]  # (version index, CompiledLayer) in file order
    slot_terms: list[np.ndarray]  # per slot: terms index per combination (-1: the layer does not apply)
    slot_term_lists: list[list[Any]]
    rules: list[kernel.RepeatRule]
    ctr: _Counters

    def static(
        self,
        py: np.ndarray,
        who: _Attributes,
        rows: np.ndarray,
        round_starts: np.ndarray,
    ) -> kernel.Static:
        """The kernel's per-visit inputs, in round order (``rows``: the visit row of each), but for the money
        of the lines."""
        combo = self.combo_idx[rows]
        no_lines_yet = np.zeros(0, dtype=np.int64)

        def g(name: str, dtype: Any) -> Any:
            return np.asarray(self.cols[name], dtype=dtype)[combo]

        static = kernel.Static(
            py=py.astype(np.int64, copy=False)[rows],
            acct=np.where(who.payer >= 0, who.payer, who.psn)[rows],
            full=no_lines_yet,  # the line stage's sums, set when it has finished
            over=no_lines_yet,
            pre=no_lines_yet,
            ins=no_lines_yet,
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
            family=who.family[rows],
            slots=[],
            rules=self.rules,
            round_starts=round_starts.astype(np.int64, copy=False),
        )
        for si, (_vi, layer) in enumerate(self.slot_defs):
            if not self.slot_term_lists[si]:
                continue
            static.slots.append(
                kernel.Slot(
                    field=layer.field,
                    over_cap=layer.base == "over_cap",
                    include_pre=layer.include_preselfpay,
                    exclude_dedc=layer.exclude_basic_deductible,
                    counter=self.ctr(layer.counter),
                    paid_counter=self.ctr(f"{layer.counter}:paid"),
                    terms=tuple(
                        kernel.Terms(t.deductible, t.bounds, t.cap) for t in self.slot_term_lists[si]
                    ),
                    terms_idx=self.slot_terms[si][combo],
                )
            )
        return static


def _static_parameters(vs: _Versions, ver_of: np.ndarray, who: _Attributes) -> _StaticTable:
    """Resolve benefit, ratio, deductible, caps, layers and account rule once per distinct combination of
    visit attributes, with the compiled-policy lookups the engine uses."""
    fields = [ver_of, who.scheme, who.ptype, who.med, who.lv, who.loc, who.ident, who.use_acct, who.family,
              who.payer_scheme + 1, who.family_ok]  # fmt: skip
    key = np.zeros(len(ver_of), dtype=np.int64)
    for f in fields:  # in place: no fresh memory per field
        key *= int(f.max()) + 1 if len(f) else 1
        key += f
    combo_idx, first_idx = _dense(key)
    slot_defs: list[tuple[int, Any]] = []
    for vi, v in enumerate(vs.versions):
        by_id = {lay.id: lay for key_layers in vs.policies[vi].layers.values() for lay in key_layers}
        slot_defs.extend((vi, by_id[layer.id]) for layer in v.layers)
    table = _StaticTable(
        combo_idx=combo_idx,
        cols={k: [] for k in (*_BENEFIT_COLUMNS, "acct_ok", "acct_in", "acct_out")},
        slot_defs=slot_defs,
        slot_terms=[np.full(len(first_idx), -1, dtype=np.int16) for _ in slot_defs],
        slot_term_lists=[[] for _ in slot_defs],
        rules=[],
        ctr=_Counters(),
    )
    rule_ids: dict[tuple[Any, ...], int] = {}
    for c, i in enumerate(first_idx):
        row = _combo_row(who, int(i), int(ver_of[i]))
        policy = vs.policies[row["ver"]]
        check_attributes(
            policy, row["insutype"], row["psn_type"], row["med_type"], row["hosp_lv"], row["loc_eff"]
        )
        for k, val in _benefit_parameters(policy, row, table, rule_ids).items():
            table.cols[k].append(val)
        idents = frozenset(x for x in (row["identities"] or "").split("|") if x)
        applicable = {lay.id for lay in policy.layers.get((row["insutype"], row["med_type"]), ())}
        for si, (vi, layer) in enumerate(slot_defs):
            if vi != row["ver"] or layer.id not in applicable:
                continue
            terms = layer.terms_for(idents)
            if terms is None:
                continue
            tl = table.slot_term_lists[si]
            if terms not in tl:
                tl.append(terms)
            table.slot_terms[si][c] = tl.index(terms)
        ok, a_in, a_out = _account(policy, row)
        table.cols["acct_ok"].append(ok)
        table.cols["acct_in"].append(a_in)
        table.cols["acct_out"].append(a_out)
    return table


def _combo_row(who: _Attributes, i: int, ver: int) -> dict[str, Any]:
    """The attributes of visit ``i`` (visit row) by name."""
    ps = who.payer_scheme[i]
    return {
        "ver": ver,
        "insutype": who.scheme_cats[who.scheme[i]],
        "psn_type": who.ptype_cats[who.ptype[i]],
        "med_type": who.med_cats[who.med[i]],
        "hosp_lv": who.lv_cats[who.lv[i]],
        "loc_eff": who.loc_names[who.loc[i]],
        "identities": who.ident_cats[who.ident[i]],
        "use_account": bool(who.use_acct[i]),
        "family": bool(who.family[i]),
        "payer_insutype": who.scheme_cats[ps] if ps >= 0 else None,
        "family_ok": bool(who.family_ok[i]),
    }


def _benefit_parameters(
    policy: CompiledPolicy, row: dict[str, Any], table: _StaticTable, rule_ids: dict[tuple[Any, ...], int]
) -> dict[str, Any]:
    """The basic pooled fund's parameters for one combination (the engine's basic-fund step)."""
    ben = policy.benefits.get((row["insutype"], row["med_type"]))
    if ben is None:
        return _NO_BENEFIT
    ctr = table.ctr
    if row["loc_eff"] in ben.refused:
        raise SettlementError(
            "visit.locality",
            f"{policy.region_name}不直接结算该就医地类别 {row['loc_eff']} locality not settled directly",
            "locality_refused",
        )
    rk = (ben.repeat_schedule, ben.repeat_step, ben.repeat_floor, ben.repeat_compound)
    rep_id = -1
    if ben.basis == "per_admission" and (rk[0] is not None or rk[1] is not None or rk[3] is not None):
        if rk not in rule_ids:
            rule_ids[rk] = len(table.rules)
            table.rules.append(kernel.RepeatRule(*rk))
        rep_id = rule_ids[rk]
    cap = ben.cap_by_person_type.get(row["psn_type"], ben.cap) if ben.cap_by_person_type else ben.cap
    return {
        "has_ben": True,
        "basis": _BASIS_CODE[ben.basis],
        "ded_ctr": ctr(ben.counter) if ben.basis != "none" else -1,
        "n_ctr": ctr(f"{ben.counter}:n") if ben.basis == "per_admission" else -1,
        "ded_full": ben.deductible.get((row["hosp_lv"], row["psn_type"]), 0),
        "rep_id": rep_id,
        "ratio": ben.ratio[(row["hosp_lv"], row["psn_type"], row["loc_eff"])],
        "cap_ctr": ctr(ben.cap_counter),
        "cap": kernel.NO_CAP if cap is None else cap,
    }


def _rounds(
    psn: np.ndarray, payer: np.ndarray, n_persons: int, parts: int = 1
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """:func:`_rounds_in_order` for visits given in time order (``psn`` and ``payer`` per visit): the
    permutation it returns indexes these visits."""
    comp = _components(psn, payer, n_persons)[psn]
    order = np.argsort(comp, kind="stable")
    perm, round_starts, part_rounds = _rounds_in_order(comp[order], parts)
    return order[perm], round_starts, part_rounds


def _rounds_in_order(comp: np.ndarray, parts: int = 1) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(permutation into round order, start of each round, first round of each part) for visits in
    settlement order (``comp``: each one's family-account component, the components one after another,
    each one's visits in time order): round r of a part holds every one of the part's components' r-th
    visit, so no two visits of a round share a person or an account.  The components are dealt into
    ``parts`` parts that share nothing (no person-year, no account), so the kernel may settle the parts
    side by side.  Within a round the visits keep the settlement order."""
    n_vis = len(comp)
    if n_vis == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), (0, 0)
    # each visit's rank within its component: its position less the position of the component's first
    first = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
    rank_np = np.arange(n_vis) - np.repeat(first, np.diff(np.r_[first, n_vis]))
    n_rank = int(rank_np.max()) + 1
    part = comp % parts if parts > 1 else np.zeros(n_vis, dtype=np.int64)
    key = part * n_rank + rank_np
    # keys are small: a stable sort on a narrow integer type is a radix sort
    perm = np.argsort(key.astype(np.int16 if parts * n_rank < 2**15 else np.int64), kind="stable")
    sorted_key = key[perm]
    round_starts = np.concatenate(([0], np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1, [n_vis]))
    # a round is one key (part, rank); parts follow one another
    rounds_per_part = np.bincount(sorted_key[round_starts[:-1]] // n_rank, minlength=parts)
    return perm, round_starts.astype(np.int64), tuple(int(x) for x in np.r_[0, np.cumsum(rounds_per_part)])


def _person_years(psn: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense person-year index per visit, the person-year keys ``psn_id * 64 + (year - first year)``)."""
    y0 = int(years.min()) if len(years) else 0
    n_years = int(years.max()) - y0 + 1 if len(years) else 1
    py, py_first = _dense(psn * n_years + (years - y0))  # same order as the keys, a narrower range
    return py, psn[py_first] * 64 + (years[py_first] - y0)


def _result_frame(
    visit_ids: np.ndarray, static: kernel.Static, out: Any, with_commercial: bool = False
) -> pl.DataFrame:
    """One row per visit (round order; consumers join on visit_id) with the 2207 money fields (and
    ``commercial_pay`` when commercial covers were given)."""
    res: dict[str, Any] = {"visit_id": visit_ids}
    res.update(out.cols)
    full_, over_, pre_, ins_ = static.full, static.over, static.pre, static.ins
    res.update(
        medfee_sumamt=full_ + over_ + pre_ + ins_,
        fulamt_ownpay_amt=full_,
        overlmt_selfpay=over_,
        preselfpay_amt=pre_,
        inscp_scp_amt=ins_,
        hosp_part_amt=np.zeros(len(visit_ids), dtype=np.int64),
    )
    extra = ("commercial_pay",) if with_commercial else ()
    return pl.DataFrame(res).select("visit_id", *MONEY_OUT, "pool_prop_selfpay", *extra)


def _dense(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense rank of each key in ascending key order, index of the first occurrence of each rank) —
    ``np.unique(return_inverse, return_index)``, by a table of the keys when their range is narrow (person
    ids, attribute combinations) and by Polars' parallel rank otherwise."""
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, high = int(key.min()), int(key.max())
    if high - low < 4 * len(key) + (1 << 20):  # a narrow range of keys: a table of them, no sort
        seen = np.zeros(high - low + 1, dtype=bool)
        seen[key - low] = True
        inv = (np.cumsum(seen) - 1)[key - low]
    else:
        inv = pl.Series(key).rank("dense").to_numpy().astype(np.int64) - 1
    first = np.empty(int(inv.max()) + 1, dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv) - 1, -1, -1)
    return inv, first


def _factor(series: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their category names for a string column (categories sorted)."""
    cats = sorted(x for x in series.cast(pl.String).unique().to_list() if x is not None)
    if series.null_count():
        raise SettlementError(series.name, "存在空值 has missing values", "missing")
    codes = series.cast(pl.String).cast(pl.Enum(cats)).to_physical().to_numpy().astype(np.int64)
    return codes, cats


def _align(sums: pl.DataFrame, visit_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-visit sums, one per visit row (``visit_ids`` as given; visits without lines get zeros)."""
    sid = sums["visit_id"].to_numpy()
    if np.array_equal(sid, visit_ids):  # every visit has lines, listed as the visits are
        return {c: sums[c].to_numpy().astype(np.int64, copy=False) for c in ("full", "over", "pre", "ins")}
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
    d = days.astype("datetime64[D]").astype(np.int64, copy=False)  # days since 1970-01-01, no copy
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        lo, hi = (int(np.datetime64(x, "D").astype(np.int64)) for x in (a, b))
        out[(d >= lo) & (d <= hi)] = i
    return out


def _years(days: np.ndarray) -> np.ndarray:
    """The calendar year of each day (days since 1970-01-01): by the first days of the few years the
    days span, not a calendar conversion per day."""
    if len(days) == 0:
        return np.zeros(0, dtype=np.int64)
    first, last = (int(np.datetime64(int(x), "D").astype("datetime64[Y]").astype(np.int64)) + 1970
                   for x in (days.min(), days.max()))  # fmt: skip
    if first == last:
        return np.full(len(days), first, dtype=np.int64)
    starts = np.array([np.datetime64(f"{y}-01-01", "D").astype(np.int64) for y in range(first + 1, last + 1)])
    return np.searchsorted(starts, days, side="right").astype(np.int64) + first


def _account(policy: CompiledPolicy, row: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(account pays on this visit, covers in-scope, covers out-of-scope) — the engine's step 4."""
    rule = policy.accounts.get(row["insutype"])
    if row["family"]:
        rule = policy.accounts.get(row["payer_insutype"] or row["insutype"])
        if rule is None or not rule.family_mutual_aid:
            raise SettlementError(
                "visit.account_psn_no", "此处不允许家庭共济 family mutual aid (家庭共济) is not allowed here"
            )
        if not row["family_ok"]:
            raise SettlementError(
                "visit.account_psn_no", "付款人不是登记的家庭成员 the payer is not a registered family member"
            )
        active = True
    else:
        active = bool(row["use_account"]) and rule is not None
    if active and rule is not None and row["med_type"] in rule.visit_types:
        return True, rule.in_scope, rule.out_of_scope
    return False, False, False
