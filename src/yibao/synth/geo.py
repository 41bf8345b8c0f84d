"""Synthetic geography for a generated region: district polygons, and coordinates for its institutions
and its households' residences (pure numpy + scipy; the writer at the bottom is the only I/O).

The generator's districts have names and population weights but no place.  Here they get one: the most
populous third of the districts form an urban core around the centre, the rest an outer ring; each
district is the Voronoi cell of its seed point clipped to a round region (radius ``radius_km``).
Tertiary hospitals sit near their district's centre, other institutions anywhere in it; residences
cluster around the centre of their district (70 %) or spread over it (30 %).  Everything is a pure
function of (districts, institutions, households, seed), so the same synthetic region always has the same
map.  Coordinates are kilometres on a plane (x east, y north) and, for maps, longitude / latitude around a
nominal centre — a synthetic place, not a real one."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.spatial import Voronoi  # type: ignore[import-untyped]

F64 = npt.NDArray[np.float64]
KM_PER_DEG_LAT = 110.574


@dataclass(frozen=True)
class District:
    name: str
    seed_xy: tuple[float, float]
    polygon: list[tuple[float, float]]  # counter-clockwise, km
    urban: bool
    weight: float


@dataclass(frozen=True)
class Geography:
    centre_lonlat: tuple[float, float]
    radius_km: float
    districts: list[District]

    def to_lonlat(self, x: F64, y: F64) -> tuple[F64, F64]:
        lon0, lat0 = self.centre_lonlat
        lon = lon0 + x / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)) * 1.00336)
        lat = lat0 + y / KM_PER_DEG_LAT
        return lon, lat

    def district(self, name: str) -> District:
        for d in self.districts:
            if d.name == name:
                return d
        raise KeyError(name)


def _circle(radius: float, n: int = 72) -> list[tuple[float, float]]:
    return [
        (radius * math.cos(2 * math.pi * k / n), radius * math.sin(2 * math.pi * k / n)) for k in range(n)
    ]


def _clip(subject: list[tuple[float, float]], clip: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sutherland–Hodgman: ``subject`` clipped by the convex, counter-clockwise ``clip`` polygon."""

    def inside(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> bool:
        return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0

    def cut(
        p: tuple[float, float], q: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
    ) -> tuple[float, float]:
        x1, y1, x2, y2 = p[0], p[1], q[0], q[1]
        x3, y3, x4, y4 = a[0], a[1], b[0], b[1]
        den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
        t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
        return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))

    out = subject
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        inp, out = out, []
        if not inp:
            break
        s = inp[-1]
        for e in inp:
            if inside(e, a, b):
                if not inside(s, a, b):
                    out.append(cut(s, e, a, b))
                out.append(e)
            elif inside(s, a, b):
                out.append(cut(s, e, a, b))
            s = e
    return out


def _ccw(poly: list[tuple[float, float]]) -> list[tuple[float, float]]:
    area = sum(
        poly[i][0] * poly[(i + 1) % len(poly)][1] - poly[(i + 1) % len(poly)][0] * poly[i][1]
        for i in range(len(poly))
    )
    return poly if area > 0 else poly[::-1]


