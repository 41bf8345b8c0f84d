"""The HTTP side of routing: the care region's client of the hub, and the hub's client of a region
(httpx, JSON).  A timeout, a refused connection or a 5xx answer is :class:`Unreachable` — the outcome is
unknown and the caller must reverse."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

KEY_HEADER = "X-Yibao-Hub-Key"
_JSON = {"Content-Type": "application/json"}


class Unreachable(Exception):
    """No usable answer in time: the outcome on the other side is unknown."""


class JsonClient:
    """POST JSON to ``base_url`` + path with the shared key, within ``timeout`` seconds."""

    def __init__(self, base_url: str, key: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            headers={KEY_HEADER: key},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def post(self, path: str, body: dict[str, Any] | bytes, timeout: float | None = None) -> dict[str, Any]:
        return self.post_raw(path, body, timeout)[1]

    def post_raw(
        self, path: str, body: dict[str, Any] | bytes, timeout: float | None = None
    ) -> tuple[bytes, dict[str, Any]]:
        """POST ``body`` (an object, or JSON bytes already encoded: a relay sends on what it received) and
        return the answer's bytes with the object they hold."""
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        try:
            r = self._http.post(
                self.base_url + path,
                content=content,
                headers=_JSON,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 500 or r.status_code in (401, 403, 404):
            raise Unreachable(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            out = orjson.loads(r.content)
        except orjson.JSONDecodeError:
            raise Unreachable(f"HTTP {r.status_code}: not JSON") from None
        if not isinstance(out, dict):
            raise Unreachable("answer is not a JSON object")
        return r.content, out

    def get(self, path: str) -> Any:
        try:
            r = self._http.get(self.base_url + path)
            r.raise_for_status()
            return r.json()
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._http.close()
