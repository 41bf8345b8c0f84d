"""Distance and travel time for 定点机构查询: the haversine distance against known figures, the estimated
minutes from the stated assumptions, and the words people read."""

from __future__ import annotations

import math

import pytest

from yibao.errors import FieldError
from yibao.fund.data import Institution
from yibao.web.portal import travel
from yibao.web.portal.finder_pages import district_centres, located, map_link


def test_one_degree_of_latitude_is_about_111_km_and_a_point_is_0_from_itself() -> None:
    d = travel.distances_km((34.0, 108.9), [(35.0, 108.9), (34.0, 108.9)])
    assert d[0] == pytest.approx(math.pi / 180 * travel.EARTH_RADIUS_KM, rel=1e-9)  # 111.195 km
    assert d[1] == 0.0


def test_the_bell_tower_to_the_big_wild_goose_pagoda_is_about_5_km() -> None:
    # 钟楼 (34.2610, 108.9423) → 大雁塔 (34.2185, 108.9594), approximate: 4.7 km north–south, 1.6 km east–west
    (d,) = travel.distances_km((34.2610, 108.9423), [(34.2185, 108.9594)])
    assert 4.8 < d < 5.1


def test_a_longitude_degree_shrinks_with_the_cosine_of_the_latitude() -> None:
    (east,) = travel.distances_km((60.0, 10.0), [(60.0, 11.0)])
    assert east == pytest.approx(111.195 * 0.5, rel=2e-3)


def test_no_points_no_distances() -> None:
    assert travel.distances_km((34.0, 108.0), []) == []


def test_travel_minutes_follow_the_stated_speeds_and_round_up_to_5() -> None:
    # 10 km straight → 13 km of road: by car 13/25 h = 31.2 min + 5 = 36.2 → 40; by transit 52 + 10 = 62 → 65
    assert travel.travel_minutes(10, travel.CAR) == 40
    assert travel.travel_minutes(10, travel.TRANSIT) == 65
    assert travel.travel_minutes(0, travel.CAR) == travel.CAR.fixed_minutes  # 5 stays 5
    # exactly on a multiple of 5 stays there: 25 km/h, 1.3 × d km in 25 min → d = 25 × 25 / 60 / 1.3
    exact = 25 / 60 * 20 / travel.DETOUR
    assert travel.travel_minutes(exact, travel.CAR) == 25
    with pytest.raises(ValueError):
        travel.travel_minutes(-1, travel.CAR)


def test_times_and_distances_in_words() -> None:
    assert travel.minutes_in_words(40) == ("约 40 分钟", "about 40 min")
    assert travel.minutes_in_words(60) == ("约 1 小时", "about 1 h")
    assert travel.minutes_in_words(95) == ("约 1 小时 35 分钟", "about 1 h 35 min")
    assert travel.km_in_words(0.856) == ("860 米", "860 m")
    assert travel.km_in_words(12.34) == ("12.3 公里", "12.3 km")


def test_a_district_is_measured_from_the_mean_of_its_institutions() -> None:
    reg = [
        Institution("A", "甲医院", "雁塔区", "1", lat=34.20, lon=108.90),
        Institution("B", "乙医院", "雁塔区", "1", lat=34.22, lon=108.96),
        Institution("C", "丙药房", "碑林区", "1"),  # no coordinates: no centre
    ]
    assert district_centres(reg) == {"雁塔区": pytest.approx((34.21, 108.93))}


def test_a_location_is_rounded_to_about_100_m_and_nonsense_names_the_field() -> None:
    assert located("34.261049", "108.942312") == (34.261, 108.942)
    assert located("", "") is None
    for lat, lon in (("abc", "1"), ("91", "0"), ("34", ""), ("nan", "nan")):
        with pytest.raises(FieldError) as e:
            located(lat, lon)
        assert e.value.field == "lat"


def test_the_map_link_is_a_plain_https_search_for_the_address() -> None:
    i = Institution("A", "甲医院", "雁塔区", "1", address="陕西省西安市雁塔区小寨东路1号")
    assert map_link(i).startswith("https://") and "%E5%B0%8F%E5%AF%A8" in map_link(i)  # 小寨, encoded
    assert map_link(Institution("B", "乙医院", "雁塔区", "1")).endswith("%E4%B9%99%E5%8C%BB%E9%99%A2")
