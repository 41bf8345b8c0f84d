"""The HTTP side of routing: the care region's client of the hub, and the hub's client of a region
(JSON over HTTP/1.1 keep-alive).  A timeout, a refused connection or a 5xx answer is :class:`Unreachable` —
the outcome is unknown and the caller must reverse.

Between services on a plain ``http://`` address with no proxy configured, requests go over a
urllib3 connection pool of kept-alive connections: less than half of httpx's CPU per request, and a routed
settlement makes two such requests (care region → hub → insured region).  The timeouts are the same
(connect at most 2 s, then each read within ``timeout``), a connection the other side has closed is dropped
before it is reused, and nothing is retried.  Any other address (``https``, a proxy in the
environment) goes through httpx as before."""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any

import httpx
import orjson
import urllib3

KEY_HEADER = "X-Yibao-Hub-Key"
_JSON = {"Content-Type": "application/json"}
_MAX_IDLE = 32  # kept-alive connections per peer, as the httpx pool's keep-alive limit


class Unreachable(Exception):
    """No usable answer in time: the outcome on the other side is unknown."""


class _Pool:
    """Kept-alive connections to one ``http://host:port`` (urllib3's connection pool: a connection the
    server closed is dropped before reuse; nothing is retried, so a lost answer stays unknown)."""

    def __init__(self, host: str, port: int, prefix: str, key: str, timeout: float) -> None:
        self.prefix = prefix
        self.headers = {KEY_HEADER: key, "Accept": "*/*", "User-Agent": "yibao-crossregion"}
        self._pool = urllib3.HTTPConnectionPool(
            host,
            port,
            timeout=_timeout(timeout),
            maxsize=_MAX_IDLE,
            block=False,
            retries=False,
        )

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float | None
    ) -> tuple[int, bytes]:
        try:
            r = self._pool.urlopen(
                method,
                self.prefix + path,
                body=body,
                headers={**self.headers, **headers},
                timeout=self._pool.timeout if timeout is None else _timeout(timeout),
                retries=False,
                redirect=False,
                assert_same_host=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        return r.status, r.data

    def close(self) -> None:
        self._pool.close()


def _timeout(seconds: float) -> urllib3.Timeout:
    """Connect within at most 2 s, then each read within ``seconds`` (as the httpx client's timeouts)."""
    return urllib3.Timeout(connect=min(seconds, 2.0), read=seconds)


def _pool_for(base_url: str, key: str, timeout: float) -> _Pool | None:
    """A pool for a plain ``http://`` address that no proxy setting applies to, else None (httpx)."""
    u = urllib.parse.urlsplit(base_url)
    if u.scheme != "http" or not u.hostname or u.username or u.password or u.query or u.fragment:
        return None
    proxies = urllib.request.getproxies()
    if ("http" in proxies or "all" in proxies) and not urllib.request.proxy_bypass(u.hostname):
        return None
    try:
        port = u.port or 80
    except ValueError:
        return None
    return _Pool(u.hostname, port, u.path.rstrip("/"), key, timeout)


class JsonClient:
    """POST JSON to ``base_url`` + path with the shared key, within ``timeout`` seconds."""

    def __init__(self, base_url: str, key: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._pool = _pool_for(self.base_url, key, timeout)
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
        if self._pool is not None:
            status, raw = self._pool.request("POST", path, content, _JSON, timeout)
        else:
            try:
                r = self._http.post(
                    self.base_url + path,
                    content=content,
                    headers=_JSON,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.HTTPError as exc:
                raise Unreachable(f"{type(exc).__name__}: {exc}") from None
            status, raw = r.status_code, r.content
        if status >= 500 or status in (401, 403, 404):
            raise Unreachable(f"HTTP {status}: {raw.decode('utf-8', 'replace')[:200]}")
        try:
            out = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Unreachable(f"HTTP {status}: not JSON") from None
        if not isinstance(out, dict):
            raise Unreachable("answer is not a JSON object")
        return raw, out

    def get(self, path: str) -> Any:
        if self._pool is not None:
            status, raw = self._pool.request("GET", path, None, {}, None)
            if status >= 400:
                raise Unreachable(f"HTTPStatusError: HTTP {status} for url '{self.base_url + path}'")
            return orjson.loads(raw)  # not JSON: a ValueError, as httpx's ``json()``
        try:
            r = self._http.get(self.base_url + path)
            r.raise_for_status()
            return r.json()
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._http.close()
