"""The hub and two regions as separate processes on loopback (uvicorn subprocesses, each region with its own
database): visitors settle both ways in the same 2207 answer, msgid idempotency holds end to end, and when
the insured region stalls or is killed mid-load the care region reverses (2601) — at the end no money is
counted on one side only: care records, hub routes, the insured region's records and its ledger agree
settlement by settlement."""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from yibao.demo.crossregion import Cluster, institution
from yibao.ledger import Ledger

XIAN, WEINAN = "610100", "610500"
STALL_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # the hub waits 3 s for the insured region (the care region 4 s): on a loaded machine an ordinary
    # settlement stays well inside it, and the stall below (SIGSTOP) outlasts it
    c = Cluster.start(tmp_path_factory.mktemp("xr"), ["xian", "weinan"], persons=150, timeout=STALL_TIMEOUT)
    try:
        yield c
    finally:
        c.close()


def _msgid(care: str, n: int) -> str:
    return f"{institution(care)}{n:017d}"


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


_SERIAL = itertools.count(1)


class Counter:
    """A Xi'an hospital's counter running the national visit flow for a Weinan visitor."""

    def __init__(self, cluster: Cluster, care: str, insu: str) -> None:
        self.c, self.care, self.insu, self.sign_no = cluster, care, insu, ""

    def send(self, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
        code = institution(self.care)
        env = {"infno": infno, "msgid": f"{code}{time.strftime('%Y%m%d%H%M%S')}{next(_SERIAL) % 10_000:04d}",
               "mdtrtarea_admvs": self.care, "insuplc_admdvs": self.insu, "recer_sys_code": "YBXT",
               "infver": "V1.0", "opter_type": "1", "opter": "001", "opter_name": "收费员",
               "fixmedins_code": code, "fixmedins_name": "医院", "inf_time": "2025-06-10 09:00:00",
               "sign_no": self.sign_no, "input": payload}  # fmt: skip
        status, body = _post_token(
            self.c.procs[self.care].base + f"/fsi/api/{infno}", env, self.c.tokens[self.care]
        )
        assert status == 200, body
        body["msgid"] = env["msgid"]
        return dict(body)

    def ok(self, infno: str, payload: dict[str, Any]) -> Any:
        body = self.send(infno, payload)
        assert body["infcode"] == 0, body
        return body["output"]


def _post_token(url: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    from yibao.demo.crossregion import _post

    return _post(url, body, token)


OUTPATIENT_LINES = (
    ("XJ01DDA003B002010119046", "3.50", "20", "70.00"),
    ("003109020010000", "200.00", "1", "200.00"),
)
DAY = "2025-06-10"


def _inline_visit(care: str, psn_no: str, mdtrt_id: str) -> dict[str, Any]:
    return {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "fixmedins_code": institution(care),
            "hosp_lv": "3", "begntime": DAY, "endtime": DAY,
            "feedetail": [{"feedetl_sn": str(i + 1), "med_list_codg": code, "cnt": cnt, "pric": pric,
                           "det_item_fee_sumamt": amt, "fee_ocur_time": DAY, "bilg_dr_codg": "D01"}
                          for i, (code, pric, cnt, amt) in enumerate(OUTPATIENT_LINES)]}  # fmt: skip


def _flow_visit(counter: Counter, k: int, *, emergency: bool = False) -> tuple[str, str]:
    """1101 → 2201 → 2204 for Weinan person ``k`` at the Xi'an hospital (an emergency when ``emergency``);
    (psn_no, mdtrt_id)."""
    counter.sign_no = counter.ok("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "127.0.0.1"}})[
        "signinoutb"]["sign_no"]  # fmt: skip
    certno = f"{WEINAN}19700101{k:04d}"
    out = counter.ok(
        "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "psn_name": f"参保人{k}"}}
    )
    psn_no = out["baseinfo"]["psn_no"]
    assert psn_no == f"P{WEINAN}{k:06d}" and out["baseinfo"]["certno"] != certno  # masked
    reg = counter.ok("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": f"{DAY} 09:00:00",
                                       "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": f"MZ{k}",
                                       "atddr_no": "D01", "dr_name": "李医生", "dept_code": "NK01",
                                       "dept_name": "内科", "caty": "A03",
                                       **({"emergency": "1"} if emergency else {})}})  # fmt: skip
    mdtrt_id = reg["data"]["mdtrt_id"]
    rows = [{"feedetl_sn": str(i + 1), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
             "rx_circ_flag": "0", "fee_ocur_time": f"{DAY} 09:10:00", "med_list_codg": code,
             "medins_list_codg": "H" + code, "det_item_fee_sumamt": amt, "cnt": cnt, "pric": pric,
             "bilg_dept_codg": "NK01", "bilg_dept_name": "内科", "bilg_dr_codg": "D01", "bilg_dr_name": "李医生",
             "hosp_appr_flag": "1"} for i, (code, pric, cnt, amt) in enumerate(OUTPATIENT_LINES)]  # fmt: skip
    counter.ok("2204", {"feedetail": rows})
    return psn_no, mdtrt_id


