"""Inject the scenarios into an already generated region, chunk by chunk (one Parquet row group each).

``yibao.synth.generate(..., inject=...)`` runs the same injectors inside generation.  This pass does
it afterwards, so one clean region can be measured with and without fraud, and so injectors that
add visits work whatever the generator's own bookkeeping expects.  It reads each chunk's persons,
visits and lines row group, shifts the chunk's visit ids by the visits added before it (ids stay
unique and in time order within the chunk), applies the injectors in order with a chunk rng drawn
from ``SeedSequence([seed, 5])`` and writes the files back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

import yibao.audit.scenarios  # noqa: F401  (registers the injectors)
from yibao.audit.scenarios.base import finish, frames
from yibao.errors import FieldError
from yibao.synth.generator import LINES_SCHEMA, VISITS_SCHEMA
from yibao.synth.inject import get_injector

SALT = 5  # keeps the injection stream apart from the generator's own child seeds


def _shift(tbl: pa.Table, col: str, offset: int) -> pa.Table:
    if offset == 0:
        return tbl
    i = tbl.schema.get_field_index(col)
    return tbl.set_column(i, col, pc.add(tbl.column(col), pa.scalar(offset, pa.int64())))


def inject_dir(region_dir: str | Path, names: Sequence[str], seed: int) -> dict[str, int]:
    """Apply the injectors ``names`` to the region in ``region_dir`` in place; returns the new row counts."""
    d = Path(region_dir)
    for f in ("persons", "visits", "lines"):
        if not (d / f"{f}.parquet").exists():
            raise FieldError(
                "region_dir",
                f"缺少数据文件，请先运行 yibao synth generate {d} has no {f}.parquet (run `yibao synth generate` first)",
            )
    injectors = [get_injector(n) for n in names]
    pf_p, pf_v, pf_l = (pq.ParquetFile(d / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    n = pf_v.num_row_groups
    if pf_p.num_row_groups != n or pf_l.num_row_groups != n:
        raise FieldError(
            "region_dir",
            "参保人、就诊和明细须按块一一对应 persons, visits and lines must have one row group per chunk",
        )
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, SALT]).spawn(n)]
    tmp_v, tmp_l = d / "visits.parquet.tmp", d / "lines.parquet.tmp"
    opts = {"compression": "zstd", "write_statistics": True}
    rows = {"visits": 0, "lines": 0}
    with (
        pq.ParquetWriter(tmp_v, VISITS_SCHEMA, **opts) as wv,
        pq.ParquetWriter(tmp_l, LINES_SCHEMA, **opts) as wl,
    ):
        for g in range(n):
            persons = pf_p.read_row_group(g)
            visits, lines = pf_v.read_row_group(g), pf_l.read_row_group(g)
            first = visits.column("visit_id")[0].as_py() if visits.num_rows else rows["visits"]
            offset = rows["visits"] - int(first)
            visits = _shift(_shift(visits, "visit_id", offset), "seq", offset)
            lines = _shift(lines, "visit_id", offset)
            for inj in injectors:
                visits, lines = inj(rngs[g], persons, visits, lines)
            visits, lines = finish(*frames(visits, lines), rows["visits"])  # mdtrt_id follows the shifted id
            wv.write_table(visits.cast(VISITS_SCHEMA), row_group_size=max(visits.num_rows, 1))
            wl.write_table(lines.cast(LINES_SCHEMA), row_group_size=max(lines.num_rows, 1))
            rows["visits"] += visits.num_rows
            rows["lines"] += lines.num_rows
    tmp_v.replace(d / "visits.parquet")
    tmp_l.replace(d / "lines.parquet")
    (d / "injected.json").write_text(
        json.dumps(
            {"inject": list(names), "seed": seed, "salt": SALT, "rows": rows}, ensure_ascii=False, indent=2
        ),
        encoding="utf-8",
    )
    return rows
