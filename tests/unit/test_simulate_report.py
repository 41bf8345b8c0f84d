"""The HTML report is one self-contained file; the JSON carries fen integers and yuan strings."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from yibao.policy.book import PolicyBook
from yibao.simulate import SimulationReport, render_html, simulate_frames, to_json, write_html
from yibao.simulate.sample import make_sample

FIXTURE = Path(__file__).parent.parent / "fixtures" / "region.yaml"
VOID = {"meta", "br", "link", "img", "input", "hr", "source", "col", "area", "base", "wbr"}


@pytest.fixture(scope="module")
def report() -> SimulationReport:
    book = PolicyBook.from_file(FIXTURE)
    persons, visits, lines = make_sample(book, n_persons=400, seed=2)
    return simulate_frames(book, book, persons, visits, lines)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.ids: set[str] = set()
        self._script: dict[str, str | None] | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href", "action", "data", "poster"):
            if a.get(name):
                self.refs.append((tag, name, a[name] or ""))
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "script":
            self._script, self._buf = a, []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buf)))
            self._script = None
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> after {self.stack[-3:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._buf.append(data)


def test_html_is_self_contained_and_parses(tmp_path: Path, report: SimulationReport) -> None:
    path = write_html(report, tmp_path / "out" / "report.html")
    text = path.read_text(encoding="utf-8")
    p = _Collector()
    p.feed(text)
    p.close()
    assert p.stack == []
    assert p.refs == []  # no src= / href= at all, so nothing external
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", text, re.I)
    assert len(p.scripts) == 3
    lib = p.scripts[0][1]
    assert "echarts" in lib and 'version="6.1.0"' in lib and len(lib) > 500_000
    data = json.loads(p.scripts[1][1])
    assert p.scripts[1][0].get("type") == "application/json"
    assert data["funds"] == to_json(report)["funds"]
    for chart in ("ch-funds", "ch-oop-q", "ch-che", "ch-hist", "ch-months"):
        assert chart in p.ids and chart in p.scripts[2][1]
    assert {f"ch-ratio-{d}" for d in ("insutype", "hosp_lv", "med_type", "age_band", "quintile")} <= p.ids
    assert text.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in text
    for label in (
        "基金支出变化",
        "个人负担变化",
        "灾难性卫生支出发生率",
        "基金可支付月数",
        "Who gains and who loses",
    ):
        assert label in text


def test_render_escapes_text_into_the_page(report: SimulationReport) -> None:
    report.narrative = {"zh": "<script>alert(1)</script>", "en": "a & b"}
    html = render_html(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_json_money_in_fen_with_yuan_strings(report: SimulationReport) -> None:
    body = to_json(report)
    json.dumps(body, allow_nan=False)
    pool = next(f for f in body["funds"] if f["key"] == "hifp_pay")
    assert isinstance(pool["baseline_fen"], int)
    assert pool["baseline_yuan"] == f"{pool['baseline_fen'] // 100}.{pool['baseline_fen'] % 100:02d}"
    mp = body["months_payable"][0]
    assert isinstance(mp["opening_fen"], int) and "opening_yuan" in mp
    assert set(body) >= {
        "meta",
        "funds",
        "oop",
        "effective_ratio",
        "che",
        "equity",
        "months_payable",
        "winners",
        "policy_diff",
        "narrative",
        "assumptions",
    }
