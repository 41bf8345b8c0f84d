"""Read a generated region back as the real-time engine's inputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from yibao.settlement.model import Line, Person, Visit


def read_persons(out_dir: str | Path) -> dict[int, Person]:
    """Every person of ``out_dir`` as an engine :class:`Person`, by ``psn_id``."""
    df = pl.read_parquet(Path(out_dir) / "persons.parquet")
    psn_no = dict(zip(df["psn_id"].to_list(), df["psn_no"].to_list(), strict=True))
    out: dict[int, Person] = {}
    for r in df.iter_rows(named=True):
        fam = r["family_payer_id"]
        out[r["psn_id"]] = Person(
            psn_no=r["psn_no"],
            name="",
            certno=r["certno"],
            gender=r["gender"],
            birth_date=r["birth_date"],
            insutype=r["insutype"],
            psn_type=r["psn_type"],
            identities=frozenset(x for x in r["identities"].split("|") if x),
            family=(psn_no[fam],) if fam is not None and fam >= 0 else (),
        )
    return out


def read_visits_as_engine_inputs(
    out_dir: str | Path, limit: int | None = None
) -> Iterator[tuple[Person, Visit]]:
    """(Person, Visit) pairs in global time order (begin_date, seq); ``limit`` stops after that many.

    Holds the persons and the selected visits' lines in memory: meant for equality tests and samples,
    not for settling a 100M-line year (the batch engine reads the Parquet files directly).
    """
    d = Path(out_dir)
    persons = read_persons(d)
    q = pl.scan_parquet(d / "visits.parquet").sort(["begin_date", "seq"])
    if limit is not None:
        q = q.head(limit)
    visits = q.collect()
    ids = visits["visit_id"]
    lines = (
        pl.scan_parquet(d / "lines.parquet")
        .filter(pl.col("visit_id").is_in(ids.implode()))
        .sort(["visit_id", "feedetl_sn"])
        .collect()
    )
    by_visit: dict[int, list[Line]] = {}
    prd = pl.col("prd_days") if "prd_days" in lines.columns else pl.lit(None, pl.Int16).alias("prd_days")
    day = (
        pl.col("fee_ocur_time").cast(pl.Date)
        if "fee_ocur_time" in lines.columns
        else pl.lit(None, pl.Date).alias("fee_ocur_time")
    )
    for vid, sn, code, qty, price, amount, days, served in lines.select(
        "visit_id", "feedetl_sn", "code", "qty", "price", "amount", prd, day
    ).iter_rows():
        by_visit.setdefault(vid, []).append(Line(str(sn), code, qty, price, amount, days, None, served))
    for r in visits.iter_rows(named=True):
        p = persons[r["psn_id"]]
        payer = r["account_payer_id"]
        begin: dt.date = r["begin_date"]
        yield (
            p,
            Visit(
                mdtrt_id=r["mdtrt_id"],
                psn_no=p.psn_no,
                med_type=r["med_type"],
                fixmedins_code=r["fixmedins_code"],
                hosp_lv=r["hosp_lv"],
                begin_date=begin,
                end_date=r["end_date"],
                lines=tuple(by_visit.get(r["visit_id"], ())),
                locality=r["locality"],
                emergency=r["emergency"],
                diagnoses=tuple(x for x in r["diagnoses"].split("|") if x),
                use_account=r["use_account"],
                account_psn_no=persons[payer].psn_no if payer is not None and payer >= 0 else None,
                bilg_dr_codg=r.get("bilg_dr_codg"),
            ),
        )
