"""Anchors: the journal's root digest at a moment, exported to a file kept outside the database (or
published), and checked later.

A journal edited and then re-hashed forward (every later row and the chain head recomputed) passes the
chain check, because the chain is internally consistent again.  It cannot pass an anchor: the anchor
holds the digest of every chain's head *as of its moment*, recomputed later from the rows created up to
that moment; a re-hashed row changes it.  Rows only ever append, so the digest as of a past moment does
not change while the ledger keeps settling.

``at`` is the export time minus :data:`SETTLE_MARGIN`, so a transaction that took its timestamp before
``at`` has committed by the time the anchor is read (no false alarm from a commit in flight).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass

from yibao.db.connection import Connection

SETTLE_MARGIN = dt.timedelta(minutes=1)
FORMAT = "yibao-ledger-anchor/1"


@dataclass(frozen=True)
class Anchor:
    """``root``: sha256 over the sorted ``chain:seq:hash`` heads of the journal rows created at or before
    ``at`` (UTC ISO-8601); ``rows`` / ``chains``: how many rows and chains that covers."""

    at: str
    root: str
    rows: int
    chains: int
    exported: str
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Anchor:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ValueError(f"不是账本锚点文件 not a ledger anchor file (format {doc.get('format')!r})")
        return cls(**{k: doc[k] for k in ("at", "root", "rows", "chains", "exported", "format")})


@dataclass(frozen=True)
class AnchorCheck:
    ok: bool
    anchor: Anchor
    root_now: str
    rows_now: int
    chains_now: int

    @property
    def problem(self) -> str | None:
        if self.ok:
            return None
        return (
            f"锚点不符 the journal as of {self.anchor.at} no longer matches its anchor: root "
            f"{self.root_now[:16]}… (anchored {self.anchor.root[:16]}…), {self.rows_now} rows "
            f"(anchored {self.anchor.rows}), {self.chains_now} chains (anchored {self.anchor.chains}) — "
            "rows before the anchor were edited, re-hashed, inserted or deleted"
        )


def root_as_of(conn: Connection, at: str) -> tuple[str, int, int]:
    """(root, rows, chains) of the journal rows created at or before ``at``, in one snapshot."""
    conn.begin_snapshot()
    try:
        sql = "SELECT chain, seq, hash FROM journal WHERE created <= %s ORDER BY chain, seq"
        if conn.pg:
            cur = conn.raw.cursor(name="yibao_anchor_journal")
            cur.itersize = 10_000
            cur.execute(sql, (at,))
        else:
            cur = conn.execute(sql, (at,))
        h = hashlib.sha256()
        rows = chains = 0
        last: tuple[str, int, str] | None = None
        for chain, seq, hsh in cur:
            rows += 1
            if last is not None and last[0] != chain:
                h.update(f"{last[0]}:{last[1]}:{last[2]}\n".encode())
                chains += 1
            last = (str(chain), int(seq), str(hsh))
        if last is not None:
            h.update(f"{last[0]}:{last[1]}:{last[2]}\n".encode())
            chains += 1
        cur.close()
    finally:
        conn.rollback()
    return h.hexdigest(), rows, chains


def export(conn: Connection, now: dt.datetime | None = None) -> Anchor:
    """The anchor of the journal as of now minus :data:`SETTLE_MARGIN`."""
    now = now or dt.datetime.now(dt.UTC)
    at = (now - SETTLE_MARGIN).isoformat(timespec="microseconds")
    root, rows, chains = root_as_of(conn, at)
    return Anchor(at, root, rows, chains, now.isoformat(timespec="seconds"))


def check(conn: Connection, anchor: Anchor) -> AnchorCheck:
    """Recompute the digest as of the anchor's moment from today's journal and compare."""
    root, rows, chains = root_as_of(conn, anchor.at)
    ok = (root, rows, chains) == (anchor.root, anchor.rows, anchor.chains)
    return AnchorCheck(ok, anchor, root, rows, chains)
