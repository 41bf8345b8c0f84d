"""Service-network equity: the synthetic geography (polygons cover the region, points stay in their
district), institutions per 10k, travel time to the nearest tier, residents beyond the line, outflow, and
the greedy choice of new sites."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from yibao.network import core
from yibao.network.params import load_params
from yibao.synth import geo

P = load_params()


def _area(poly: list[tuple[float, float]]) -> float:
    return 0.5 * sum(
        poly[i][0] * poly[(i + 1) % len(poly)][1] - poly[(i + 1) % len(poly)][0] * poly[i][1]
        for i in range(len(poly))
    )


def test_district_polygons_tile_the_region_and_hold_their_own_seed() -> None:
    names = [f"D{i}" for i in range(9)]
    g = geo.make_geography(names, [9, 8, 7, 6, 5, 4, 3, 2, 1], seed=3, radius_km=40)
    total = sum(_area(d.polygon) for d in g.districts)
    circle = _area(geo._circle(40))
    assert total == pytest.approx(circle, rel=1e-6)
    for d in g.districts:
        assert geo.inside_convex(d.polygon, np.array([d.seed_xy[0]]), np.array([d.seed_xy[1]]))[0]
    assert [d.urban for d in g.districts][:3] == [True, True, True] and not g.districts[-1].urban
    assert (
        geo.make_geography(names, [1] * 9, seed=3).districts
        == geo.make_geography(names, [1] * 9, seed=3).districts
    )


def test_placed_points_lie_inside_their_district() -> None:
    g = geo.make_geography(["A", "B", "C", "D"], [4, 3, 2, 1], seed=1)
    inst = pl.DataFrame(
        {
            "fixmedins_code": ["H1", "H2"],
            "district": ["A", "D"],
            "kind": ["hospital", "primary"],
            "level": ["3", "1"],
        }
    )
    hh = pl.DataFrame({"household_id": range(200), "district": ["B", "C"] * 100, "members": [2] * 200})
    i, h = geo.place(g, inst, hh, seed=2)
    for row in [*i.iter_rows(named=True), *h.iter_rows(named=True)]:
        d = g.district(row["district"])
        assert geo.inside_convex(d.polygon, np.array([row["x_km"]]), np.array([row["y_km"]]))[0]
    fc = geo.geojson(g)
    assert [f["properties"]["name"] for f in fc["features"]] == ["A", "B", "C", "D"]
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]


def _layout() -> tuple[pl.DataFrame, pl.DataFrame]:
    inst = pl.DataFrame(
        {
            "fixmedins_code": ["P1", "H2", "H3", "RX"],
            "kind": ["primary", "hospital", "hospital", "pharmacy"],
            "level": ["1", "2", "3", "1"],
            "district": ["A", "A", "B", "A"],
            "x_km": [0.0, 0.0, 50.0, 0.0],
            "y_km": [0.0, 0.0, 0.0, 0.0],
        }
    )
    res = pl.DataFrame(
        {
            "district": ["A", "A", "B"],
            "members": [3, 1, 6],
            "x_km": [1.0, 10.0, 50.0],
            "y_km": [0.0, 0.0, 0.0],
        }
    )
    return inst, res


def test_density_per_10k_and_tiers_leave_pharmacies_out() -> None:
    inst, res = _layout()
    d = {(r["district"], r["tier"]): r for r in core.density(inst, res, P).iter_rows(named=True)}
    assert (
        d[("A", "primary")]["institutions"] == 1 and d[("A", "primary")]["per_10k_x100"] == 250_000
    )  # 1 per 4 residents = 2,500 per 10k
    assert d[("B", "primary")]["institutions"] == 0
    assert "RX" not in core.tier_of(inst, P)["fixmedins_code"].to_list()


def test_travel_time_beyond_share_and_outflow() -> None:
    inst, res = _layout()
    acc = core.access(inst, res, {"A": True, "B": False}, P)
    speed, detour = float(P.travel.speed_kmh_urban), float(P.travel.detour)
    assert acc.minutes["primary"][1] == pytest.approx(10 * detour / speed * 60)
    b = {(r["district"], r["tier"]): r for r in core.beyond(res, acc, P).iter_rows(named=True)}
    assert acc.minutes["primary"][1] > P.tiers["primary"].minutes > acc.minutes["primary"][0]
    assert b[("A", "primary")]["beyond_share"] == 2_500  # 1 of 4 residents of A
    assert b[("B", "primary")]["beyond_share"] == 10_000  # 50 km from the only primary site
    out = core.outflow(
        pl.DataFrame(
            {
                "resident_district": ["A", "A", "B"],
                "institution_district": ["A", "B", "A"],
                "visits": [3, 1, 2],
                "fund_fen": [30, 10, 20],
            }
        )
    )
    rows = {r["resident_district"]: r for r in out.iter_rows(named=True)}
    assert rows["A"]["visits_out_share"] == 2_500 and rows["B"]["fund_out_share"] == 10_000


def test_the_greedy_site_covers_the_most_residents_first() -> None:
    inst = pl.DataFrame(
        {
            "fixmedins_code": ["P1"],
            "kind": ["primary"],
            "level": ["1"],
            "district": ["A"],
            "x_km": [0.0],
            "y_km": [0.0],
        }
    )
    # a cluster of 30 persons far east, 5 persons far west
    xs = [40.0 + 0.1 * k for k in range(10)] + [-40.0]
    res = pl.DataFrame({"district": ["B"] * 11, "members": [3] * 10 + [5], "x_km": xs, "y_km": [0.0] * 11})
    acc = core.access(inst, res, {}, P)
    sites = core.suggest_sites("primary", res, acc, {}, P)
    assert sites[0].x_km >= 40.0 and sites[0].gain == 30
    assert sites[1].x_km == -40.0 and sites[1].gain == 5 and sites[1].covered_after == 10_000
    assert len(sites) == 2  # nothing left to cover
