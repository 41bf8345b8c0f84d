"""Warm-up at start-up: what the first view of a page would otherwise pay for (compiling every page
template, reading the parameter files and the institution registry, opening the per-process stores,
building the dashboard's frames), done once in the app's lifespan before it takes requests.

A page module that has something to warm offers ``warm(request)``; the request is not served, it only
carries the app to the accessors that cache on ``app.state``.  A warmer that fails is logged and
skipped: the page then pays on its first view, as it would without warm-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from jinja2 import Environment

log = logging.getLogger("yibao.web.warm")
Warmer = Callable[[Request], None]


def compile_templates(env: Environment) -> int:
    """Compile every ``.html`` template of ``env`` into its cache → how many."""
    names = env.list_templates(extensions=["html"])
    for name in names:
        env.get_template(name)
    return len(names)


def warm_request(app: FastAPI) -> Request:
    """A request object that only carries ``app`` (for the accessors that cache on ``app.state``)."""
    return Request(
        {"type": "http", "app": app, "method": "GET", "path": "/", "headers": [], "query_string": b""}
    )


def warm_up(app: FastAPI, warmers: list[tuple[str, Warmer]]) -> dict[str, float]:
    """Run each warmer once → seconds taken per warmer (the failed ones logged and left out)."""
    request = warm_request(app)
    took: dict[str, float] = {}
    for name, warm in warmers:
        t = time.perf_counter()
        try:
            warm(request)
        except Exception:  # a warmer must never stop the service from starting
            log.exception("warm-up of %s failed; its pages pay on their first view", name)
            continue
        took[name] = time.perf_counter() - t
    log.info("warm-up: %s", ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in took.items()))
    return took
