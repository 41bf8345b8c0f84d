"""Every kind of page a role reaches from its home by following links on the same site: the one walk that
the browser test (tests/e2e/test_axe_pages.py) and the first-view benchmark (benchmarks/pages_ttfb.py)
share.

A page's kind is its path with record ids starred and the names of its query's fields (/me/visits/A and
/me/visits/B are one kind, /me/cases and /me/cases?kind=complaint two).  The walk is breadth first, one page
of each kind; it leaves out links that are not pages (leaving the session, files, machine interfaces, the
API's own docs) and the mode switches (``lang=``, ``big=``: each mode is walked on its own).  It fetches
nothing itself: the caller loads each page the walk gives (in a browser or with an HTTP client) and hands
back the links it found there."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, urljoin, urlsplit

# links that are not pages to visit: leaving the session, files, machine interfaces, the API's own docs
SKIP = (
    "/logout",
    "/api/",
    "/fhir",
    "/docs",
    "/redoc",
    "/openapi",
    ".json",
    ".csv",
    ".js",
    ".png",
    "/download",
)
MODE_SWITCHES = ("lang=", "big=")


def kind(url: str) -> str:
    """The kind of page at ``url``: its path with record ids starred (a segment longer than six characters
    with a digit in it), and the sorted names of its query's fields."""
    parts = urlsplit(url)
    path = "/".join(
        "*" if any(c.isdigit() for c in seg) and len(seg) > 6 else seg for seg in parts.path.split("/")
    )
    fields = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(fields) if fields else "")


def page_links(page_url: str, hrefs: Iterable[str | None], base: str) -> list[str]:
    """The links among ``hrefs`` (as written on the page at ``page_url``) to pages to visit on ``base``
    (``scheme://host:port``): absolute, without their fragment, in the order found."""
    out = []
    for h in hrefs:
        if not h or h.startswith(("#", "mailto:", "javascript:")):
            continue
        url = urljoin(page_url, h)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != base or any(s in parts.path for s in SKIP):
            continue
        if any(m in parts.query for m in MODE_SWITCHES):
            continue
        out.append(url.split("#", 1)[0])
    return out


class Walk:
    """The breadth-first walk from ``home``: iterate it for the next page of a kind not yet visited, and
    ``follow`` the links found on each page as it is read.  ``kinds`` is every kind given so far (those
    whose page turned out not to be HTML or to fail included); more than ``max_kinds`` kinds raises
    ``RuntimeError``, as the walk would otherwise stop short of some."""

    def __init__(self, base: str, home: str, *, max_kinds: int) -> None:
        self.base = base
        self.home = home
        self.max_kinds = max_kinds
        self.kinds: set[str] = set()
        self._queue: list[str] = [f"{base}{home}"]
        self._queued: set[str] = set(self._queue)

    def __iter__(self) -> Iterator[str]:
        while self._queue:
            url = self._queue.pop(0)
            k = kind(url)
            if k in self.kinds:
                continue
            self.kinds.add(k)
            if len(self.kinds) > self.max_kinds:
                raise RuntimeError(
                    f"more than {self.max_kinds} kinds of page from {self.home}: raise the limit"
                )
            yield url

    def follow(self, page_url: str, hrefs: Iterable[str | None]) -> None:
        """Queue the links to pages among ``hrefs``, found on the page at ``page_url``."""
        for url in page_links(page_url, hrefs, self.base):
            if url not in self._queued:
                self._queued.add(url)
                self._queue.append(url)
