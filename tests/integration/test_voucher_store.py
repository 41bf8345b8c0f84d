"""The voucher store on SQLite and PostgreSQL: rotation, single use across nodes, revocation, retirement."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from yibao.db import parse_url
from yibao.errors import FieldError
from yibao.voucher.core import VoucherError
from yibao.voucher.store import VoucherStore, load_params

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(parse_url(db_url)[2])
    try:
        yield eng
    finally:
        eng.dispose()


def _node(engine: sa.Engine) -> VoucherStore:
    return VoucherStore(engine, load_params(), cache_seconds=0)


def _code(store: VoucherStore, token: str, at: dt.datetime, **kw: str) -> str:
    with pytest.raises(VoucherError) as ei:
        store.verify(token, now=at, fixmedins_code="H1", **kw)
    return ei.value.code


def test_issue_needs_a_signing_key_then_verifies_once_across_nodes(engine: sa.Engine) -> None:
    a, b = _node(engine), _node(engine)
    with pytest.raises(FieldError) as ei:
        a.issue(psn_no="P1", holder="P1", issued_by="u1", now=T0)
    assert ei.value.code == "no_key"
    a.rotate(T0)
    v = a.issue(psn_no="P1", holder="P7", issued_by="u1", now=T0)
    claims = b.verify(v.token, now=T0 + dt.timedelta(seconds=5), fixmedins_code="H1")
    assert claims.by_proxy and claims.holder == "P7"
    assert _code(a, v.token, T0 + dt.timedelta(seconds=6)) == "replayed"  # another node, its own cache
    assert _code(b, v.token, T0 + dt.timedelta(seconds=6)) == "replayed"  # the node's cache
    (row,) = a.issued_for("P1")
    assert row["fixmedins_code"] == "H1" and row["holder"] == "P7" and row["issued_by"] == "u1"


def test_rotation_keeps_old_vouchers_valid_until_the_key_is_retired(engine: sa.Engine) -> None:
    s = _node(engine)
    old = s.rotate(T0)
    v_old = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0)
    v_old2 = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0)
    new = s.rotate(T0 + dt.timedelta(seconds=10))
    assert old != new
    states = {k.kid: k.state for k in s.keys()}
    assert states == {old: "verify", new: "signing"}
    with engine.connect() as c:
        priv = c.execute(sa.text("SELECT private_key FROM voucher_key WHERE kid = :k"), {"k": old}).scalar()
    assert priv is None  # the old private half is erased at rotation
    assert s.verify(v_old.token, now=T0 + dt.timedelta(seconds=20), fixmedins_code="H1").kid == old
    v_new = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0 + dt.timedelta(seconds=20))
    assert v_new.claims.kid == new
    # automatic retirement waits until every token of the old key has expired
    assert s.retire(T0 + dt.timedelta(seconds=60)) == []
    assert s.retire(T0 + dt.timedelta(seconds=10 + 300 + 31)) == [old]
    assert _code(s, v_old2.token, T0 + dt.timedelta(seconds=20)) == "key_retired"
    with pytest.raises(FieldError) as ei:
        s.retire(T0, new)
    assert ei.value.code == "signing"


def test_revoking_one_voucher_or_all_of_a_person(engine: sa.Engine) -> None:
    s = _node(engine)
    s.rotate(T0)
    v1 = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0)
    v2 = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0)
    v3 = s.issue(psn_no="P2", holder="P2", issued_by="u", now=T0)
    s.revoke(psn_no="P1", by_user="u", now=T0, nonce=v1.claims.nonce, reason="手机丢失")
    assert _code(s, v1.token, T0) == "revoked"
    assert s.verify(v2.token, now=T0, fixmedins_code="H1").psn_no == "P1"
    s.revoke(psn_no="P2", by_user="u", now=T0 + dt.timedelta(seconds=1))
    assert _code(s, v3.token, T0 + dt.timedelta(seconds=2)) == "revoked"
    later = s.issue(psn_no="P2", holder="P2", issued_by="u", now=T0 + dt.timedelta(seconds=5))
    assert s.verify(later.token, now=T0 + dt.timedelta(seconds=6), fixmedins_code="H1").psn_no == "P2"
    with pytest.raises(FieldError) as ei:
        s.revoke(psn_no="P2", by_user="u", now=T0, nonce=v2.claims.nonce)  # P1's voucher
    assert ei.value.code == "unknown_voucher"


def test_two_counters_racing_on_one_voucher_exactly_one_wins(engine: sa.Engine) -> None:
    s = _node(engine)
    s.rotate(T0)
    v = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0)
    nodes = [_node(engine), _node(engine)]
    results: list[str] = []
    barrier = threading.Barrier(2)

    def counter(node: VoucherStore, site: str) -> None:
        barrier.wait()
        try:
            node.verify(v.token, now=T0 + dt.timedelta(seconds=1), fixmedins_code=site)
            results.append("ok")
        except VoucherError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=counter, args=(n, f"H{i}")) for i, n in enumerate(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "replayed"]


def test_purge_removes_only_expired_nonces(engine: sa.Engine) -> None:
    s = _node(engine)
    s.rotate(T0)
    v = s.issue(psn_no="P1", holder="P1", issued_by="u", now=T0)
    s.verify(v.token, now=T0, fixmedins_code="H1")
    assert s.purge(T0 + dt.timedelta(seconds=60)) == 0
    assert s.purge(T0 + dt.timedelta(seconds=200)) == 1
