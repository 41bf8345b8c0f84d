"""The API benchmark sends visits in the JSON the settlement edge reads: the round trip is exact."""

from __future__ import annotations

import json

from yibao.bench.api import visit_json
from yibao.bench.settle_db import DAY, _visits
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement import io as sio


def test_bench_visits_round_trip_through_the_settlement_edge() -> None:
    book = PolicyBook.from_file(example_path("xian"))
    for v in _visits(book, 50, 100, 20, 3, None, DAY):
        assert sio.parse_visit(sio.loads(json.dumps(visit_json(v)))) == v
