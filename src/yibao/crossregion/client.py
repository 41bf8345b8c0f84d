"""The HTTP side of routing: the care region's client of the hub, and the hub's client of a region
(JSON over HTTP/1.1 keep-alive).  A timeout, a refused connection or a 5xx answer is :class:`Unreachable` —
the outcome is unknown and the caller must reverse.

Between services on a plain ``http://`` address with no proxy configured, requests go over the standard
library's ``http.client`` on a pool of kept-alive connections: about a third of httpx's CPU per request, and
a routed settlement makes two such requests (care region → hub → insured region).  The timeouts are the
same (connect at most 2 s, then each read and write within ``timeout``), a connection the other side has
closed is dropped before it is reused, and nothing is retried.  Any other address (``https``, a proxy in the
environment) goes through httpx as before."""

from __future__ import annotations

import http.client
import select
import threading
import urllib.parse
import urllib.request
from typing import Any

import httpx
import orjson

KEY_HEADER = "X-Yibao-Hub-Key"
_JSON = {"Content-Type": "application/json"}
_MAX_IDLE = 32  # kept-alive connections per peer, as the httpx pool's keep-alive limit


class Unreachable(Exception):
    """No usable answer in time: the outcome on the other side is unknown."""


class _Pool:
    """Kept-alive ``http.client`` connections to one ``http://host:port``; each call takes one (or opens a new
    one) and gives it back when the answer was read to the end and the server keeps it open."""

    def __init__(self, host: str, port: int, prefix: str, key: str, timeout: float) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.timeout = timeout
        self.connect_timeout = min(timeout, 2.0)
        self.headers = {KEY_HEADER: key, "Accept": "*/*", "User-Agent": "yibao-crossregion"}
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _take(self) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
                conn.connect()
                return conn
            sock = conn.sock
            # readable while idle: the server closed it (keep-alive expired) or sent something unasked
            if sock is None or select.select([sock], [], [], 0)[0]:
                conn.close()
                continue
            return conn

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float | None
    ) -> tuple[int, bytes]:
        conn: http.client.HTTPConnection | None = None
        try:
            conn = self._take()
            assert conn.sock is not None
            conn.sock.settimeout(self.timeout if timeout is None else timeout)
            conn.request(method, self.prefix + path, body=body, headers={**self.headers, **headers})
            r = conn.getresponse()
            content = r.read()
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        if r.will_close:
            conn.close()
        else:
            with self._lock:
                keep = len(self._idle) < _MAX_IDLE
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()
        return r.status, content

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


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
