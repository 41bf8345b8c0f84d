"""The voucher core: a good voucher passes once; every rule refuses with its own reason."""

from __future__ import annotations

import base64
import datetime as dt

import orjson
import pytest

from yibao.voucher.core import (
    KeyRing,
    MemoryNonceStore,
    Revocations,
    VerifyKey,
    VoucherError,
    VoucherParams,
    issue,
    parse_params,
    peek,
    verify,
)
from yibao.voucher.store import load_params, new_signing_key

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
PARAMS = VoucherParams(120, 300, 30, "610100")
KEY = new_signing_key("kA")
RING = KeyRing.of([VerifyKey("kA", "Ed25519", KEY.private.public_key(), "signing")])


def _tok(psn: str = "P1", holder: str = "P1", at: dt.datetime = T0, nonce: bytes = b"n" * 16) -> str:
    return issue(psn_no=psn, holder=holder, now=at, key=KEY, nonce=nonce, params=PARAMS)


def _code(token: str, at: dt.datetime = T0, **kw: object) -> str:
    with pytest.raises(VoucherError) as ei:
        verify(token, at, kw.pop("ring", RING), MemoryNonceStore(), params=PARAMS, **kw)  # type: ignore[arg-type]
    return ei.value.code


def test_a_fresh_voucher_passes_once_and_is_refused_as_replayed_after() -> None:
    store = MemoryNonceStore()
    tok = _tok()
    claims = verify(tok, T0 + dt.timedelta(seconds=10), RING, store, params=PARAMS)
    assert (claims.psn_no, claims.holder, claims.admdvs, claims.kid) == ("P1", "P1", "610100", "kA")
    assert claims.expires_at - claims.issued_at == 120
    assert not claims.by_proxy
    with pytest.raises(VoucherError) as ei:
        verify(tok, T0 + dt.timedelta(seconds=11), RING, store, params=PARAMS)
    assert ei.value.code == "replayed"
    assert "已使用" in ei.value.reason and "already used" in ei.value.reason
    assert ei.value.field == "mdtrt_cert_no"


def test_a_family_member_shows_the_voucher_for_the_insured() -> None:
    claims = verify(_tok("P1", "P9"), T0, RING, MemoryNonceStore(), params=PARAMS)
    assert claims.by_proxy and claims.holder == "P9" and claims.psn_no == "P1"


def test_expiry_honours_the_clock_skew_and_no_more() -> None:
    tok = _tok()
    verify(tok, T0 + dt.timedelta(seconds=150), RING, MemoryNonceStore(), params=PARAMS)
    assert _code(tok, T0 + dt.timedelta(seconds=151)) == "expired"


def test_a_voucher_from_the_future_is_refused_beyond_the_skew() -> None:
    tok = _tok(at=T0 + dt.timedelta(seconds=31))
    assert _code(tok) == "not_yet_valid"
    verify(_tok(at=T0 + dt.timedelta(seconds=30)), T0, RING, MemoryNonceStore(), params=PARAMS)


def test_a_lifetime_longer_than_the_maximum_is_refused_even_if_signed() -> None:
    long_params = VoucherParams(1000, 1000, 30, "610100")
    tok = issue(psn_no="P1", holder="P1", now=T0, key=KEY, nonce=b"x" * 16, params=long_params)
    assert _code(tok) == "lifetime_too_long"


def test_tampered_claims_fail_the_signature() -> None:
    head, kid, payload, sig = _tok().split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["p"] = "P2"
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    assert _code(".".join([head, kid, forged, sig])) == "bad_signature"


def test_a_token_signed_by_another_key_under_a_known_kid_fails() -> None:
    other = new_signing_key("kA")
    tok = issue(psn_no="P1", holder="P1", now=T0, key=other, nonce=b"y" * 16, params=PARAMS)
    assert _code(tok) == "bad_signature"


def test_unknown_and_retired_keys_are_refused() -> None:
    tok = _tok()
    assert _code(tok, ring=KeyRing.of([])) == "unknown_key"
    retired = KeyRing.of([VerifyKey("kA", "Ed25519", KEY.private.public_key(), "retired")])
    assert _code(tok, ring=retired) == "key_retired"


