"""The assessment's tables (SQLAlchemy Core; Alembic branch ``assess``, revision 0602).

* ``assess_run`` / ``assess_score`` — a year's assessment: per institution the indicator values it was
  scored on, the score, the release share of the withheld deposit, the satisfaction coefficient and the
  explanation sent to it (``notified_on`` starts its appeal clock); ``version`` rises on a re-score.
* ``assess_survey`` — third-party satisfaction surveys imported from CSV (per institution: respondents,
  satisfied), one row per (year, institution, surveyor).
* ``assess_appeal`` / ``assess_appeal_event`` — appeals and every step of them (who, when, role, note).

Scores in 1/100 point, ratios 1/10000, dates ISO text, timestamps ISO text (UTC)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from yibao.db import metadata

assess_run = Table(
    "assess_run",
    metadata,
    Column("run_id", String(80), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("notified_on", String(10), nullable=False),
    Column("institutions", Integer, nullable=False),
    Column("inputs", Text, nullable=False),  # JSON: which inputs were available
)

assess_score = Table(
    "assess_score",
    metadata,
    Column("run_id", String(80), ForeignKey("assess_run.run_id"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("level", String(8), nullable=False),
    Column("score_x100", Integer, nullable=False),
    Column("release_ratio", Integer, nullable=False),
    Column("coefficient", Integer, nullable=False),
    Column("satisfaction", Integer, nullable=True),
    Column("values", Text, nullable=False),  # JSON {indicator: value | null, samples…}
    Column("detail", Text, nullable=False),  # JSON: dimensions and indicator points
    Column("explanation", Text, nullable=False),  # JSON {"zh": [...], "en": [...]}
    Column("version", Integer, nullable=False),
)

assess_survey = Table(
    "assess_survey",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("surveyor", String(100), primary_key=True),
    Column("respondents", Integer, nullable=False),
    Column("satisfied", Integer, nullable=False),
    Column("imported_at", String(40), nullable=False),
    Column("file", String(300), nullable=False),
)

assess_appeal = Table(
    "assess_appeal",
    metadata,
    Column("appeal_id", String(40), primary_key=True),
    Column("run_id", String(80), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filed_on", String(10), nullable=False),
    Column("filed_by", String(100), nullable=False),
    Column("decide_by", String(10), nullable=False),
    Column("decided_at", String(40), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("revised_value", BigInteger, nullable=True),
    Column("score_before", Integer, nullable=False),
    Column("score_after", Integer, nullable=True),
    Index("ix_assess_appeal_inst", "run_id", "fixmedins_code"),
)

assess_appeal_event = Table(
    "assess_appeal_event",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("appeal_id", String(40), ForeignKey("assess_appeal.appeal_id"), nullable=False),
    Column("at", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Index("ix_assess_appeal_event_appeal", "appeal_id", "id"),
)
