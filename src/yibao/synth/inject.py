"""The fraud / waste / abuse hook.

An injector is any callable ``(rng, persons, visits, lines) -> (visits, lines)`` working on one
chunk's Arrow tables.  It may add, change or drop rows, and must label every visit and line it touches
by setting the ``scenario`` column to its name (clean rows keep ``scenario`` null).  It must keep the
invariants the schema promises: ``feedetl_sn`` 1..n within a visit, ``n_lines`` equal to the visit's
line count, ``amount = round_half_up(price × qty / 10000)``, codes from the catalogue.

Injectors are registered by name (:func:`register_injector`) and chosen with ``generate(...,
inject=("duplicate_charging",))`` or ``yibao synth generate --inject duplicate_charging``.  The
smart-audit capability defines the real scenario set; ``duplicate_charging`` is the worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

Injector = Callable[[np.random.Generator, pa.Table, pa.Table, pa.Table], tuple[pa.Table, pa.Table]]

_REGISTRY: dict[str, Injector] = {}


def register_injector(name: str, injector: Injector) -> None:
    """Register (or replace) an injector under ``name``."""
    _REGISTRY[name] = injector


def get_injector(name: str) -> Injector:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"未知的注入场景 unknown injector {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def injector_names() -> list[str]:
    return sorted(_REGISTRY)


def label(column: pa.ChunkedArray | pa.Array, mask: np.ndarray, name: str) -> pa.Array:
    """``column`` with ``name`` written where ``mask`` is true (other values kept)."""
    return pc.if_else(pa.array(mask), pa.scalar(name, pa.string()), column)


@dataclass(frozen=True)
class DuplicateCharging:
    """重复收费: a service line billed twice in a visit.  Picks ``rate`` of the visits that have a
    service line, appends a copy of one of those lines (new ``feedetl_sn``) and labels both the visit
    and the copy."""

    service_codes: frozenset[str] = frozenset()  # empty: any code not starting with X/Z/T/C (drug, material)
    rate: float = 0.001
    name: str = "duplicate_charging"

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        codes = lines.column("code").to_numpy(zero_copy_only=False).astype(str)
        if self.service_codes:
            is_svc = np.isin(codes, np.array(sorted(self.service_codes)))
        else:
            first = np.char.str_len(codes) > 0
            is_svc = first & ~np.isin(np.char.ljust(codes, 1).astype("<U1"), np.array(["X", "Z", "T", "C"]))
        if not is_svc.any():
            return visits, lines
        line_vid = lines.column("visit_id").to_numpy()
        cand_idx = np.flatnonzero(is_svc)
        # one candidate line per visit: the first service line
        _, first_pos = np.unique(line_vid[cand_idx], return_index=True)
        cand_idx = cand_idx[first_pos]
        pick = cand_idx[rng.random(cand_idx.size) < self.rate]
        if pick.size == 0:
            return visits, lines
        vids = line_vid[pick]
        visit_ids = visits.column("visit_id").to_numpy()
        n_lines = visits.column("n_lines").to_numpy().astype(np.int64)
        vpos = (
            np.searchsorted(visit_ids, vids)
            if np.all(np.diff(visit_ids) > 0)
            else np.array([int(np.flatnonzero(visit_ids == v)[0]) for v in vids], dtype=np.int64)
        )
        dup = lines.take(pa.array(pick))
        dup = dup.set_column(
            dup.schema.get_field_index("feedetl_sn"),
            "feedetl_sn",
            pa.array((n_lines[vpos] + 1).astype(np.int32)),
        )
        dup = dup.set_column(
            dup.schema.get_field_index("scenario"), "scenario", pa.array([self.name] * pick.size, pa.string())
        )
        new_n = n_lines.copy()
        new_n[vpos] += 1
        vmask = np.zeros(visit_ids.size, dtype=bool)
        vmask[vpos] = True
        visits = visits.set_column(
            visits.schema.get_field_index("n_lines"), "n_lines", pa.array(new_n.astype(np.int16))
        )
        visits = visits.set_column(
            visits.schema.get_field_index("scenario"),
            "scenario",
            label(visits.column("scenario"), vmask, self.name),
        )
        merged = pa.concat_tables([lines, dup])
        order = np.lexsort((merged.column("feedetl_sn").to_numpy(), merged.column("visit_id").to_numpy()))
        # keep the visits' original order of appearance in the file
        vorder = {int(v): i for i, v in enumerate(visit_ids)} if not np.all(np.diff(visit_ids) > 0) else None
        if vorder is not None:
            rank = np.array([vorder[int(v)] for v in merged.column("visit_id").to_numpy()])
            order = np.lexsort((merged.column("feedetl_sn").to_numpy(), rank))
        return visits, merged.take(pa.array(order))


register_injector("duplicate_charging", DuplicateCharging())
