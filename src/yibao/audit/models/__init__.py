"""Anomaly models of the audit: what rules cannot catch (provider peers, patient patterns, networks, a forest).

``run_models(persons, visits, lines, settled=None, groups=None)`` returns one flag frame in the shared
flag schema (``source = "model"``, ``rule_class = "模型"``).  Every flag names its features and the peers
it was compared with (``reason_zh`` / ``reason_en`` and JSON ``evidence``) and the amount at stake
(the fund payment of the visit when ``settled`` is given, else the billed amount; a line's share of it
for line-level flags).  Thresholds are in ``params.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from yibao.audit.detectors import MODEL_CODES
from yibao.audit.flags import FLAG_SCHEMA, conform, empty_flags
from yibao.audit.knowledge import Knowledge, load_knowledge
from yibao.audit.models import exams, iforest, network, patient, peer
from yibao.audit.models.features import Params, line_frame, load_params, visit_frame


def run_models(
    persons: pl.DataFrame | None,
    visits: pl.DataFrame,
    lines: pl.DataFrame,
    settled: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    *,
    institutions: pl.DataFrame | None = None,
    params: Params | str | Path | None = None,
    only: set[str] | None = None,
    session_prefixes: Sequence[str] | None = None,
    regimens: pl.DataFrame | None = None,
    session_diagnoses: Sequence[str] | None = None,
) -> pl.DataFrame:
    """All anomaly models over a period's claims → flags (one row per suspect visit or line per model).

    ``institutions`` (fixmedins_code, kind) sharpens the peer groups (hospital vs primary vs internet);
    ``only`` restricts the run to some model codes (MX-PAT-002 also yields MX-PAT-003);
    ``session_prefixes``: item code prefixes whose outpatient visits are the sessions of a course (the
    knowledge table ``course_markers``, match ``session``; default: the EXAMPLE tables');
    ``regimens``: (drug_prefix, session_prefix) — drugs given within a course (:func:`course_regimens`);
    ``session_diagnoses``: principal-diagnosis prefixes whose visits are a scheduled course's sessions.
    """
    p = params if isinstance(params, dict) else load_params(params)
    if session_prefixes is None or regimens is None or session_diagnoses is None:
        example = load_knowledge()
        session_prefixes = course_sessions(example) if session_prefixes is None else session_prefixes
        regimens = course_regimens(example) if regimens is None else regimens
        session_diagnoses = (
            course_sessions(example, "session_diagnosis") if session_diagnoses is None else session_diagnoses
        )
    lx = line_frame(lines)
    v = visit_frame(
        visits, lx, settled, groups, institutions, session_prefixes, p["peers"], session_diagnoses
    )
    shared: dict[str, pl.DataFrame] = {}

    def dl() -> pl.DataFrame:  # the drug lines with their visit columns, built on first use
        if "dl" not in shared:
            shared["dl"] = patient.drug_lines(v, lx)
        return shared["dl"]

    def sig() -> pl.DataFrame:  # the bill signatures of MX-PEER-006 and -007, built on first use
        if "sig" not in shared:
            shared["sig"] = peer.visit_signatures(v, lx)
        return shared["sig"]

    models: dict[str, Callable[[], pl.DataFrame]] = {
        "MX-PEER-001": lambda: peer.cost_outliers(v, p),
        "MX-PEER-002": lambda: peer.drug_share_outliers(v, p),
        "MX-PEER-003": lambda: peer.los_outliers(v, p),
        "MX-PEER-004": lambda: peer.repeat_visits(v, p),
        "MX-PEER-005": lambda: peer.code_mix(v, lx, p),
        "MX-PEER-006": lambda: peer.bill_templates(v, lx, p, sig()),
        "MX-PEER-007": lambda: peer.physician_templates(v, lx, p, sig()),
        "MX-PEER-008": lambda: exams.rare_exams(v, lx, p),
        "MX-PAT-002": lambda: patient.shopping(v, dl(), p),  # also MX-PAT-003
        "MX-PAT-004": lambda: patient.early_refills(
            dl(), p, patient.regimen_pairs(v, dl(), lx, regimens, int(p["refill"]["course_min_sessions"]))
        ),
        "MX-PAT-005": lambda: patient.excess_quantity(dl(), p),
        "MX-NET-001": lambda: network.co_visit_rings(v, persons, p),
        "MX-IF-001": lambda: iforest.isolation_forest(v, p),
    }
    out = [fn() for code, fn in models.items() if only is None or code in only]
    return conform(pl.concat([empty_flags(), *out])) if out else empty_flags()


def course_sessions(knowledge: Knowledge, match: str = "session") -> tuple[str, ...]:
    """The prefixes of ``course_markers`` rows with match ``session`` (item codes) or ``session_diagnosis``
    (principal diagnoses of a scheduled course's visits)."""
    km = knowledge.course_markers
    return tuple(km.filter(pl.col("match") == match)["prefix"].to_list())


def course_regimens(knowledge: Knowledge) -> pl.DataFrame:
    """(drug_prefix, session_prefix): the drugs of ``course_markers`` rows with match ``regimen`` paired with
    the session items of the same course (a drug given within a course, at the course's rhythm)."""
    km = knowledge.course_markers
    drugs = km.filter(pl.col("match") == "regimen").select(pl.col("prefix").alias("drug_prefix"), "course")
    sessions = km.filter(pl.col("match") == "session").select(
        pl.col("prefix").alias("session_prefix"), "course"
    )
    return drugs.join(sessions, on="course").select("drug_prefix", "session_prefix")


__all__ = ["FLAG_SCHEMA", "MODEL_CODES", "course_regimens", "course_sessions", "run_models"]
