"""Adapter: synthetic region → DRG grouper → payment claims, and the demo region end to end.

The payment core never imports the grouper; only this adapter does (lazily), so ``yibao.payment`` works on
any grouped-claims frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.payment.core import Payment
from yibao.payment.dip import pay_dip
from yibao.payment.drg import pay_drg
from yibao.payment.policy import PaymentPolicy

CLAIM_COLUMNS = (
    "case_id",
    "fixmedins_code",
    "hosp_lv",
    "drg",
    "adrg",
    "mdc",
    "pdx",
    "main_procedure",
    "medfee_sumamt",
    "los_days",
    "discharge_date",
)


def claims_from_grouped(cases: pl.DataFrame, grouped: pl.DataFrame, case_prefix: str = "") -> pl.DataFrame:
    """Join grouper output (case_id, mdc, adrg, drg, …) onto its cases → the payment claims frame.

    ``main_procedure`` is the first of the ``|``-separated procedures ('' if none); ``discharge_date``
    becomes a Date; ``case_prefix`` keeps case ids unique when several years are stacked.
    """
    g = grouped.select("case_id", "mdc", "adrg", "drg")
    df = cases.join(g, on="case_id", how="left", maintain_order="left")
    date = pl.col("discharge_date")
    if df.schema["discharge_date"] == pl.String:
        date = date.str.to_date("%Y-%m-%d")
    return df.select(
        (pl.lit(case_prefix) + pl.col("case_id").cast(pl.String)).alias("case_id"),
        "fixmedins_code",
        "hosp_lv",
        "drg",
        "adrg",
        "mdc",
        "pdx",
        pl.col("procedures").fill_null("").str.split("|").list.first().fill_null("").alias("main_procedure"),
        pl.col("medfee_sumamt").cast(pl.Int64),
        pl.col("los_days").cast(pl.Int64),
        date.alias("discharge_date"),
    )


@dataclass(frozen=True)
class DemoResult:
    claims: pl.DataFrame  # every year, grouped
    drg: Payment
    dip: Payment


def region_claims(
    region: str,
    workdir: Path,
    years: Sequence[int],
    persons: int,
    seed: int = 0,
    scheme: str = "chs-drg-demo",
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Generate (or reuse) a synthetic year per ``years``, group its inpatient discharges, stack the claims."""
    from yibao.drg import cases_from_synth, group_frame, load_scheme
    from yibao.policy.loader import example_path
    from yibao.synth import generate

    region_path = Path(region) if Path(region).exists() else example_path(region)
    compiled = load_scheme(scheme)
    frames = []
    for k, year in enumerate(years):
        out = workdir / f"{year}"
        if not (out / "manifest.json").exists():
            if progress:
                progress(f"合成 synth {year}: {persons:,} persons")
            generate(region_path, out, persons, year=year, seed=seed + k, limits=prescribing_limits())
        visits = pl.read_parquet(out / "visits.parquet")
        persons_df = pl.read_parquet(out / "persons.parquet")
        lines = pl.read_parquet(out / "lines.parquet", columns=["visit_id", "amount"])
        cases = cases_from_synth(visits, persons_df, lines)
        if progress:
            progress(f"分组 grouping {year}: {cases.height:,} discharges")
        grouped = group_frame(compiled, cases)
        frames.append(claims_from_grouped(cases, grouped, f"{year}-"))
    return pl.concat(frames)


def demo_region(
    policy: PaymentPolicy,
    workdir: Path,
    *,
    region: str = "xian",
    persons: int = 20_000,
    history_years: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """The demo region end to end: synth ``history_years`` years before the policy year plus the policy year,
    group them with the demonstration CHS-DRG scheme, then pay the policy year by DRG and by DIP."""
    years = list(range(policy.year - history_years, policy.year + 1))
    claims = region_claims(region, workdir, years, persons, seed, progress=progress)
    history = claims.filter(pl.col("discharge_date").dt.year() < policy.year)
    current = claims.filter(pl.col("discharge_date").dt.year() == policy.year)
    return DemoResult(claims, pay_drg(current, policy, history), pay_dip(current, policy, history))
