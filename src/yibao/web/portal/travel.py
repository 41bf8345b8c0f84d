"""How far an institution is, and about how long the trip takes: the straight-line (great-circle) distance
from where the person is to each institution, and travel times by car and by public transport estimated
from it.  Pure: no I/O.

The times are estimates, stated as such on the page (估算): road distance is taken as :data:`DETOUR` times
the straight line, covered at an average speed, plus a fixed time at the ends (parking; walking and
waiting).  The figures below are assumptions of this page, not measurements or policy: a city's traffic
report (e.g. the average peak-hour road speed a map provider publishes per city) can replace them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), what the haversine distance is scaled by


@dataclass(frozen=True)
class Mode:
    """A way to travel: average speed on the road (km/h) and the minutes added at the two ends."""

    name: tuple[str, str]
    kmh: float
    fixed_minutes: int


# 估算 (assumptions of this page): roads run about 1.3 times the straight line in a city (typical road
# circuity is 1.2–1.4); a car averages 25 km/h through city traffic plus 5 minutes to park; public transport
# averages 15 km/h on the road plus 10 minutes of walking and waiting
DETOUR = 1.3
CAR = Mode(("驾车", "by car"), 25.0, 5)
TRANSIT = Mode(("公共交通", "by public transport"), 15.0, 10)
MODES = (CAR, TRANSIT)


def distances_km(origin: tuple[float, float], points: Sequence[tuple[float, float]]) -> list[float]:
    """Great-circle distances (km) from ``origin`` to each of ``points``, all (latitude, longitude) in
    degrees, by the haversine formula."""
    if not points:
        return []
    # imported here: scikit-learn takes over a second to import, and a server must not pay it at start-up
    from sklearn.metrics.pairwise import haversine_distances  # type: ignore[import-untyped]

    a = np.radians(np.asarray([origin], dtype=np.float64))
    b = np.radians(np.asarray(points, dtype=np.float64))
    return [float(x) * EARTH_RADIUS_KM for x in haversine_distances(a, b)[0]]


def travel_minutes(straight_km: float, mode: Mode) -> int:
    """Estimated door-to-door minutes for a straight-line distance: road distance (× :data:`DETOUR`) at the
    mode's average speed plus its fixed minutes, rounded up to the next 5 minutes (an estimate should not
    look more exact than it is)."""
    if straight_km < 0:
        raise ValueError("distance must not be negative")
    minutes = straight_km * DETOUR / mode.kmh * 60 + mode.fixed_minutes
    return math.ceil(minutes / 5 - 1e-9) * 5


def minutes_in_words(minutes: int) -> tuple[str, str]:
    """``95`` → ("约 1 小时 35 分钟", "about 1 h 35 min")."""
    h, m = divmod(minutes, 60)
    if h == 0:
        return (f"约 {m} 分钟", f"about {m} min")
    if m == 0:
        return (f"约 {h} 小时", f"about {h} h")
    return (f"约 {h} 小时 {m} 分钟", f"about {h} h {m} min")


def km_in_words(km: float) -> tuple[str, str]:
    """A distance as people read it: metres under 1 km (to 10 m), else km with one decimal."""
    if km < 1:
        m = round(km * 100) * 10
        return (f"{m} 米", f"{m} m")
    return (f"{km:.1f} 公里", f"{km:.1f} km")


def centre(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The mean of some (latitude, longitude) points in one district — where a district is, for a person
    who picks a district rather than sharing a location; ``None`` for no points."""
    if not points:
        return None
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    return (lat, lon)
