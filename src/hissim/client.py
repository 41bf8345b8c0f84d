"""HTTP transport: one envelope per POST, JSON in, JSON (or a raw file for 9102) out.

The path is a template: ``/fsi/api/{infno}`` puts the transaction code in the path, ``/api/transaction``
(or the national ``/fsi/api/rsfComIfsService/callService``) posts every transaction to one endpoint.
Numbers go out as strings (``"69.60"``, what HIS send in practice) or as JSON numbers; answers are parsed
with ``Decimal`` so no amount passes through a float.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx


class TransportError(RuntimeError):
    """The request did not get an HTTP answer (refused, reset, timed out)."""


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: status, parsed JSON body (None when not JSON), raw bytes, wall time in ms."""

    status: int
    body: Any
    raw: bytes
    elapsed_ms: float
    content_type: str = ""


@dataclass(frozen=True)
class PaasAuth:
    """Optional gateway headers in front of the platform: x-tif-signature = SHA-256(ts + token + nonce + ts)."""

    paas_id: str
    paas_token: str

    def headers(self, now_s: int) -> dict[str, str]:
        """The four x-tif-* headers for a request at unix time ``now_s``."""
        nonce = secrets.token_hex(8)
        ts = str(now_s)
        sig = hashlib.sha256(f"{ts}{self.paas_token}{nonce}{ts}".encode()).hexdigest()
        return {
            "x-tif-paasid": self.paas_id,
            "x-tif-timestamp": ts,
            "x-tif-nonce": nonce,
            "x-tif-signature": sig,
        }


def _plain(value: Any, numbers: str) -> Any:
    if isinstance(value, Decimal):
        return str(value) if numbers == "string" else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v, numbers) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, numbers) for v in value]
    return value


def encode(envelope: Mapping[str, Any], numbers: Literal["string", "number"] = "string") -> bytes:
    """The JSON body of an envelope; Decimal amounts as strings or JSON numbers."""
    return json.dumps(_plain(envelope, numbers), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(raw: bytes) -> Any:
    """Parse a JSON answer with exact decimals; None when the body is not JSON."""
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass
class HttpClient:
    """Posts envelopes to ``base_url`` + ``path`` (``{infno}`` is replaced by the transaction code).

    ``transport`` "httpx" (default) or "stdlib": the standard library's keep-alive ``http.client``, about a
    quarter of httpx's CPU per request — for benchmarks where the simulator shares the cores with the server.
    """

    base_url: str
    path: str = "/fsi/api/{infno}"
    timeout: float = 30.0
    numbers: Literal["string", "number"] = "string"
    headers: dict[str, str] = field(default_factory=dict)
    paas: PaasAuth | None = None
    transport: Literal["httpx", "stdlib"] = "httpx"
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _conn: http.client.HTTPConnection | None = field(default=None, init=False, repr=False)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout)
        return self._client

    def url_for(self, infno: str) -> str:
        """The request path for ``infno``."""
        return self.path.replace("{infno}", infno)

    def post(self, infno: str, envelope: Mapping[str, Any]) -> Answer:
        """POST one envelope and return the answer (raises httpx errors on transport failure)."""
        headers = {"Content-Type": "application/json;charset=utf-8", **self.headers}
        if self.paas is not None:
            headers.update(self.paas.headers(int(time.time())))
        body = encode(envelope, self.numbers)
        t0 = time.perf_counter()
        if self.transport == "stdlib":
            status, raw, ctype = self._post_stdlib(self.url_for(infno), body, headers)
        else:
            try:
                resp = self._http().post(self.url_for(infno), content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
            status, raw, ctype = resp.status_code, resp.content, resp.headers.get("content-type", "")
        elapsed = (time.perf_counter() - t0) * 1000.0
        parsed = decode(raw) if "json" in ctype or raw[:1] in (b"{", b"[") else None
        return Answer(status, parsed, raw, elapsed, ctype)

    def _post_stdlib(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        parts = urlsplit(self.base_url)
        full = (parts.path.rstrip("/") + path) or "/"
        for attempt in (0, 1):  # a kept-alive connection the server closed is opened again once
            if self._conn is None:
                cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
                self._conn = cls(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout)
            try:
                self._conn.request("POST", full, body=body, headers=headers)
                resp = self._conn.getresponse()
                return resp.status, resp.read(), resp.getheader("content-type") or ""
            except (http.client.HTTPException, OSError) as exc:
                self._conn.close()
                self._conn = None
                if attempt or isinstance(exc, TimeoutError):
                    raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        raise TransportError("unreachable")  # pragma: no cover

    def login(self, path: str, username: str, password: str) -> str:
        """Log in to a service that wants a bearer token (yibao: ``POST /auth/login``); keeps the token."""
        resp = self._http().post(path, json={"username": username, "password": password})
        resp.raise_for_status()
        token = str(resp.json()["token"])
        self.headers["Authorization"] = f"Bearer {token}"
        return token

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
