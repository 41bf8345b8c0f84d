"""The hub and two regions as separate processes on loopback (uvicorn subprocesses, each region with its own
database): visitors settle both ways in the same 2207 answer, msgid idempotency holds end to end, and when
the insured region stalls or is killed mid-load the care region reverses (2601) — at the end no money is
counted on one side only: care records, hub routes, the insured region's records and its ledger agree
settlement by settlement."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from yibao.demo.crossregion import Cluster
from yibao.ledger import Ledger

XIAN, WEINAN = "610100", "610500"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster.start(tmp_path_factory.mktemp("xr"), ["xian", "weinan"], persons=150, timeout=1.0)
    try:
        yield c
    finally:
        c.close()


def _msgid(care: str, n: int) -> str:
    return f"H{care}0001{n:018d}"


def test_visitors_settle_both_ways_under_the_insured_regions_policy(cluster: Cluster) -> None:
    status, a = cluster.settle(XIAN, WEINAN, 1, _msgid(XIAN, 1))
    assert status == 200 and a["infcode"] == 0, a
    status, b = cluster.settle(WEINAN, XIAN, 1, _msgid(WEINAN, 1))
    assert status == 200 and b["infcode"] == 0, b
    sa, sb = a["output"]["setlinfo"], b["output"]["setlinfo"]
    # each answer was settled by the insured region: its code, its persons, its policy's deductible
    assert (sa["insuplc_admdvs"], sa["psn_no"]) == (WEINAN, "P610500000001")
    assert (sb["insuplc_admdvs"], sb["psn_no"]) == (XIAN, "P610100000001")
    assert sa["medfee_sumamt"] == sb["medfee_sumamt"] == "1995.00"
    assert (sa["act_pay_dedc"], sb["act_pay_dedc"]) == ("800.00", "1200.00")  # Weinan L3 800, Xi'an L3 1200
    assert a["output"]["crossregion"]["coverage"]["locality"] == "remote_unfiled"
    # the same msgid again: the first answer, nothing settled twice
    _status, again = cluster.settle(XIAN, WEINAN, 1, _msgid(XIAN, 1))
    assert again["output"]["setlinfo"]["setl_id"] == sa["setl_id"] and again["output"]["replayed"] is True
    assert sum(r["msgid"] == _msgid(XIAN, 1) for r in cluster.routes()) == 1


def test_an_unknown_visitor_is_refused_and_nothing_is_counted(cluster: Cluster) -> None:
    _status, a = cluster.settle(XIAN, WEINAN, 99_999, _msgid(XIAN, 2))
    assert a["infcode"] == -1 and a["err_code"] == "unknown_person", a
    [row] = [r for r in cluster.records(XIAN, "outbound") if r["msgid"] == _msgid(XIAN, 2)]
    assert row["status"] == "refused"
    assert not [r for r in cluster.records(WEINAN, "inbound") if r["msgid"] == _msgid(XIAN, 2)]


def _load(cluster: Cluster, first: int, n: int, action: Any, after: int = 5) -> list[dict[str, Any]]:
    """``n`` visitors from Weinan treated in Xi'an, 8 at a time; ``action()`` starts in parallel once
    ``after`` of them have been answered, so the rest run into it whatever the machine's speed."""
    done = [0]
    lock = threading.Lock()
    side = threading.Thread(target=action)

    def one(k: int) -> dict[str, Any]:
        body = cluster.settle(XIAN, WEINAN, 10 + k, _msgid(XIAN, k), 20.0)[1]
        with lock:
            done[0] += 1
            if done[0] == after:
                side.start()
        return dict(body)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(first, first + n)))
    side.join()
    return results


def test_stall_and_kill_of_the_insured_region_leave_nothing_one_sided(cluster: Cluster) -> None:
    weinan = cluster.procs[WEINAN]

    def stall() -> None:
        weinan.signal(signal.SIGSTOP)
        time.sleep(1.6)
        weinan.signal(signal.SIGCONT)

    first = _load(cluster, 100, 40, stall)
    assert any(r["infcode"] == 0 for r in first)
    assert any(r.get("err_code") == "remote_timeout" for r in first), "the stall produced no timeout"

    def kill() -> None:
        weinan.signal(signal.SIGKILL)

    second = _load(cluster, 200, 30, kill)
    assert any(r.get("err_code") == "remote_timeout" for r in second)
    cluster.restart(WEINAN)
    # the care region reverses what never got an answer, until the insured region confirms
    for _ in range(10):
        if cluster.resolve(XIAN)["waiting"] == 0:
            break
        time.sleep(0.5)

    answered = {r["output"]["setlinfo"]["setl_id"] for r in first + second if r["infcode"] == 0}
    sent = {_msgid(XIAN, k) for k in (*range(100, 140), *range(200, 230))}
    care = {r["msgid"]: r for r in cluster.records(XIAN, "outbound") if r["msgid"] in sent}
    insured = {r["msgid"]: r for r in cluster.records(WEINAN, "inbound") if r["msgid"] in sent}
    hub = {r["msgid"]: r for r in cluster.routes() if r["msgid"] in sent}
    assert set(care) == sent
    assert {r["status"] for r in care.values()} <= {"settled", "reversed", "refused"}
    assert {r["status"] for r in insured.values()} <= {"settled", "reversed"}
    settled_care = {m for m, r in care.items() if r["status"] == "settled"}
    settled_insured = {m for m, r in insured.items() if r["status"] == "settled"}
    settled_hub = {m for m, r in hub.items() if r["status"] == "settled"}
    assert settled_care == settled_insured == settled_hub
    assert {care[m]["setl_id"] for m in settled_care} == answered  # every success answer, and only those
    assert any(r["status"] == "reversed" for r in care.values())
    for m in settled_care:
        for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay"):
            assert care[m][k] == insured[m][k] == hub[m][k], (m, k)
    # the insured region's ledger: active exactly for the settled, reversed for the rest it ever wrote
    with Ledger.open(cluster.procs[WEINAN].env["YIBAO_DATABASE_URL"]) as led:
        for m, r in insured.items():
            msg = led.message(m)
            if r["status"] == "settled":
                assert msg is not None and led.get_settlement(msg.setl_id).status == "active", m
            elif msg is not None:
                assert led.get_settlement(msg.setl_id).status != "active", m
        verify = led.verify()
    assert verify.ok, verify


def test_a_region_file_reconciles_against_the_hub_listing_each_break(
    cluster: Cluster, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from yibao.cli import app
    from yibao.demo.crossregion import HUB_KEY
    from yibao.money import fen_to_yuan

    mine = [r for r in cluster.records(XIAN, "outbound") if r["status"] in ("settled", "reversed")]
    settled = [r for r in mine if r["status"] == "settled"]
    assert len(settled) >= 2
    changed, dropped = settled[0]["msgid"], settled[1]["msgid"]
    lines = ["msgid,status,owed"]
    for r in mine:
        owed = r["fund_pay_sumamt"] + r["acct_pay"] + (100 if r["msgid"] == changed else 0)
        if r["msgid"] != dropped:
            lines.append(f"{r['msgid']},{r['status']},{fen_to_yuan(owed)}")
    f = tmp_path / "xian.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["crossregion", "reconcile", "--file", str(f), "--admdvs", XIAN,
                                   "--hub", cluster.procs["hub"].base, "--key", HUB_KEY])  # fmt: skip
    assert res.exit_code == 1, res.output
    out = json.loads(res.output)
    assert {(b["msgid"], b["kind"], b["action"]) for b in out["breaks"]} == {
        (changed, "amount_differs", "adopt_insured_amount"),
        (dropped, "missing_here", "reverse_at_insured"),
    }
