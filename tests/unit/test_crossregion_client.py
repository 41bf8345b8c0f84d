"""The routing client between services: JSON over kept-alive connections, the hub key on every request, a
connection the server closed dropped before reuse, and every missing answer (timeout, refused connection,
5xx, 401/403/404, not JSON) an :class:`Unreachable` — the outcome unknown, the caller reverses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from yibao.crossregion.client import KEY_HEADER, JsonClient, Unreachable


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    seen: ClassVar[list[dict[str, Any]]] = []
    close_after = False

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if type(self).close_after:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"path": self.path, "key": self.headers.get(KEY_HEADER),
                                "ctype": self.headers.get("Content-Type"), "body": body,
                                "peer": self.client_address[1]})  # fmt: skip
        if self.path.endswith("/slow"):
            time.sleep(0.6)
        if self.path.endswith("/boom"):
            self._answer(500, "服务器错误".encode())
        elif self.path.endswith("/forbidden"):
            self._answer(403, b'{"detail":"no"}')
        elif self.path.endswith("/refused"):
            self._answer(422, b'{"detail":[{"loc":["body","x"]}]}')
        elif self.path.endswith("/html"):
            self._answer(200, b"<html></html>", "text/html")
        elif self.path.endswith("/list"):
            self._answer(200, b"[1]")
        else:
            self._answer(200, json.dumps({"ok": True, "echo": json.loads(body)}).encode())

    def do_GET(self) -> None:
        if self.path.endswith("/missing"):
            self._answer(404, b"{}")
        else:
            self._answer(200, b'{"month":"2025-06"}')


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _Handler.seen = []
    _Handler.close_after = False
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: ThreadingHTTPServer, path: str = "") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_json_goes_with_the_key_and_the_answer_comes_back_as_bytes_and_object(
    server: ThreadingHTTPServer,
) -> None:
    c = JsonClient(_url(server, "/base/"), "k1", 3.0)
    raw, out = c.post_raw("/hub/v1/settle", {"msgid": "M1", "name": "参保人"})
    assert out == {"ok": True, "echo": {"msgid": "M1", "name": "参保人"}}
    assert json.loads(raw) == out
    assert c.post("/x", b'{"a":1}') == {"ok": True, "echo": {"a": 1}}  # bytes are sent as they are
    seen = _Handler.seen
    assert [s["path"] for s in seen] == ["/base/hub/v1/settle", "/base/x"]
    assert {s["key"] for s in seen} == {"k1"} and {s["ctype"] for s in seen} == {"application/json"}
    assert seen[0]["peer"] == seen[1]["peer"]  # one connection, kept alive
    assert c.get("/hub/v1/clearing/2025-06") == {"month": "2025-06"}
    c.close()


def test_a_connection_the_server_closed_is_not_reused(server: ThreadingHTTPServer) -> None:
    c = JsonClient(_url(server), "k", 3.0)
    _Handler.close_after = True
    assert c.post("/a", {"n": 1})["ok"]
    _Handler.close_after = False
    assert c.post("/b", {"n": 2})["ok"]
    assert c.post("/c", {"n": 3})["ok"]
    peers = [s["peer"] for s in _Handler.seen]
    assert peers[0] != peers[1] and peers[1] == peers[2]
    # the server drops every kept-alive connection (as uvicorn does when keep-alive expires): the next
    # call opens a new one instead of failing on the dead one
    server.shutdown()
    server.server_close()
    srv2 = ThreadingHTTPServer(("127.0.0.1", server.server_address[1]), _Handler)
    threading.Thread(target=srv2.serve_forever, daemon=True).start()
    try:
        time.sleep(0.05)
        assert c.post("/d", {"n": 4})["ok"]
    finally:
        srv2.shutdown()
        srv2.server_close()
    c.close()


@pytest.mark.parametrize("path", ["/boom", "/forbidden", "/html", "/list"])
def test_no_usable_answer_is_unreachable(server: ThreadingHTTPServer, path: str) -> None:
    c = JsonClient(_url(server), "k", 3.0)
    with pytest.raises(Unreachable):
        c.post(path, {"x": 1})
    assert c.post("/ok", {"x": 2})["ok"]  # and the client goes on working
    c.close()


def test_a_refusal_with_a_json_body_is_an_answer(server: ThreadingHTTPServer) -> None:
    c = JsonClient(_url(server), "k", 3.0)
    assert c.post("/refused", {"x": 1}) == {"detail": [{"loc": ["body", "x"]}]}
    with pytest.raises(Unreachable):
        c.get("/missing")
    c.close()


def test_a_late_answer_is_a_timeout_and_a_closed_port_refused(server: ThreadingHTTPServer) -> None:
    c = JsonClient(_url(server), "k", 0.2)
    with pytest.raises(Unreachable, match=r"timed out|Timeout"):  # the server answers after 0.6 s
        c.post("/slow", {"x": 1})
    assert c.post("/slow", {"x": 1}, timeout=3.0)["ok"]  # a longer wait for one call
    c.close()
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(Unreachable):
        JsonClient(f"http://127.0.0.1:{port}", "k", 1.0).post("/x", {"x": 1})


def test_https_and_proxied_addresses_go_through_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    assert JsonClient("https://hub.example", "k", 1.0)._pool is None
    assert JsonClient("http://127.0.0.1:9", "k", 1.0)._pool is not None
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "")
    assert JsonClient("http://hub.example:9000", "k", 1.0)._pool is None
