"""The consultation tables (SQLAlchemy Core), created by migration ``1520`` on the ``pages`` branch.

* ``consult_consultation`` — a draft policy put to the public (征求意见稿): its text, the simulated impact
  (JSON, :class:`yibao.consult.impact.Impact`), the opinion period, and the published result.
* ``consult_opinion`` — an opinion from a logged-in person, with its public author label and, when
  hidden by moderation, the reason; ``theme_id`` once the bureau has grouped it.
* ``consult_theme`` — a theme the bureau groups opinions into, with its answer (采纳 / 部分采纳 / 未采纳).
* ``consult_hearing`` — a hearing (听证会): date, place, participants, observers, what was said.
* ``consult_event`` — every act of the bureau and every moderation, with who and when.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from yibao.db import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

consult_consultation = Table(
    "consult_consultation",
    metadata,
    Column("consult_id", String(40), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # draft / open / closed / withdrawn
    Column("created_at", String(40), nullable=False),  # ISO timestamps, UTC
    Column("created_by", String(40), nullable=False),
    Column("published_at", String(40)),
    Column("deadline", String(40)),  # the end of the opinion period (24:00 Beijing time of its last day)
    Column("period_days", Integer),
    Column("short_reason", Text, nullable=False, server_default=""),  # why the period is shorter
    Column("impact", Text),  # JSON of the simulated impact
    Column("impact_note", Text, nullable=False, server_default=""),  # which simulation it comes from
    Column("result", Text, nullable=False, server_default=""),  # 采纳情况说明, once closed
    Column("closed_at", String(40)),
    Column("withdrawn_reason", Text, nullable=False, server_default=""),
    Index("ix_consult_status", "status", "published_at"),
)

consult_opinion = Table(
    "consult_opinion",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("consult_id", String(40), nullable=False),
    Column("author_id", String(40), nullable=False),  # app_user.user_id, never shown
    Column("author_role", String(16), nullable=False),
    Column("author_zh", String(200), nullable=False),  # the public label (masked name or role)
    Column("author_en", String(200), nullable=False),
    Column("about", String(200), nullable=False, server_default=""),  # the part of the draft it is about
    Column("body", Text, nullable=False),
    Column("at", String(40), nullable=False),
    Column("hidden_reason", Text),  # moderation: hidden with this reason
    Column("hidden_at", String(40)),
    Column("theme_id", _ID),
    Index("ix_consult_opinion_consult", "consult_id", "id"),
)

consult_theme = Table(
    "consult_theme",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("consult_id", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("decision", String(16)),  # adopted / partly / not_adopted once answered
    Column("response", Text, nullable=False, server_default=""),
    Column("answered_at", String(40)),
    Column("created_at", String(40), nullable=False),
    Index("ix_consult_theme_consult", "consult_id", "id"),
)

consult_hearing = Table(
    "consult_hearing",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("consult_id", String(40), nullable=False),
    Column("held_on", String(10), nullable=False),  # ISO date, Beijing
    Column("place", String(200), nullable=False),
    Column("participants", Text, nullable=False),  # JSON list of names with their capacity
    Column("observers", Text, nullable=False),  # JSON list
    Column("summary", Text, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Index("ix_consult_hearing_consult", "consult_id", "id"),
)

consult_event = Table(
    "consult_event",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("consult_id", String(40), nullable=False),
    Column("at", String(40), nullable=False),
    Column("actor_id", String(40), nullable=False),
    Column("action", String(24), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Index("ix_consult_event_consult", "consult_id", "id"),
)
