"""Envelope building: msgid layout and serials, inf_time, sign_no, SM3/SM2 cainfo; the JSON codec."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hissim.client import PaasAuth, decode, encode
from hissim.envelope import (
    Institution,
    MsgIdSequence,
    Operator,
    Sm2Signer,
    Sm3Signer,
    build_request,
    canonical_bytes,
    sm2_keypair,
    sm2_public_key,
    sm3_hex,
    verify_cainfo,
)
from hissim.spec import load_spec
from hissim.validate import validate_request

INST = Institution("H61010000001", "模拟医院01", "610100")
T = datetime(2026, 12, 7, 9, 30, 0)


def test_msgid_is_code_time_and_a_four_digit_serial_per_second():
    seq = MsgIdSequence(INST.fixmedins_code)
    a, b = seq.next(T), seq.next(T)
    assert a == "H61010000001" + "20261207093000" + "0001"
    assert b is not None and b.endswith("0002") and len(b) == 30
    c = seq.next(T + timedelta(seconds=1))
    assert c is not None and c.endswith("0001") and c[12:26] == "20261207093001"


def test_msgid_serials_run_out_at_9999_within_a_second():
    seq = MsgIdSequence(INST.fixmedins_code)
    ids = {seq.next(T) for _ in range(9999)}
    assert len(ids) == 9999 and None not in ids
    assert seq.next(T) is None
    assert seq.next(T + timedelta(seconds=1)) is not None


def test_msgid_never_goes_back_when_the_clock_does():
    seq = MsgIdSequence(INST.fixmedins_code)
    first = seq.next(T)
    earlier = seq.next(T - timedelta(seconds=5))
    assert first is not None and earlier is not None
    assert earlier[12:26] == first[12:26] and earlier > first


def test_institution_code_must_be_12_characters_and_region_6_digits():
    with pytest.raises(ValueError, match="12"):
        Institution("H6101", "x", "610100")
    with pytest.raises(ValueError, match="6"):
        Institution("H61010000001", "x", "6101")


def test_built_envelope_conforms_to_the_spec_and_carries_sign_no():
    env = build_request(
        "2202",
        {"data": {"psn_no": "P1", "mdtrt_id": "M1", "ipt_otp_no": "MZ1"}},
        institution=INST,
        operator=Operator(),
        msgid="H61010000001202612070930000001",
        now=T,
        sign_no="610100202612070900000000000001",
        insuplc_admdvs="610100",
    )
    assert env["inf_time"] == "2026-12-07 09:30:00"
    assert env["sign_no"] == "610100202612070900000000000001"
    assert env["mdtrtarea_admvs"] == "610100" and env["recer_sys_code"] == "YBXT"
    assert validate_request(load_spec(), env) == []


def test_sm3_matches_the_standard_test_vector():
    # GB/T 32905-2016 appendix A: SM3("abc")
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def _signed(signer):
    return build_request(
        "2205",
        {"data": {"mdtrt_id": "M1", "chrg_bchno": "B1", "psn_no": "P1"}},
        institution=INST,
        operator=Operator(),
        msgid="H61010000001202612070930000001",
        now=T,
        signer=signer,
    )


def test_sm3_cainfo_covers_the_envelope_and_detects_tampering():
    env = _signed(Sm3Signer())
    assert env["signtype"] == "SM3" and len(env["cainfo"]) == 64
    assert verify_cainfo(env)
    env["input"]["data"]["psn_no"] = "P2"
    assert not verify_cainfo(env)


def test_sm2_cainfo_verifies_with_the_public_key_only():
    private, public = sm2_keypair()
    env = _signed(Sm2Signer(private, public))
    assert env["signtype"] == "SM2"
    assert verify_cainfo(env, public)
    _, other_public = sm2_keypair()
    assert not verify_cainfo(env, other_public)
    env["inf_time"] = "2026-12-07 09:30:01"
    assert not verify_cainfo(env, public)


# Test keys d·G whose x starts with the digits gmssl's ``str.lstrip("04")`` ate (one random key in 256 starts
# with the byte 04; the 04‖x‖y form of any x starting with 0 or 4): private d → public x‖y.
SM2_EDGE_KEYS = {
    11: "04b3cb10c9c6d8e27c1aab770f67f543125dcdd589c2ff82668c74d78ce20ace63516355287e39fe4918e5c02e2b0b930c94816e63c4bc72739a8fd805174a4b",
    327: "00d062045840b1f4b0a64d6e6c5bc582079fc0af8c366eba632b35f5e217385b5032f04533c064a41a7616cbb528b168c79a247d46f1c3667e1a2f5921aca9a4",
    65: "403b18162679c05515a8ecd063d726ba7b1eb83b8306ace5cd382e53ed23ae1feb42ebf496a7bd698d61a1c805ef7074df882dfcffcc84bcd0a5d4ebea56f425",
    138: "44699e38ee0a6581b3b53dc1f68518216566180c005efe01b887bb864c795fb307173dff1b5350f7a244bb60d708e2191fcbc68cd58d1cd61c55a93806333642",
}


@pytest.mark.parametrize("d", sorted(SM2_EDGE_KEYS))
@pytest.mark.parametrize("form", ["xy", "04xy", "upper"])
def test_sm2_signs_and_verifies_with_keys_whose_x_starts_with_0_or_4(d, form):
    public = SM2_EDGE_KEYS[d]
    given_key = {"xy": public, "04xy": "04" + public, "upper": public.upper()}[form]
    env = _signed(Sm2Signer(f"{d:064x}", given_key))
    assert verify_cainfo(env, given_key) and verify_cainfo(env, public)
    assert sm2_public_key(given_key) == public
    env["inf_time"] = "2026-12-07 09:30:01"
    assert not verify_cainfo(env, given_key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        SM2_EDGE_KEYS[11][:-2],  # 126 hex
        "z" + SM2_EDGE_KEYS[11][1:],
        SM2_EDGE_KEYS[11][:-1] + "c",  # y changed: not on the curve
    ],
)
def test_a_malformed_sm2_public_key_is_refused_and_verifies_nothing(key):
    env = _signed(Sm2Signer(f"{11:064x}", SM2_EDGE_KEYS[11]))
    with pytest.raises(ValueError):
        sm2_public_key(key)
    assert not verify_cainfo(env, key)


@given(st.text())
@example("zz" * 64)
@example("0" * 128)
@example("f" * 128)
def test_any_sm2_cainfo_text_is_answered_not_raised(cainfo):
    env = {**_signed(None), "signtype": "SM2", "cainfo": cainfo}
    assert verify_cainfo(env, SM2_EDGE_KEYS[11]) is False


def test_canonical_bytes_ignore_signature_fields_and_key_order():
    a = {"b": Decimal("1.50"), "a": "x", "cainfo": "1", "signtype": "SM3"}
    b = {"a": "x", "b": Decimal("1.50")}
    assert canonical_bytes(a) == canonical_bytes(b) == b'{"a":"x","b":"1.50"}'


def test_json_codec_keeps_amounts_exact():
    body = encode({"input": {"medfee_sumamt": Decimal("69.60"), "cnt": Decimal("2")}}, "string")
    assert body == b'{"input":{"medfee_sumamt":"69.60","cnt":"2"}}'
    assert encode({"x": Decimal("69.60")}, "number") == b'{"x":69.6}'
    parsed = decode(b'{"hifp_pay": 0.1, "acct_pay": 0.2}')
    assert parsed["hifp_pay"] + parsed["acct_pay"] == Decimal("0.3")
    assert decode(b"PK\x03\x04 not json") is None


def test_paas_gateway_signature():
    h = PaasAuth("pid", "tok").headers(1700000000)
    import hashlib

    expect = hashlib.sha256(f"1700000000tok{h['x-tif-nonce']}1700000000".encode()).hexdigest()
    assert h["x-tif-signature"] == expect and h["x-tif-paasid"] == "pid"


@pytest.mark.parametrize("transport", ["httpx", "stdlib"])
def test_no_answer_is_a_transport_error_for_both_transports(transport):
    import socket

    from hissim.client import HttpClient, TransportError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", timeout=2, transport=transport)
    with pytest.raises(TransportError):
        client.post("9001", {"infno": "9001"})
    client.close()
    assert client.url_for("2207") == "/fsi/api/2207"
    assert HttpClient("http://x", path="/api/transaction").url_for("2207") == "/api/transaction"
