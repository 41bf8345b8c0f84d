"""One partition of a Spark settlement: Arrow tables in, the batch kernel's result out.

Pure (no Spark, no I/O): every executor runs this on the rows of one partition, which holds whole
person components (persons linked by family-account payments), so a person-year never spans two
partitions.  The rules are not re-implemented: the partition is settled by
:func:`yibao.batch.settle_batch`, the same kernel as the single-machine batch.

A partition's visit rows carry their person's attributes (``psn_*``) and, when a family member's
account pays, the payer's (``payer_*``); the persons table is rebuilt from them with dense local
ids, so the kernel's per-person arrays are sized by the partition, not by the region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from yibao.batch import settle_batch
from yibao.batch.settle import MONEY_OUT
from yibao.policy.book import PolicyBook
from yibao.settlement.model import SettlementError

VISIT_COLS = (
    "visit_id",
    "seq",
    "mdtrt_id",
    "psn_id",
    "med_type",
    "hosp_lv",
    "begin_date",
    "locality",
    "emergency",
    "use_account",
    "account_payer_id",
)
ELIG_VISIT_COLS = ("elig_decision", "elig_account", "ci_uplift_fen", "ci_uplift_share", "reason_code")
"""The benefit check's visit columns (:data:`yibao.batch.settle.ELIG_COLS` and the reason), carried when
present: a region with enrolment data checks every visit the same way in every executor."""
PERSON_ATTRS = ("insutype", "psn_type", "identities", "family_payer_id", "account_balance")
LINE_COLS = ("visit_id", "feedetl_sn", "code", "qty", "price", "amount")
RESULT_COLS = ("visit_id", *MONEY_OUT, "pool_prop_selfpay")
ACC_COLS = ("psn_id", "year", "counter", "value")


def result_schema() -> pa.Schema:
    """The Arrow schema of a settled partition (one row per visit, every money field in fen)."""
    return pa.schema([(c, pa.int64()) for c in RESULT_COLS])


def accumulator_schema() -> pa.Schema:
    """The Arrow schema of a partition's closing accumulators (one row per non-zero counter)."""
    return pa.schema(
        [("psn_id", pa.int64()), ("year", pa.int32()), ("counter", pa.string()), ("value", pa.int64())]
    )


def _local_persons(v: pl.DataFrame) -> pl.DataFrame:
    own = v.select("psn_id", *(pl.col(f"psn_{a}").alias(a) for a in PERSON_ATTRS))
    payers = v.filter(pl.col("account_payer_id") >= 0).select(
        pl.col("account_payer_id").alias("psn_id"), *(pl.col(f"payer_{a}").alias(a) for a in PERSON_ATTRS)
    )
    persons = pl.concat([own, payers]).unique("psn_id", keep="first").sort("psn_id")
    missing = persons.filter(pl.col("insutype").is_null())
    if missing.height:
        raise SettlementError(
            "visit.psn_id",
            f"参保人不存在 refers to a person not in the persons table ({missing['psn_id'][0]})",
        )
    return persons


def _remap(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (person ids, −1 none) as positions in the sorted ``ids``; ids outside become −1."""
    pos = np.searchsorted(ids, values)
    pos_c = np.minimum(pos, max(len(ids) - 1, 0))
    found = (values >= 0) & (pos < len(ids)) & (ids[pos_c] == values) if len(ids) else values < -1
    return np.where(found, pos_c, -1).astype(np.int64)


def settle_partition(
    book: PolicyBook, visits: pa.Table, lines: pa.Table, *, accumulators: bool = False
) -> tuple[pa.Table, pa.Table | None]:
    """Settle one partition: ``visits`` (VISIT_COLS + ``psn_*`` + ``payer_*``) and their ``lines``.

    Returns (per-visit results with RESULT_COLS, closing accumulators with ACC_COLS when asked).
    Raises :class:`SettlementError` as the batch does, naming the field.
    """
    v = pl.from_arrow(visits)
    assert isinstance(v, pl.DataFrame)
    if v.height == 0:
        return result_schema().empty_table(), (accumulator_schema().empty_table() if accumulators else None)
    persons = _local_persons(v)
    ids = persons["psn_id"].to_numpy()
    local_persons = persons.with_columns(
        pl.Series("psn_id", np.arange(len(ids), dtype=np.int64)),
        pl.Series("family_payer_id", _remap(ids, persons["family_payer_id"].fill_null(-1).to_numpy())),
    )
    local_visits = v.select(*VISIT_COLS, *(c for c in ELIG_VISIT_COLS if c in v.columns)).with_columns(
        pl.Series("psn_id", _remap(ids, v["psn_id"].to_numpy())),
        pl.Series("account_payer_id", _remap(ids, v["account_payer_id"].fill_null(-1).to_numpy())),
    )
    ln = pl.from_arrow(lines) if lines.num_rows else None
    line_frame = (
        ln.select(*LINE_COLS)
        if isinstance(ln, pl.DataFrame)
        else pl.DataFrame(
            schema={
                "visit_id": pl.Int64,
                "feedetl_sn": pl.Int32,
                "code": pl.String,
                "qty": pl.Int64,
                "price": pl.Int64,
                "amount": pl.Int64,
            }
        )
    )
    opening = None
    if "psn_opening" in v.columns:
        o = (
            v.select("psn_id", "psn_opening")
            .unique("psn_id")
            .explode("psn_opening")
            .drop_nulls("psn_opening")
            .unnest("psn_opening")
        )
        opening = o.select(
            pl.Series("psn_id", _remap(ids, o["psn_id"].to_numpy())),
            pl.col("year").cast(pl.Int32),
            pl.col("counter").cast(pl.String),
            pl.col("value").cast(pl.Int64),
        )
    res = settle_batch(book, local_persons, local_visits, line_frame, opening)
    out = res.visits.select([pl.col(c).cast(pl.Int64) for c in RESULT_COLS]).to_arrow()
    if not accumulators:
        return out, None
    return out, _closing(res, ids)


def _closing(res: Any, ids: np.ndarray) -> pa.Table:
    """The batch state's non-zero counters as long rows keyed by the region's psn_id."""
    counters = res.state.counters
    names = sorted(res.counters, key=res.counters.get)
    py = res.person_years
    cid, pidx = np.nonzero(counters[: len(names)])
    psn_local = py["psn_id"].to_numpy()[pidx]
    return pa.table(
        {
            "psn_id": pa.array(ids[psn_local].astype(np.int64)),
            "year": pa.array(py["year"].to_numpy()[pidx].astype(np.int32)),
            "counter": pa.array([names[c] for c in cid], type=pa.string()),
            "value": pa.array(counters[cid, pidx].astype(np.int64)),
        },
        schema=accumulator_schema(),
    )
