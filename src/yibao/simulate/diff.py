"""The differences between two region files' parameters, as (path, baseline, candidate) rows.

Both region models are walked as plain data (``model_dump``).  Lists of objects are keyed by their
``id`` / ``code`` or by the fields that identify a row (level, person type, locality, identities), so a
path reads like ``versions[2025].benefits[res-ip].deductible.amounts[level=1].amount`` rather than by
position.  Catalogue *file names* are not compared (two files may name the same CSV by different
relative paths); catalogue *contents* are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yibao.money import RATIO_ONE, fen_to_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.model import WILDCARD

_FEN_KEYS = {"amount", "floor", "deductible", "cap", "upto", "retiree_monthly"}
_RATIO_KEYS = {"ratio", "step", "in_service_rate", "remote_filed", "remote_unfiled", "schedule"}
_ROW_KEYS = ("scheme", "level", "person_type", "locality", "identities")
_SKIP = {"catalogue"}


@dataclass(frozen=True)
class Change:
    path: str
    baseline: Any
    candidate: Any

    @property
    def kind(self) -> str:
        """The parameter kind of the leaf: deductible / ratio / cap / other (for the narrative)."""
        p = self.path
        if ".deductible" in p or p.endswith("floor"):
            return "deductible"
        if p.endswith("ratio") or ".ratios" in p or ".segments" in p or "locality_adjustment" in p:
            return "ratio"
        if ".cap" in p or p.endswith("cap"):
            return "cap"
        return "other"

    @property
    def direction(self) -> int:
        """+1 raised, −1 lowered, 0 otherwise (non-numeric or added / removed)."""
        b, c = self.baseline, self.candidate
        if isinstance(b, int | float) and isinstance(c, int | float) and not isinstance(b, bool):
            return (c > b) - (c < b)
        if b is None and isinstance(c, int):  # cap removed → unlimited … treat null as ∞
            return -1 if self.kind == "cap" else 0
        if c is None and isinstance(b, int):
            return 1 if self.kind == "cap" else 0
        return 0


def _key(item: Any, i: int) -> str:
    if isinstance(item, dict):
        for k in ("id", "code"):
            if k in item and isinstance(item[k], str):
                return str(item[k])
        parts = []
        for k in _ROW_KEYS:
            if k in item and item[k] != WILDCARD:
                v = item[k]
                parts.append(f"{k}={'|'.join(v) if isinstance(v, list) else v}")
        if parts:
            return ",".join(parts)
    return str(i)


def _walk(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k in _SKIP:
                continue
            sub = f"{path}.{k}" if path else str(k)
            _walk(a.get(k), b.get(k), sub, out)
        return
    if isinstance(a, list) and isinstance(b, list) and not all(isinstance(x, int | str) for x in a + b):
        ka = {_key(x, i): x for i, x in enumerate(a)}
        kb = {_key(x, i): x for i, x in enumerate(b)}
        for k in list(ka) + [k for k in kb if k not in ka]:
            _walk(ka.get(k), kb.get(k), f"{path}[{k}]", out)
        return
    if a != b:
        out.append(Change(path, a, b))


def policy_diff(baseline: PolicyBook, candidate: PolicyBook) -> list[Change]:
    """Every changed leaf between the two regions' parameters, plus a catalogue-content summary."""
    out: list[Change] = []
    ra = baseline.loaded.region.model_dump(mode="json")
    rb = candidate.loaded.region.model_dump(mode="json")
    _walk(ra, rb, "", out)
    ca, cb = _catalogue_items(baseline), _catalogue_items(candidate)
    if ca != cb:
        changed = sum(1 for k in ca.keys() & cb.keys() if ca[k] != cb[k])
        out.append(
            Change(
                "catalogue(items)",
                f"{len(ca)} items",
                f"{len(cb)} items; {len(cb.keys() - ca.keys())} added, "
                f"{len(ca.keys() - cb.keys())} removed, {changed} changed",
            )
        )
    return out


def _catalogue_items(book: PolicyBook) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    loaded = book.loaded
    for v in loaded.region.versions:
        for code, item in loaded.catalogue_for(v).items():
            out[(v.id, code)] = item
    return out


def display(path: str, value: Any) -> str:
    """A leaf value for people: fen → 元, ratio units → %, null → 无 (none)."""
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    if value is None:
        return "无 none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and leaf in _FEN_KEYS:
        return f"{fen_to_yuan(value):,} 元"
    if isinstance(value, int) and leaf in _RATIO_KEYS:
        return f"{value * 100 / RATIO_ONE:g}%"
    if isinstance(value, list):
        if leaf in _RATIO_KEYS and all(isinstance(x, int) for x in value):
            return "[" + ", ".join(f"{x * 100 / RATIO_ONE:g}%" for x in value) + "]"
        return "[" + ", ".join(str(x) for x in value) + "]"
    if isinstance(value, dict):
        return "{…}"
    return str(value)


def as_rows(changes: list[Change]) -> list[dict[str, Any]]:
    """JSON rows: path, raw values (fen / ratio units), display strings, kind and direction."""
    return [
        {
            "path": c.path,
            "baseline": c.baseline,
            "candidate": c.candidate,
            "baseline_display": display(c.path, c.baseline),
            "candidate_display": display(c.path, c.candidate),
            "kind": c.kind,
            "direction": c.direction,
        }
        for c in changes
    ]
