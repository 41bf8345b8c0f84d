"""The benefit check (待遇享受检查) for a batch of visits: the enrolment statuses checked on each visit's
begin date (:func:`yibao.enrolment.check.check_frame`, identical to the real-time check row by row) and
turned into the columns :func:`yibao.batch.settle_batch` reads (:data:`yibao.batch.settle.ELIG_COLS`).

The decision per visit is the real-time one (:func:`yibao.usecases.eligibility.decide`): covered → settle
with the continuity uplift; not covered but settled fully self-paid by policy, or the personal account still
usable → self-paid; otherwise refused.  A region without enrolment data is not checked: call
:func:`attach_eligibility` only when the region has enrolment statuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from yibao.batch.settle import ELIG_COLS, REFUSE, SELF_PAY, SETTLE
from yibao.enrolment.check import check_frame, status_frame
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.enrolment.store import statuses_from_frames
from yibao.policy.loader import LoadedRegion


def attach_eligibility(
    visits: pl.DataFrame, persons: pl.DataFrame, statuses: pl.DataFrame, account_only_types: Iterable[str]
) -> pl.DataFrame:
    """``visits`` (the synth schema: ``psn_id``, ``begin_date``, ``med_type``) with :data:`ELIG_COLS` and the
    reason (``reason_code``, ``reason_zh``) appended.  ``persons`` maps ``psn_id`` to ``psn_no``;
    ``statuses`` is a :func:`yibao.enrolment.check.status_frame`.  A person without a ``psn_no`` or
    without a status is not enrolled."""
    keyed = visits.select(
        pl.col("psn_id"), pl.col("begin_date").alias("visit_date"), pl.col("med_type")
    ).join(persons.select("psn_id", "psn_no"), on="psn_id", how="left", maintain_order="left")
    checked = check_frame(
        keyed.select(pl.col("psn_no").fill_null(""), "visit_date", "med_type"), statuses, account_only_types
    )
    decision = (
        pl.when(pl.col("covered"))
        .then(pl.lit(SETTLE))
        .when(pl.col("self_pay_instead") | pl.col("account_usable"))
        .then(pl.lit(SELF_PAY))
        .otherwise(pl.lit(REFUSE))
    )
    cols = checked.select(
        decision.cast(ELIG_COLS["elig_decision"]).alias("elig_decision"),
        pl.col("account_usable").alias("elig_account"),
        pl.when(pl.col("covered"))
        .then(pl.col("ci_cap_uplift_fen"))
        .otherwise(0)
        .cast(pl.Int64)
        .alias("ci_uplift_fen"),
        pl.when(pl.col("covered"))
        .then(pl.col("ci_uplift_max_share"))
        .otherwise(0)
        .cast(pl.Int32)
        .alias("ci_uplift_share"),
        pl.col("reason_code"),
        pl.col("reason_zh"),
    )
    return pl.concat([visits.drop([c for c in cols.columns if c in visits.columns]), cols], how="horizontal")


ENROLMENT_FILES = ("enrol_persons", "enrol_events", "resident_premiums", "employee_contributions")


def region_statuses(directory: str | Path, policy: EnrolmentPolicy) -> pl.DataFrame | None:
    """The :func:`~yibao.enrolment.check.status_frame` of a generated (or exported) region's enrolment files
    (``yibao.synth.enrolment``); None when the directory has none (a region without enrolment data)."""
    d = Path(directory)
    if not all((d / f"{name}.parquet").exists() for name in ENROLMENT_FILES):
        return None
    frames = {
        "persons": pl.read_parquet(d / "enrol_persons.parquet"),
        "events": pl.read_parquet(d / "enrol_events.parquet"),
        "premiums": pl.read_parquet(d / "resident_premiums.parquet"),
        "contributions": pl.read_parquet(d / "employee_contributions.parquet"),
    }
    return status_frame(statuses_from_frames(frames, policy))


def with_region_eligibility(
    directory: str | Path, loaded_region: LoadedRegion, visits: pl.DataFrame
) -> pl.DataFrame:
    """``visits`` of a generated region with the benefit check's columns when the region has an enrolment
    file and the directory enrolment data; unchanged otherwise (today's behaviour)."""
    if not all((Path(directory) / f"{name}.parquet").exists() for name in ENROLMENT_FILES):
        return visits  # no enrolment data: nothing to check against
    policy = policy_for_region(loaded_region)
    if policy is None:
        return visits
    statuses = region_statuses(directory, policy)
    if statuses is None:
        return visits
    persons = pl.read_parquet(Path(directory) / "persons.parquet", columns=["psn_id", "psn_no"])
    return attach_eligibility(visits, persons, statuses, policy.account_only_med_types)
