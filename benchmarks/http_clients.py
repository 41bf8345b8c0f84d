"""Client CPU per request of the HTTP clients a service could use between services (httpx, urllib3's
connection pool, the standard library's ``http.client``), each on one kept-alive connection to a local
echo server, alternated in rounds in one process.  The figure is the calling thread's CPU time per
request (the server runs in other threads), so it holds on a busy machine.

    python benchmarks/http_clients.py [ROUNDS] [REQUESTS]

Prints JSON lines ``http.client_cpu`` with min and median µs per request; asserts nothing."""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import urllib3


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(rounds: int = 5, requests: int = 400) -> None:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    body = json.dumps({"msgid": "M" * 30, "payload": "x" * 800}).encode()
    headers = {"Content-Type": "application/json", "X-Key": "k"}
    hx = httpx.Client(timeout=5)
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=32, block=False, retries=False)
    hc = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def with_httpx() -> bytes:
        return hx.post(f"http://127.0.0.1:{port}/a", content=body, headers=headers).content

    def with_urllib3() -> bytes:
        r = pool.urlopen("POST", "/a", body=body, headers=headers, retries=False, redirect=False)
        return bytes(r.data)

    def with_http_client() -> bytes:
        hc.request("POST", "/a", body=body, headers=headers)
        return hc.getresponse().read()

    clients: dict[str, Callable[[], bytes]] = {
        "httpx": with_httpx,
        "urllib3": with_urllib3,
        "http.client": with_http_client,
    }
    per: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(rounds):
        for name, call in clients.items():
            for _ in range(50):
                call()
            t0 = time.thread_time()
            for _ in range(requests):
                call()
            per[name].append((time.thread_time() - t0) / requests * 1e6)
    for name, xs in per.items():
        row = {
            "bench": "http.client_cpu",
            "client": name,
            "min_us": round(min(xs)),
            "median_us": round(statistics.median(xs)),
        }
        print(json.dumps(row), flush=True)
    srv.shutdown()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
