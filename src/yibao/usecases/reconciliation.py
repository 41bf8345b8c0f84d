"""Reconciliation outcomes for the institution assessment: the national interface's 3201 / 3202 answers
that the encounter capability keeps, read through its store and handed to the assessment as a frame
(:data:`yibao.assess.indicators.RECONCILIATION_SCHEMA`), so the assessment reads no table of another
capability for them."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from yibao.encounter.core import Reconciliation
from yibao.encounter.store import EncounterStore

SCHEMA: dict[str, type[pl.DataType]] = {
    "fixmedins_code": pl.String,
    "infno": pl.String,
    "begndate": pl.String,
    "enddate": pl.String,
    "insutype": pl.String,
    "clr_type": pl.String,
    "at": pl.String,
    "agreed": pl.Boolean,
    "rows_checked": pl.Int64,
    "unmatched": pl.Int64,
}


def frame(recons: list[Reconciliation], order: list[str] | None = None) -> pl.DataFrame:
    """One row per outcome, in the order given (``order``: the time of each, oldest first)."""
    at = order or [f"{i:012d}" for i in range(len(recons))]
    return pl.DataFrame(
        [
            (
                r.fixmedins_code,
                r.infno,
                r.begndate,
                r.enddate,
                r.insutype,
                r.clr_type,
                t,
                r.agreed,
                r.rows_checked,
                len(r.unmatched),
            )
            for r, t in zip(recons, at, strict=True)
        ],
        schema=SCHEMA,
        orient="row",
    )


def reconciliations_of_year(engine: sa.Engine, year: int) -> pl.DataFrame | None:
    """The 3201 / 3202 outcomes whose period ends in ``year`` (Beijing dates), oldest first; None when
    the database has no reconciliation table or none that year."""
    if not sa.inspect(engine).has_table("enc_reconciliation"):
        return None
    st = EncounterStore(engine)
    rows = st.reconciliations(ended_from=f"{year:04d}-01-01", ended_to=f"{year:04d}-12-31")
    return frame(rows) if rows else None