def test_after_rotation_the_old_key_still_verifies_what_it_signed_before_but_nothing_later() -> None:
    until = int(T0.timestamp())
    ring = KeyRing.of([VerifyKey("kA", "Ed25519", KEY.private.public_key(), "verify", until)])
    verify(_tok(at=T0), T0, ring, MemoryNonceStore(), params=PARAMS)
    late = _tok(at=T0 + dt.timedelta(seconds=31), nonce=b"z" * 16)
    assert _code(late, T0 + dt.timedelta(seconds=31), ring=ring) == "signed_after_rotation"


def test_region_person_and_revocation_rules() -> None:
    other_region = VoucherParams(120, 300, 30, "610200")
    tok = issue(psn_no="P1", holder="P1", now=T0, key=KEY, nonce=b"r" * 16, params=other_region)
    assert _code(tok) == "wrong_region"
    assert _code(_tok(), expect_psn_no="P2") == "wrong_person"
    tok = _tok()
    assert _code(tok, revocations=Revocations(frozenset({peek(tok).nonce}))) == "revoked"
    assert _code(tok, revocations=Revocations(before={"P1": int(T0.timestamp())})) == "revoked"
    # a cut-off before the voucher was issued does not touch it
    verify(tok, T0, RING, MemoryNonceStore(), params=PARAMS, revocations=Revocations(before={"P1": 0}))


def test_a_refused_token_does_not_use_up_its_nonce() -> None:
    store = MemoryNonceStore()
    tok = _tok()
    with pytest.raises(VoucherError):
        verify(tok, T0, RING, store, params=PARAMS, expect_psn_no="P2")
    assert verify(tok, T0, RING, store, params=PARAMS).psn_no == "P1"


@pytest.mark.parametrize(
    "text",
    ["", "YBV1", "YBV2.kA.e30.AA", "YBV1.kA.!!!.AA", "YBV1.kA.e30.AA.extra", "YBV1.kA.e30.AA"],
)
def test_malformed_text_is_refused_with_a_reason(text: str) -> None:
    assert _code(text) in {"malformed", "bad_signature"}
    assert _code(text) == (
        "bad_signature" if text.count(".") == 3 and text.startswith("YBV1.") else "malformed"
    )


def test_issue_refuses_short_nonces_and_missing_people() -> None:
    with pytest.raises(ValueError, match="nonce"):
        issue(psn_no="P1", holder="P1", now=T0, key=KEY, nonce=b"short", params=PARAMS)
    with pytest.raises(ValueError, match="psn_no"):
        issue(psn_no=" ", holder="P1", now=T0, key=KEY, nonce=b"n" * 16, params=PARAMS)
    with pytest.raises(ValueError, match="now"):
        issue(psn_no="P1", holder="P1", now=T0.replace(tzinfo=None), key=KEY, nonce=b"n" * 16, params=PARAMS)


def test_the_shipped_parameters_load_and_bad_ones_are_named() -> None:
    p = load_params()
    assert p.lifetime_seconds <= p.max_lifetime_seconds and all(p.sources.values())
    with pytest.raises(ValueError, match="lifetime"):
        parse_params(
            {
                "admdvs": "610100",
                "lifetime": {"value": 400, "source": "x"},
                "max_lifetime": {"value": 300, "source": "x"},
                "clock_skew": {"value": 30, "source": "x"},
            }
        )
    with pytest.raises(ValueError, match=r"clock_skew\.source"):
        parse_params(
            {
                "admdvs": "610100",
                "lifetime": {"value": 100, "source": "x"},
                "max_lifetime": {"value": 300, "source": "x"},
                "clock_skew": {"value": 30},
            }
        )
    with pytest.raises(ValueError, match=r"clock_skew\.basis: 依据类型无效"):
        parse_params(
            {
                "admdvs": "610100",
                "lifetime": {"value": 100, "source": "x"},
                "max_lifetime": {"value": 300, "source": "x"},
                "clock_skew": {"value": 30, "source": "x", "basis": "assumed"},
            }
        )


def test_the_memory_store_prunes_expired_nonces_only() -> None:
    s = MemoryNonceStore(prune_at=2)
    assert s.claim("a", 10, 0) and s.claim("b", 100, 0)
    assert s.claim("c", 100, 50)  # pruning drops "a" (expired at 10), keeps "b"
    assert "a" not in s and "b" in s and not s.claim("b", 100, 60)
