"""Service-network equity as a pure core: frames and arrays in, figures out.

* **Density** — designated institutions of each tier per 10,000 residents, by district.
* **Access** — for every residence (a household, weighted by its members) the straight-line distance to
  the nearest institution of each tier (k-d tree), the travel time = distance × detour ÷ speed (urban or
  rural district), the share of residents beyond the tier's line (15 / 30 / 60 minutes), by district.
* **Outflow** — the share of a district's residents' visits and fund payments at institutions in other
  districts (跨区县就医).
* **Where to add** — greedy maximal coverage: among candidate sites (residences beyond the line), pick the
  one that brings the most residents within the line, count them covered, repeat.  Greedy coverage is
  within 1 − 1/e of the best possible choice of k sites (Nemhauser, Wolsey & Fisher 1978).

Times are minutes, distances km, shares and densities in 1/10000 (density: institutions per 10k × 100)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from scipy.spatial import cKDTree  # type: ignore[import-untyped]

from yibao.money import div_half_up
from yibao.network.params import NetworkParams

F64 = npt.NDArray[np.float64]


def tier_of(inst: pl.DataFrame, p: NetworkParams) -> pl.DataFrame:
    """Each institution's tier (first matching; institutions of no tier, e.g. pharmacies, are dropped)."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for name, t in reversed(list(p.tiers.items())):
        expr = (
            pl.when(pl.col("kind").is_in(t.kinds) & pl.col("level").cast(pl.String).is_in(t.levels))
            .then(pl.lit(name))
            .otherwise(expr)
        )
    return inst.with_columns(expr.alias("tier")).filter(pl.col("tier").is_not_null())


