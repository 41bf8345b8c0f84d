"""Opening account balances in the journal: every person whose balance is not explained by the journal
gets an ``open`` row appended to their chain (the balance plus the account payments already recorded),
so that ``ledger verify`` can check every balance against the journal (yibao.ledger.verify).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Written out explicitly (the row hash included) so that it stays what it was when the live code changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _row_hash(prev: str, chain: str, seq: int, amount: int, at: str) -> str:
    body = json.dumps(
        [chain, seq, "", "", "open", "", "opening_balance", amount, at],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    acct = {
        r[0]: int(r[1])
        for r in bind.execute(
            sa.text("SELECT chain, SUM(amount) FROM journal WHERE kind = 'acct' GROUP BY chain")
        ).fetchall()
    }
    opened = {r[0] for r in bind.execute(sa.text("SELECT DISTINCT chain FROM journal WHERE kind = 'open'"))}
    people = bind.execute(
        sa.text("SELECT psn_no, account_balance, chain_seq, chain_hash FROM person")
    ).fetchall()
    for psn_no, balance, seq, head in people:
        opening = int(balance) + acct.get(psn_no, 0)
        if psn_no in opened or opening == 0:
            continue
        new_seq = int(seq) + 1
        h = _row_hash(head, psn_no, new_seq, opening, at)
        bind.execute(
            sa.text(
                "INSERT INTO journal (chain, seq, setl_id, msgid, kind, item, field, amount, created, "
                "prev_hash, hash) VALUES (:c, :s, '', '', 'open', '', 'opening_balance', :a, :at, :p, :h)"
            ),
            {"c": psn_no, "s": new_seq, "a": opening, "at": at, "p": head, "h": h},
        )
        bind.execute(
            sa.text("UPDATE person SET chain_seq = :s, chain_hash = :h WHERE psn_no = :c"),
            {"s": new_seq, "h": h, "c": psn_no},
        )


def downgrade() -> None:
    pass  # the rows are history; they stay
