"""Batch settlement: a year of visits settled in time order per person, vectorised.

Same semantics as :func:`yibao.settlement.engine.settle_visit`, to the fen (property and full-year
tests prove it).  The line stage is a Polars join; the visit stage is a numpy kernel that runs in
*rounds*: round r settles, for every independent group of persons at once, that group's r-th visit.
"""

from yibao.batch.settle import BatchResult, settle_batch

__all__ = ["BatchResult", "settle_batch"]