def density(inst: pl.DataFrame, residents: pl.DataFrame, p: NetworkParams) -> pl.DataFrame:
    """district × tier: institutions, residents, institutions per 10k residents (×100, half up)."""
    t = tier_of(inst, p)
    pop = residents.group_by("district").agg(pl.col("members").sum().cast(pl.Int64).alias("residents"))
    grid = pop.join(pl.DataFrame({"tier": list(p.tiers)}), how="cross")
    n = t.group_by("district", "tier").agg(pl.len().cast(pl.Int64).alias("institutions"))
    out = grid.join(n, on=["district", "tier"], how="left").with_columns(pl.col("institutions").fill_null(0))
    per = pl.col("institutions") * 10_000 * 100
    return out.with_columns(
        pl.when(pl.col("residents") > 0)
        .then((per * 2 + pl.col("residents")) // (pl.col("residents") * 2))
        .otherwise(None)
        .alias("per_10k_x100")
    ).sort("district", "tier")


def travel_minutes(dist_km: F64, urban: npt.NDArray[np.bool_], p: NetworkParams) -> F64:
    """Distance → minutes: × detour ÷ the urban or rural speed."""
    tr = p.travel
    speed = np.where(urban, float(tr.speed_kmh_urban), float(tr.speed_kmh_rural))
    out: F64 = dist_km * float(tr.detour) / speed * 60.0
    return out


@dataclass(frozen=True)
class Access:
    """Per residence and tier: minutes to the nearest institution of the tier (inf when the tier has none)."""

    minutes: dict[str, F64]
    nearest: dict[str, npt.NDArray[np.int64]]  # index into that tier's institutions


def access(inst: pl.DataFrame, residences: pl.DataFrame, urban: dict[str, bool], p: NetworkParams) -> Access:
    """``inst``: fixmedins_code, kind, level, x_km, y_km; ``residences``: district, members, x_km, y_km."""
    t = tier_of(inst, p)
    xy = residences.select("x_km", "y_km").to_numpy()
    is_urban = np.array([urban.get(d, False) for d in residences["district"].to_list()], dtype=bool)
    mins, near = {}, {}
    for name in p.tiers:
        sites = t.filter(pl.col("tier") == name).select("x_km", "y_km").to_numpy()
        if sites.shape[0] == 0:
            mins[name] = np.full(xy.shape[0], np.inf)
            near[name] = np.full(xy.shape[0], -1, dtype=np.int64)
            continue
        d, i = cKDTree(sites).query(xy, k=1)
        mins[name] = travel_minutes(np.asarray(d, dtype=np.float64), is_urban, p)
        near[name] = np.asarray(i, dtype=np.int64)
    return Access(mins, near)


def beyond(residences: pl.DataFrame, acc: Access, p: NetworkParams) -> pl.DataFrame:
    """district × tier: residents, share beyond the tier's line (1/10000), mean and 90th-percentile
    minutes (weighted by members); plus a 'region' row per tier."""
    rows = []
    dist = residences["district"].to_numpy()
    w = residences["members"].to_numpy().astype(np.float64)
    for name, t in p.tiers.items():
        m = acc.minutes[name]
        for d in [*sorted(set(dist.tolist())), None]:
            sel = np.ones(len(dist), dtype=bool) if d is None else dist == d
            ww, mm = w[sel], m[sel]
            tot = ww.sum()
            if tot == 0:
                continue
            far = ww[mm > t.minutes].sum()
            order = np.argsort(mm)
            cum = np.cumsum(ww[order])
            p90 = float(mm[order][np.searchsorted(cum, 0.9 * tot)]) if np.isfinite(mm).all() else float("inf")
            finite = np.isfinite(mm)
            mean = float((mm[finite] * ww[finite]).sum() / ww[finite].sum()) if finite.any() else float("inf")
            rows.append(
                (
                    d or "全区 region",
                    name,
                    int(tot),
                    div_half_up(int(far) * 10_000, int(tot)),
                    round(mean, 1),
                    round(p90, 1),
                    t.minutes,
                )
            )
    return pl.DataFrame(
        rows,
        schema={
            "district": pl.String,
            "tier": pl.String,
            "residents": pl.Int64,
            "beyond_share": pl.Int64,
            "mean_minutes": pl.Float64,
            "p90_minutes": pl.Float64,
            "line_minutes": pl.Int64,
        },
        orient="row",
    )


def outflow(flows: pl.DataFrame) -> pl.DataFrame:
    """``flows``: resident_district, institution_district, visits, fund_fen → per resident district: visits,
    fund, and the shares (1/10000) of each spent at institutions in other districts."""
    f = flows.with_columns((pl.col("resident_district") != pl.col("institution_district")).alias("_out"))
    g = f.group_by("resident_district").agg(
        pl.col("visits").sum().alias("visits"),
        pl.col("visits").filter(pl.col("_out")).sum().alias("visits_out"),
        pl.col("fund_fen").sum().alias("fund_fen"),
        pl.col("fund_fen").filter(pl.col("_out")).sum().alias("fund_out_fen"),
    )

    def share(num: str, den: str) -> pl.Expr:
        return (
            pl.when(pl.col(den) > 0)
            .then((pl.col(num) * 20_000 + pl.col(den)) // (pl.col(den) * 2))
            .otherwise(None)
        )

    return g.with_columns(
        share("visits_out", "visits").alias("visits_out_share"),
        share("fund_out_fen", "fund_fen").alias("fund_out_share"),
    ).sort("resident_district")


@dataclass(frozen=True)
class Site:
    tier: str
    rank: int
    x_km: float
    y_km: float
    district: str
    gain: int  # residents newly within the line
    covered_after: int  # 1/10000 of all residents within the line after this site


def suggest_sites(
    tier: str, residences: pl.DataFrame, acc: Access, urban: dict[str, bool], p: NetworkParams, seed: int = 0
) -> list[Site]:
    """Greedy maximal coverage for one tier: up to ``suggest.sites`` new sites among residences beyond the
    line (a seeded sample of at most ``suggest.candidates``), each chosen for the most members brought within
    the line, given the sites chosen before it."""
    t = p.tiers[tier]
    xy = residences.select("x_km", "y_km").to_numpy()
    w = residences["members"].to_numpy().astype(np.float64)
    dist = residences["district"].to_list()
    is_urban = np.array([urban.get(d, False) for d in dist], dtype=bool)
    tr = p.travel
    speed = np.where(is_urban, float(tr.speed_kmh_urban), float(tr.speed_kmh_rural))
    reach = t.minutes / 60.0 * speed / float(tr.detour)  # km within which each residence is served
    uncovered = acc.minutes[tier] > t.minutes
    cand = np.flatnonzero(uncovered)
    if cand.size == 0 or p.suggest.sites == 0:
        return []
    rng = np.random.default_rng(seed)
    if cand.size > p.suggest.candidates:
        cand = np.sort(rng.choice(cand, p.suggest.candidates, replace=False))
    tree = cKDTree(xy)
    lists = tree.query_ball_point(xy[cand], r=float(reach.max()))
    rows, cols = [], []
    for ci, idx in enumerate(lists):
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size:
            d = np.hypot(xy[idx, 0] - xy[cand[ci], 0], xy[idx, 1] - xy[cand[ci], 1])
            ok = idx[d <= reach[idx]]
            rows.extend([ci] * ok.size)
            cols.extend(ok.tolist())
    A = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(cand.size, xy.shape[0]))
    total = w.sum()
    covered_w = w[~uncovered].sum()
    need = (w * uncovered).astype(np.float64)
    out = []
    for rank in range(1, p.suggest.sites + 1):
        gains = A @ need
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        hit = A.getrow(best).indices
        covered_w += float(need[hit].sum())
        need[hit] = 0.0
        c = cand[best]
        out.append(
            Site(
                tier,
                rank,
                float(xy[c, 0]),
                float(xy[c, 1]),
                dist[c],
                int(gains[best]),
                int(covered_w * 10_000 // total),
            )
        )
    return out