def make_geography(
    names: Sequence[str],
    weights: Sequence[float],
    seed: int,
    *,
    radius_km: float = 45.0,
    centre_lonlat: tuple[float, float] = (108.94, 34.34),
) -> Geography:
    """District polygons for ``names`` (population ``weights``): an urban core of the most populous third
    around the centre, the others on an outer ring, Voronoi cells clipped to the round region."""
    rng = np.random.default_rng(seed)
    n = len(names)
    order = sorted(range(n), key=lambda i: (-weights[i], names[i]))
    n_core = max(1, math.ceil(n / 3)) if n > 1 else 1
    pts = np.zeros((n, 2))
    for rank, i in enumerate(order):
        if rank < n_core:
            r = 0.0 if n_core == 1 else radius_km * 0.16
            ang = 2 * math.pi * rank / max(n_core, 1) + rng.uniform(-0.15, 0.15)
        else:
            k = rank - n_core
            r = radius_km * rng.uniform(0.55, 0.72)
            ang = 2 * math.pi * k / max(n - n_core, 1) + rng.uniform(-0.12, 0.12)
        pts[i] = (r * math.cos(ang), r * math.sin(ang))
    far = radius_km * 20
    mirrors = np.array([(far, far), (-far, far), (far, -far), (-far, -far)])
    vor = Voronoi(np.vstack([pts, mirrors])) if n >= 2 else None
    boundary = _circle(radius_km)
    districts = []
    for i in range(n):
        if vor is None:
            poly = boundary
        else:
            region = vor.regions[vor.point_region[i]]
            cell = _ccw([(float(vor.vertices[v][0]), float(vor.vertices[v][1])) for v in region if v >= 0])
            poly = _clip(cell, boundary)
        districts.append(
            District(
                names[i],
                (float(pts[i, 0]), float(pts[i, 1])),
                [(round(x, 4), round(y, 4)) for x, y in poly],
                order.index(i) < n_core,
                float(weights[i]),
            )
        )
    return Geography(centre_lonlat, radius_km, districts)


def inside_convex(poly: Sequence[tuple[float, float]], x: F64, y: F64) -> npt.NDArray[np.bool_]:
    """Which points lie inside a convex counter-clockwise polygon (edges included)."""
    ok = np.ones(x.shape, dtype=bool)
    for i in range(len(poly)):
        ax, ay = poly[i]
        bx, by = poly[(i + 1) % len(poly)]
        ok &= (bx - ax) * (y - ay) - (by - ay) * (x - ax) >= -1e-9
    return ok


def sample_in(
    district: District, n: int, rng: np.random.Generator, spread: float, near_share: float
) -> tuple[F64, F64]:
    """``n`` points in a district: ``near_share`` of them Gaussian around its seed (σ = ``spread`` × the
    cell's size), the rest uniform over it; rejection sampling keeps every point inside."""
    poly = district.polygon
    xs_, ys_ = np.array([p[0] for p in poly]), np.array([p[1] for p in poly])
    size = math.sqrt(max((xs_.max() - xs_.min()) * (ys_.max() - ys_.min()), 1e-6))
    out_x, out_y = np.empty(0), np.empty(0)
    while out_x.size < n:
        m = max(2 * (n - out_x.size), 16)
        near = rng.random(m) < near_share
        gx = np.where(
            near, rng.normal(district.seed_xy[0], spread * size, m), rng.uniform(xs_.min(), xs_.max(), m)
        )
        gy = np.where(
            near, rng.normal(district.seed_xy[1], spread * size, m), rng.uniform(ys_.min(), ys_.max(), m)
        )
        keep = inside_convex(poly, gx, gy)
        out_x, out_y = np.concatenate([out_x, gx[keep]]), np.concatenate([out_y, gy[keep]])
    return out_x[:n], out_y[:n]


