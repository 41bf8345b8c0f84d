"""The hash-chained journal: row hashing and the chain check behind :meth:`Ledger.verify`.

Each person has one chain.  Row ``seq`` (1, 2, 3 … contiguous) stores ``prev_hash`` (the previous
row's ``hash``, or 64 zeros for the first row) and ``hash = sha256(prev_hash ‖ canonical(row))``, where
``canonical`` is the compact JSON array of the row's fields in a fixed order.  The person row keeps
the chain head (last ``seq`` and ``hash``), written in the same transaction as the rows.

What the check finds:

* an edited row — its recomputed hash differs from the stored one;
* an inserted row — a duplicate or out-of-order ``seq``, or a ``prev_hash`` that does not link;
* a deleted row — a gap in ``seq``, or a chain whose last row is not the head kept on the person row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

GENESIS = "0" * 64  # prev_hash of the first row of every chain

# journal columns in canonical order (``prev_hash`` and ``hash`` excluded)
FIELDS = ("chain", "seq", "setl_id", "msgid", "kind", "item", "field", "amount", "created")


def row_hash(
    prev_hash: str,
    chain: str,
    seq: int,
    setl_id: str,
    msgid: str,
    kind: str,
    item: str,
    field: str,
    amount: int,
    created: str,
) -> str:
    body = [chain, seq, setl_id, msgid, kind, item, field, amount, created]
    try:  # the standard library's compact JSON, byte for byte (orjson writes it several times faster)
        data = orjson.dumps(body)
    except orjson.JSONEncodeError:  # a lone surrogate: the standard writer decides
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(prev_hash.encode("utf-8") + data).hexdigest()


def root_digest(heads: Iterable[tuple[str, str]]) -> str:
    """sha256 over ``psn_no:hash`` lines of the non-empty chains, sorted by psn_no."""
    text = "\n".join(f"{psn}:{h}" for psn, h in sorted(heads))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class ChainCheck:
    """Streaming checker: feed journal rows ordered by (chain, seq), then call :meth:`finish`."""

    heads: dict[str, tuple[int, str]]  # psn_no -> (chain_seq, chain_hash) from the person rows
    problems: list[str]
    rows: int = 0
    _chain: str | None = None
    _seq: int = 0
    _hash: str = GENESIS
    _seen: set[str] | None = None

    def feed(self, row: Sequence[object]) -> None:
        """``row`` = (chain, seq, setl_id, msgid, kind, item, field, amount, created, prev_hash, hash)."""
        chain, seq, setl_id, msgid, kind, item, field, amount, created, prev_hash, stored = row
        assert isinstance(chain, str) and isinstance(seq, int) and isinstance(amount, int)
        self.rows += 1
        if chain != self._chain:
            self._close()
            self._chain, self._seq, self._hash = chain, 0, GENESIS
        key = f"journal[{chain}#{seq}]"
        if seq == self._seq:
            self.problems.append(f"{key}: duplicate seq (inserted row?)")
        elif seq != self._seq + 1:
            self.problems.append(
                f"{key}: seq gap after {self._seq} (rows {self._seq + 1}…{seq - 1} deleted?)"
            )
        if prev_hash != self._hash:
            self.problems.append(
                f"{key}: prev_hash does not link to the previous row (row inserted or deleted?)"
            )
        computed = row_hash(
            str(prev_hash),
            chain,
            seq,
            str(setl_id),
            str(msgid),
            str(kind),
            str(item),
            str(field),
            amount,
            str(created),
        )
        if computed != stored:
            self.problems.append(
                f"{key}: hash mismatch (row edited: stored {str(stored)[:12]}…, recomputed {computed[:12]}…)"
            )
        self._seq, self._hash = seq, str(stored)

    def _close(self) -> None:
        if self._chain is None:
            return
        if self._seen is None:
            self._seen = set()
        self._seen.add(self._chain)
        head = self.heads.get(self._chain)
        if head is None:
            self.problems.append(f"journal[{self._chain}]: chain has no person row")
        elif head != (self._seq, self._hash):
            self.problems.append(
                f"person[{self._chain}]: chain head is seq {head[0]} {head[1][:12]}… but the "
                f"last journal row is seq {self._seq} {self._hash[:12]}… (rows deleted or "
                "appended outside the ledger?)"
            )

    def finish(self) -> None:
        self._close()
        seen = self._seen or set()
        for psn, (seq, _h) in sorted(self.heads.items()):
            if seq and psn not in seen:
                self.problems.append(f"person[{psn}]: chain head is seq {seq} but the journal has no rows")
