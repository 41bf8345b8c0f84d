"""The page walk shared by the browser test and the first-view benchmark: kinds, which links count, the
breadth-first order and the limit on kinds."""

from __future__ import annotations

import pytest

from yibao.web.walk import Walk, kind, page_links

BASE = "http://127.0.0.1:8000"


def test_a_kind_stars_record_ids_and_names_the_query_fields() -> None:
    assert kind(f"{BASE}/me/visits/V20250001") == "/me/visits/*"
    assert kind(f"{BASE}/me/visits/V20250002?x=1") == "/me/visits/*?x"
    assert kind(f"{BASE}/me/cases?kind=complaint&page=2&kind=x") == "/me/cases?kind&page"
    assert kind(f"{BASE}/dashboard/y2025") == "/dashboard/y2025"  # short: a name, not a record id


def test_only_same_site_pages_are_followed_not_files_apis_logout_or_mode_switches() -> None:
    hrefs = [
        "/me/cases#top",
        "visits/V20250001",
        "#top",
        "",
        None,
        "mailto:a@b.c",
        "javascript:void(0)",
        "https://example.org/x",
        "/logout",
        "/api/persons",
        "/me/report.csv",
        "/me/estimate?lang=en",
        "/me?big=1",
        "/me/download/1",
    ]
    assert page_links(f"{BASE}/me/", hrefs, BASE) == [f"{BASE}/me/cases", f"{BASE}/me/visits/V20250001"]


def test_the_walk_gives_one_page_of_each_kind_breadth_first() -> None:
    site = {
        "/home": ["/a/R1234567", "/b", "/a/R7654321"],
        "/a/R1234567": ["/c", "/home"],
        "/b": ["/c?q=1"],
        "/c": [],
        "/c?q=1": [],
    }
    walk = Walk(BASE, "/home", max_kinds=10)
    visited = []
    for url in walk:
        path = url.removeprefix(BASE)
        visited.append(path)
        walk.follow(url, site[path])
    assert visited == ["/home", "/a/R1234567", "/b", "/c", "/c?q=1"]
    assert walk.kinds == {"/home", "/a/*", "/b", "/c", "/c?q"}


def test_a_walk_reaching_more_kinds_than_its_limit_stops_with_an_error() -> None:
    walk = Walk(BASE, "/p0", max_kinds=3)
    with pytest.raises(RuntimeError, match="more than 3 kinds of page from /p0"):
        for n, url in enumerate(walk):
            walk.follow(url, [f"/p{n + 1}"])
