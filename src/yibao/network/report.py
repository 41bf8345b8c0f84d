"""Adapter: the service-network figures of a synthetic region directory (persons, institutions, visits and
the geography ``yibao.synth.geo`` writes beside them), as plain data for the page and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from yibao.errors import FieldError
from yibao.network import core
from yibao.network.params import NetworkParams, load_params
from yibao.synth.geo import KM_PER_DEG_LAT


def network_report(
    data_dir: Path, seed: int = 0, p: NetworkParams | None = None, settled: pl.DataFrame | None = None
) -> dict[str, Any]:
    """Density, access, outflow and suggested sites; the geography is written first when missing.
    Cross-district outflow counts the settled care when ``settled`` is given (psn_no, fixmedins_code,
    fund_pay_sumamt: visits and fund payments), else the synthetic visits (visits only)."""
    p = p or load_params()
    if not (data_dir / "institutions.parquet").is_file():
        raise FieldError("data", f"{data_dir} 不是合成统筹区目录 is not a synth output directory", "missing")
    if not (data_dir / "region.geojson").is_file():
        from yibao.synth.geo import write_geo

        write_geo(data_dir, seed)  # the same plane → lon/lat as the map
    inst = pl.read_parquet(data_dir / "institution_coords.parquet")
    names = pl.read_parquet(data_dir / "institutions.parquet").select("fixmedins_code", "name")
    res = pl.read_parquet(data_dir / "residence_coords.parquet")
    geo = json.loads((data_dir / "geography.json").read_text(encoding="utf-8"))
    urban = {d["name"]: bool(d["urban"]) for d in geo["districts"]}
    dens = core.density(inst, res, p)
    acc = core.access(inst, res, urban, p)
    far = core.beyond(res, acc, p)
    flows = None
    inst_district = inst.select("fixmedins_code", pl.col("district").alias("institution_district"))
    by_fund = settled is not None and settled.height > 0
    if settled is not None and by_fund:
        ppl = pl.read_parquet(data_dir / "persons.parquet", columns=["psn_no", "district"])
        f = (
            settled.select("psn_no", "fixmedins_code", "fund_pay_sumamt")
            .join(ppl, on="psn_no")
            .join(inst_district, on="fixmedins_code")
            .group_by(pl.col("district").alias("resident_district"), "institution_district")
            .agg(
                pl.len().cast(pl.Int64).alias("visits"),
                pl.col("fund_pay_sumamt").sum().cast(pl.Int64).alias("fund_fen"),
            )
        )
        flows = core.outflow(f)
    elif (data_dir / "visits.parquet").is_file():
        v = pl.read_parquet(data_dir / "visits.parquet", columns=["psn_id", "fixmedins_code"])
        ppl = pl.read_parquet(data_dir / "persons.parquet", columns=["psn_id", "district"])
        f = (
            v.join(ppl, on="psn_id")
            .join(inst_district, on="fixmedins_code")
            .group_by(pl.col("district").alias("resident_district"), "institution_district")
            .agg(pl.len().cast(pl.Int64).alias("visits"))
            .with_columns(pl.lit(0, dtype=pl.Int64).alias("fund_fen"))
        )
        flows = core.outflow(f)
    sites = [s.__dict__ for t in p.tiers for s in core.suggest_sites(t, res, acc, urban, p, seed)]
    lon0, lat0 = geo["centre_lonlat"]
    for s in sites:
        s["lon"] = lon0 + s["x_km"] / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)) * 1.00336)
        s["lat"] = lat0 + s["y_km"] / KM_PER_DEG_LAT
    tiers = core.tier_of(inst, p).join(names, on="fixmedins_code", how="left")
    return {
        "tiers": {
            k: {"name": t.name, "name_en": t.name_en, "minutes": t.minutes, "source": p.title(t.source)}
            for k, t in p.tiers.items()
        },
        "travel": {
            "speed_kmh_urban": str(p.travel.speed_kmh_urban),
            "speed_kmh_rural": str(p.travel.speed_kmh_rural),
            "detour": str(p.travel.detour),
            "source": p.title(p.travel.source),
        },
        "density": dens.to_dicts(),
        "beyond": far.to_dicts(),
        "outflow": flows.to_dicts() if flows is not None else [],
        "outflow_by_fund": by_fund,
        "outflow_note": (
            "按已结算的就诊人次与基金支付统计（账本结算） settled visits and fund payments from the ledger"
            if by_fund
            else "按合成就诊人次统计（尚无结算数据） synthetic visits (no settlements yet)"
        ),
        "sites": sites,
        "institutions": tiers.select("fixmedins_code", "name", "district", "tier", "lon", "lat").to_dicts(),
        "urban": urban,
        "geojson": str(data_dir / "region.geojson"),
        "suggest_source": p.title(p.suggest.source),
    }
