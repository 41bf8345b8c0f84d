"""Warm-up at start-up (yibao.web.warm): once the app's lifespan has started, the page templates are
compiled and the pages' caches filled, so the first view does not pay for them; and a warmer that fails
does not stop the service."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.settings import Settings
from yibao.web.app import create_app
from yibao.web.dashboard import pages as dashboard_pages
from yibao.web.portal import pages as portal_pages

CACHED_ON_STATE = (
    "portal_store",
    "family_store",
    "institution_names",
    "dashboard_frames",
    "audit_case_params",
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("warm") / "demo.db", persons=40)


def _compiled(env: object) -> set[str]:
    cache = getattr(env, "cache", None)
    return {name for (_loader, name) in (cache or {}).keys()}


def test_the_lifespan_compiles_every_page_template_and_fills_the_page_caches(seeded: Seeded) -> None:
    portal_pages.templates.env.cache.clear()  # type: ignore[union-attr]
    dashboard_pages.templates.env.cache.clear()  # type: ignore[union-attr]
    app = create_app(Settings(database_url=seeded.url, demo=True, warm_up=True))
    assert not any(hasattr(app.state, k) for k in CACHED_ON_STATE)
    with TestClient(app):
        for env in (portal_pages.templates.env, dashboard_pages.templates.env):
            assert set(env.list_templates(extensions=["html"])) <= _compiled(env)
        missing = [k for k in CACHED_ON_STATE if getattr(app.state, k, None) is None]
        assert missing == []


def test_without_warm_up_nothing_is_filled_before_the_first_request(seeded: Seeded) -> None:
    app = create_app(Settings(database_url=seeded.url, demo=True, warm_up=False))
    with TestClient(app):
        assert getattr(app.state, "dashboard_frames", None) is None


def test_a_warmer_that_fails_is_logged_and_the_service_starts(
    seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database_url=seeded.url, demo=True, warm_up=True))

    def broken(_request: object) -> None:
        raise RuntimeError("registry unreadable")

    app.state.warmers.insert(0, ("broken", broken))
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert getattr(app.state, "portal_store", None) is not None  # the others still ran
    assert "warm-up of broken failed" in caplog.text