def place(
    geo: Geography, institutions: pl.DataFrame, households: pl.DataFrame, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Coordinates for institutions (fixmedins_code, district, kind, level) and households (household_id,
    district, members): x_km, y_km, lon, lat."""
    rng = np.random.default_rng(seed)
    ix = np.zeros(institutions.height)
    iy = np.zeros(institutions.height)
    kinds = institutions["kind"].to_list() if "kind" in institutions.columns else [""] * institutions.height
    levels = institutions["level"].to_list()
    for d in geo.districts:
        idx = np.flatnonzero(institutions["district"].to_numpy() == d.name)
        for i in idx:
            central = kinds[i] == "hospital" and str(levels[i]).startswith("3")
            x, y = sample_in(d, 1, rng, 0.08 if central else 0.3, 0.9 if central else 0.4)
            ix[i], iy[i] = x[0], y[0]
    hx = np.zeros(households.height)
    hy = np.zeros(households.height)
    dist = households["district"].to_numpy()
    for d in geo.districts:
        idx = np.flatnonzero(dist == d.name)
        if idx.size:
            x, y = sample_in(d, idx.size, rng, 0.18, 0.7)
            hx[idx], hy[idx] = x, y
    ilon, ilat = geo.to_lonlat(ix, iy)
    hlon, hlat = geo.to_lonlat(hx, hy)
    inst = institutions.with_columns(
        pl.Series("x_km", ix), pl.Series("y_km", iy), pl.Series("lon", ilon), pl.Series("lat", ilat)
    )
    hh = households.with_columns(
        pl.Series("x_km", hx), pl.Series("y_km", hy), pl.Series("lon", hlon), pl.Series("lat", hlat)
    )
    return inst, hh


def geojson(geo: Geography, properties: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """District polygons as a GeoJSON FeatureCollection (longitude / latitude), ``name`` in each feature's
    properties (ECharts ``registerMap`` matches series data by it)."""
    feats = []
    for d in geo.districts:
        xs = np.array([p[0] for p in d.polygon] + [d.polygon[0][0]])
        ys = np.array([p[1] for p in d.polygon] + [d.polygon[0][1]])
        lon, lat = geo.to_lonlat(xs, ys)
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": d.name, "urban": d.urban, **((properties or {}).get(d.name, {}))},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[round(float(a), 5), round(float(b), 5)] for a, b in zip(lon, lat, strict=True)]
                    ],
                },
            }
        )
    return {"type": "FeatureCollection", "name": "yibao synthetic region", "features": feats}


def _census_weights(data_dir: Path) -> dict[str, float]:
    """District populations the generator drew from (``codes.DISTRICTS`` of the manifest's region)."""
    from yibao.synth.codes import DISTRICTS

    m = data_dir / "manifest.json"
    if not m.is_file():
        return {}
    admdvs = str(json.loads(m.read_text(encoding="utf-8")).get("region_admdvs", ""))
    return {name: float(w) for name, w in DISTRICTS.get(admdvs, ())}


def write_geo(data_dir: Path, seed: int = 0) -> dict[str, Path]:
    """Read a synth output directory (persons, institutions), write ``region.geojson``,
    ``institution_coords.parquet`` and ``residence_coords.parquet`` beside it; return their paths."""
    persons = pl.read_parquet(data_dir / "persons.parquet", columns=["household_id", "district"])
    inst = pl.read_parquet(data_dir / "institutions.parquet")
    pop = persons.group_by("district").len().sort("district")
    names = pop["district"].to_list()
    for d in inst["district"].unique().sort().to_list():
        if d not in names:
            names.append(d)
    weights = [float(dict(pop.iter_rows()).get(d, 1)) for d in names]
    census = _census_weights(data_dir)  # the generator's district populations, when it used a known table
    if census and all(n in census for n in names):
        weights = [census[n] for n in names]
    geo = make_geography(names, weights, seed)
    households = (
        persons.group_by("household_id", "district").agg(pl.len().alias("members")).sort("household_id")
    )
    inst_xy, hh_xy = place(
        geo, inst.select("fixmedins_code", "district", "kind", "level"), households, seed + 1
    )
    out = {
        "geojson": data_dir / "region.geojson",
        "institutions": data_dir / "institution_coords.parquet",
        "residences": data_dir / "residence_coords.parquet",
    }
    props = {d.name: {"urban": d.urban} for d in geo.districts}
    out["geojson"].write_text(json.dumps(geojson(geo, props), ensure_ascii=False), encoding="utf-8")
    inst_xy.write_parquet(out["institutions"])
    hh_xy.write_parquet(out["residences"])
    (data_dir / "geography.json").write_text(
        json.dumps(
            {
                "centre_lonlat": geo.centre_lonlat,
                "radius_km": geo.radius_km,
                "seed": seed,
                "districts": [
                    {"name": d.name, "urban": d.urban, "seed_xy": d.seed_xy} for d in geo.districts
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return out
