"""Read a synthetic (or exported) region's Parquet files for batch settlement."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def data_dir(path: str | Path) -> Path:
    """Accept the directory or its visits.parquet; return the directory holding the three files."""
    p = Path(path)
    d = p.parent if p.suffix == ".parquet" else p
    for name in ("persons.parquet", "visits.parquet", "lines.parquet"):
        if not (d / name).exists():
            raise FileNotFoundError(
                f"缺少数据文件 {d / name} is missing (expected the output of `yibao synth generate`)"
            )
    return d


def read_inputs(path: str | Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(persons, visits, lines) with only the columns settlement reads."""
    d = data_dir(path)
    persons = pl.read_parquet(
        d / "persons.parquet",
        columns=["psn_id", "insutype", "psn_type", "identities", "family_payer_id", "account_balance"],
    )
    visits = pl.read_parquet(
        d / "visits.parquet",
        columns=[
            "visit_id",
            "seq",
            "mdtrt_id",
            "psn_id",
            "med_type",
            "hosp_lv",
            "begin_date",
            "locality",
            "emergency",
            "use_account",
            "account_payer_id",
        ],
    )
    # the item codes as a Categorical, decoded from the file's dictionary pages: the line stage then maps
    # each distinct code to the catalogue once instead of hashing every line's string
    lines = (
        pl.scan_parquet(d / "lines.parquet")
        .select("visit_id", "feedetl_sn", pl.col("code").cast(pl.Categorical), "qty", "price", "amount")
        .collect()
    )
    return persons, visits, lines
