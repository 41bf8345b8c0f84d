"""Use cases of the assessment, dependencies passed in: score a year and store it with every
institution's explanation; import a survey; file and decide appeals (see ``store``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from yibao.assess import indicators
from yibao.assess.core import InstitutionScore, score
from yibao.assess.params import AssessParams
from yibao.assess.store import AssessStore


def assess_year(
    store: AssessStore,
    p: AssessParams,
    year: int,
    institutions: pl.DataFrame,
    *,
    run_id: str,
    notified_on: dt.date,
    names: Mapping[str, str] | None = None,
    settled: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    lines: pl.DataFrame | None = None,
    kinds: Mapping[str, str] | None = None,
    drg_cases: pl.DataFrame | None = None,
    reconciliations: pl.DataFrame | None = None,
    inputs: pl.DataFrame | None = None,
    now: dt.datetime | None = None,
) -> tuple[pl.DataFrame, list[InstitutionScore]]:
    """Assemble the indicators (portal ratings, the imported survey of ``year``, the audit cases and the
    national interface's fee-line uploads read from the database; the year's 3201 / 3202 answers as handed
    in by :func:`yibao.usecases.reconciliation.reconciliations_of_year`), score, and store the run
    (notified on ``notified_on``: the appeal clock starts).  An explicit ``inputs`` value wins over a
    computed one."""
    audit = store.audit_cases()
    ratings = store.ratings()
    survey = store.survey(year)
    uploads = store.uploads(year, p.data_quality.upload_window_hours)
    frame = indicators.assemble(
        institutions,
        p,
        settled=settled,
        previous=previous,
        lines=lines,
        kinds=kinds,
        drg_cases=drg_cases,
        audit=audit,
        ratings=ratings,
        survey=survey,
        uploads=uploads,
        reconciliations=reconciliations,
        inputs=inputs,
    )
    scores = score(frame, p)
    available = {
        "settlements": settled is not None and settled.height > 0,
        "previous_year": previous is not None and previous.height > 0,
        "lines": lines is not None and lines.height > 0,
        "drg_cases": drg_cases is not None and drg_cases.height > 0,
        "audit_cases": audit is not None,
        "portal_ratings": ratings.height > 0,
        "survey": survey.height > 0,
        "encounter_uploads": uploads is not None,
        "reconciliations": reconciliations is not None and reconciliations.height > 0,
        "inputs": inputs is not None and inputs.height > 0,
    }
    store.save_run(
        run_id,
        year,
        frame,
        scores,
        p,
        notified_on=notified_on,
        names=dict(names or {}),
        inputs=available,
        now=now,
    )
    return frame, scores