def _settle_in(psn_no: str, mdtrt_id: str, certno: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "medfee_sumamt": "270.00",
                     "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": "310", "acct_used_flag": "1",
                     "chrg_bchno": "B1", "med_type": "11", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
                     "preselfpay_amt": "0", "inscp_scp_amt": "0"}}  # fmt: skip


MONEY = ("medfee_sumamt", "fulamt_ownpay_amt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "acct_pay",
         "psn_cash_pay")  # fmt: skip


def test_a_visitor_through_the_visit_flow_settles_to_the_fen_as_the_inline_2207(cluster: Cluster) -> None:
    # two Weinan persons alike (same insurance type, same account, nothing settled yet this year)
    env = {"infno": "2207", "msgid": _msgid(XIAN, 5), "mdtrtarea_admvs": XIAN, "insuplc_admdvs": WEINAN,
           "fixmedins_code": institution(XIAN), "input": {"data": _inline_visit(XIAN, f"P{WEINAN}000005", "MI5")}}  # fmt: skip
    status, inline = _post_token(cluster.procs[XIAN].base + "/fsi/api/2207", env, cluster.tokens[XIAN])
    assert status == 200 and inline["infcode"] == 0, inline
    counter = Counter(cluster, XIAN, WEINAN)
    psn_no, mdtrt_id = _flow_visit(counter, 7)
    certno = f"{WEINAN}19700101{7:04d}"
    # 2001 for the visitor: Weinan's benefit check answers (Weinan has no enrolment file here: not checked)
    check = counter.ok("2001", {"data": {"psn_no": psn_no, "insutype": "310", "med_type": "11", "fixmedins_code": institution(XIAN),
                                         "begntime": f"{DAY} 09:00:00"}})  # fmt: skip
    assert check["check"] == {"checked": False, "decision": "settle"}
    pre = counter.ok("2206", _settle_in(psn_no, mdtrt_id, certno))
    body = counter.send("2207", _settle_in(psn_no, mdtrt_id, certno))
    assert body["infcode"] == 0, body
    flow, a = body["output"]["setlinfo"], inline["output"]["setlinfo"]
    assert {k: flow[k] for k in MONEY} == {k: a[k] for k in MONEY}
    assert {k: pre["setlinfo"][k] for k in MONEY} == {k: a[k] for k in MONEY}
    assert float(a["fund_pay_sumamt"]) > 0
    # settled by the insured region, named as it knows the person, cleared through the hub
    assert flow["insuplc_admdvs"] == flow["clr_optins"] == WEINAN and flow["psn_name"] == "参保人7"
    assert body["output"]["crossregion"]["coverage"]["locality"] == "remote_unfiled"
    routed = {r["msgid"]: r for r in cluster.routes()}
    assert routed[body["msgid"]]["status"] == "settled" and routed[env["msgid"]]["status"] == "settled"
    assert routed[body["msgid"]]["fund_pay_sumamt"] == routed[env["msgid"]]["fund_pay_sumamt"]
    inbound = {r["msgid"]: r for r in cluster.records(WEINAN, "inbound")}
    assert inbound[body["msgid"]]["status"] == "settled"
    # 2208 at the care hospital cancels at the insured region through the hub; the lines are free again
    out = counter.ok("2208", {"data": {"setl_id": flow["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}})
    assert out["setlinfo"]["setl_id"] == flow["setl_id"]
    assert {r["msgid"]: r for r in cluster.records(WEINAN, "inbound")}[body["msgid"]]["status"] == "reversed"
    assert {r["msgid"]: r for r in cluster.routes()}[body["msgid"]]["status"] == "reversed"
    # 2601 of the inline 2207 at the care region: reversed at the insured region through the hub too
    rev = {"infno": "2601", "msgid": _msgid(XIAN, 6), "mdtrtarea_admvs": XIAN, "insuplc_admdvs": WEINAN,
           "fixmedins_code": institution(XIAN), "input": {"data": {"omsgid": env["msgid"], "oinfno": "2207"}}}  # fmt: skip
    status, undone = _post_token(cluster.procs[XIAN].base + "/fsi/api/2601", rev, cluster.tokens[XIAN])
    assert status == 200 and undone["infcode"] == 0 and undone["output"]["status"] == "reversed", undone
    assert {r["msgid"]: r for r in cluster.records(WEINAN, "inbound")}[env["msgid"]]["status"] == "reversed"
    again = counter.send("2207", _settle_in(psn_no, mdtrt_id, certno))
    assert again["infcode"] == 0 and {k: again["output"]["setlinfo"][k] for k in MONEY} == {
        k: a[k] for k in MONEY
    }


def test_an_emergency_visitor_in_the_flow_is_treated_as_filed_as_in_the_inline_2207(cluster: Cluster) -> None:
    # 异地急诊抢救 needs no filing: the 2201 says so, the insured region settles as filed, to the same fen
    data = {**_inline_visit(XIAN, f"P{WEINAN}000009", "MI9"), "emergency": "1"}
    env = {"infno": "2207", "msgid": _msgid(XIAN, 9), "mdtrtarea_admvs": XIAN, "insuplc_admdvs": WEINAN,
           "fixmedins_code": institution(XIAN), "input": {"data": data}}  # fmt: skip
    status, inline = _post_token(cluster.procs[XIAN].base + "/fsi/api/2207", env, cluster.tokens[XIAN])
    assert status == 200 and inline["infcode"] == 0, inline
    assert inline["output"]["crossregion"]["coverage"]["locality"] == "remote_filed"
    counter = Counter(cluster, XIAN, WEINAN)
    psn_no, mdtrt_id = _flow_visit(counter, 11, emergency=True)
    body = counter.send("2207", _settle_in(psn_no, mdtrt_id, f"{WEINAN}19700101{11:04d}"))
    assert body["infcode"] == 0, body
    assert body["output"]["crossregion"]["coverage"]["locality"] == "remote_filed"
    flow, a = body["output"]["setlinfo"], inline["output"]["setlinfo"]
    assert {k: flow[k] for k in MONEY} == {k: a[k] for k in MONEY}


def _weinan_voucher(cluster: Cluster, k: int) -> str:
    """An electronic voucher Weinan issues to its person ``k`` (signed with Weinan's key)."""
    import datetime as dt

    from yibao.voucher.store import VoucherStore

    with Ledger.open(cluster.procs[WEINAN].env["YIBAO_DATABASE_URL"]) as led:
        store = VoucherStore.open(led.sa_url)
    now = dt.datetime.now(dt.UTC)
    store.ensure_key(now)
    return store.issue(psn_no=f"P{WEINAN}{k:06d}", holder=f"P{WEINAN}{k:06d}", issued_by="app", now=now).token


def test_a_visitors_electronic_voucher_is_verified_by_the_insured_region_through_the_hub(
    cluster: Cluster,
) -> None:
    token = _weinan_voucher(cluster, 13)
    counter = Counter(cluster, XIAN, WEINAN)
    counter.sign_no = counter.ok("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "127.0.0.1"}})[
        "signinoutb"]["sign_no"]  # fmt: skip
    # Xi'an cannot verify Weinan's signature itself: presented as if local, the token is refused there
    local = Counter(cluster, XIAN, XIAN)
    local.sign_no = counter.sign_no
    refused = local.send("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
    assert refused["infcode"] == -1 and refused["err_code"] == "unknown_key", refused
    # with the insured region named, Weinan verifies it (through the hub) and the visit opens on it
    out = counter.ok("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
    psn_no = out["baseinfo"]["psn_no"]
    assert psn_no == f"P{WEINAN}000013" and out["insuinfo"][0]["insuplc_admdvs"] == WEINAN
    reg = counter.ok("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": f"{DAY} 09:00:00",
                                       "mdtrt_cert_type": "01", "mdtrt_cert_no": token, "ipt_otp_no": "MZV13",
                                       "atddr_no": "D01", "dr_name": "李医生", "dept_code": "NK01",
                                       "dept_name": "内科", "caty": "A03"}})  # fmt: skip
    assert reg["data"]["mdtrt_id"]
    # a voucher is used once: the same token again is refused by the insured region
    again = counter.send("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
    assert again["infcode"] == -1 and again["err_code"] == "replayed", again
    assert again["err_msg"].startswith("参保地拒绝") and again["err_field"] == "mdtrt_cert_no"


def test_a_visitor_not_presented_or_unknown_at_home_is_refused_in_the_flow(cluster: Cluster) -> None:
    counter = Counter(cluster, XIAN, WEINAN)
    counter.sign_no = counter.ok("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "127.0.0.1"}})[
        "signinoutb"]["sign_no"]  # fmt: skip
    body = counter.send("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": f"{WEINAN}19700101{8:04d}",
                                          "psn_name": "别人"}})  # fmt: skip
    assert body["infcode"] == -1 and body["err_code"] == "mismatch", body  # checked at home
    body = counter.send("1101", {"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "token"}})
    assert body["infcode"] == -1 and body["err_code"] == "code_table", body
    body = counter.send("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "not-a-voucher"}})
    assert body["infcode"] == -1 and body["err_msg"].startswith("参保地拒绝"), body  # read at home, refused
    body = counter.send("2201", {"data": {"psn_no": f"P{WEINAN}000009", "insutype": "310",
                                          "begntime": f"{DAY} 09:00:00", "mdtrt_cert_type": "02",
                                          "mdtrt_cert_no": f"{WEINAN}19700101{9:04d}", "ipt_otp_no": "MZ9",
                                          "atddr_no": "D01", "dr_name": "李医生", "dept_code": "NK01",
                                          "dept_name": "内科", "caty": "A03"}})  # fmt: skip
    assert body["infcode"] == -1 and body["err_code"] == "not_presented", body


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
        time.sleep(STALL_TIMEOUT + 1.6)  # longer than the hub's wait and the care region's (one second more)
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
