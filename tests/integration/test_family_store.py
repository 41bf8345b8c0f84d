"""The family-link store on SQLite and PostgreSQL: consent makes the link in the login's family list,
unbinding removes it at once, every step is kept, and the other side's steps wait as unread notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from yibao.access.family import FamilyError
from yibao.access.family_store import FamilyStore
from yibao.access.store import ServiceStore
from yibao.ledger import Ledger

T0 = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[ServiceStore, FamilyStore]]:
    led = Ledger.open(db_url)
    sa_url = led.sa_url
    led.close()
    svc = ServiceStore(sa_url, access_flush_seconds=0)
    try:
        yield svc, FamilyStore(svc)
    finally:
        svc.close()


def _logins(svc: ServiceStore) -> tuple[str, str, str]:
    pw = "a-long-pass-phrase-7"
    child = svc.create_user("child", pw, "insured", "王小明", psn_no="P1").user_id
    mother = svc.create_user("mother", pw, "insured", "李秀英", psn_no="P2").user_id
    other = svc.create_user("other", pw, "insured", "张三", psn_no="P3").user_id
    return child, mother, other


def _family(svc: ServiceStore, user_id: str) -> tuple[str, ...]:
    u = svc.get_user(user_id)
    assert u is not None
    return u.family_psn_nos


def test_request_approve_unbind_changes_the_family_list_and_keeps_every_step(
    stores: tuple[ServiceStore, FamilyStore],
) -> None:
    svc, st = stores
    child, mother, _ = _logins(svc)
    link = st.request(
        requester_user_id=child,
        requester_psn_no="P1",
        relative_psn_no="P2",
        relation="parent",
        kind="proxy",
        now=T0,
    )
    assert link.state == "requested" and _family(svc, child) == ("P1",)
    assert st.unread(mother) == 1 and st.unread(child) == 0
    st.act(link.link_id, mother, "approve", T0 + dt.timedelta(minutes=5))
    assert _family(svc, child) == ("P1", "P2")
    assert st.unread(child) == 1
    st.mark_read(child, T0 + dt.timedelta(minutes=6))
    assert st.unread(child) == 0
    done = st.act(link.link_id, mother, "unbind", T0 + dt.timedelta(days=1))
    assert _family(svc, child) == ("P1",)
    assert done.state == "unbound" and done.decided_at and done.ended_at
    assert [e.action for e in done.events] == ["request", "approve", "unbind"]
    assert [e.at[:16] for e in done.events] == ["2026-12-07T01:00", "2026-12-07T01:05", "2026-12-08T01:00"]


def test_a_stranger_cannot_see_or_decide_a_link_and_the_requester_cannot_approve(
    stores: tuple[ServiceStore, FamilyStore],
) -> None:
    svc, st = stores
    child, mother, other = _logins(svc)
    link = st.request(
        requester_user_id=child,
        requester_psn_no="P1",
        relative_psn_no="P2",
        relation="parent",
        kind="proxy",
        now=T0,
    )
    with pytest.raises(FamilyError) as e:
        st.act(link.link_id, other, "approve", T0)
    assert e.value.code == "not_found"
    assert st.links_of(other) == []
    with pytest.raises(FamilyError) as e:
        st.act(link.link_id, child, "approve", T0)
    assert e.value.code == "wrong_state"
    assert _family(svc, child) == ("P1",)
    st.act(link.link_id, mother, "decline", T0)
    with pytest.raises(FamilyError):
        st.act(link.link_id, mother, "approve", T0)
    assert _family(svc, child) == ("P1",)


def test_duplicates_a_second_payer_and_a_person_without_login_are_refused(
    stores: tuple[ServiceStore, FamilyStore],
) -> None:
    svc, st = stores
    child, mother, _ = _logins(svc)
    kw = {"requester_user_id": child, "requester_psn_no": "P1", "now": T0}
    st.request(relative_psn_no="P2", relation="parent", kind="proxy", **kw)  # type: ignore[arg-type]
    with pytest.raises(FamilyError):
        st.request(relative_psn_no="P2", relation="parent", kind="proxy", **kw)  # type: ignore[arg-type]
    aid = st.request(relative_psn_no="P2", relation="parent", kind="mutual_aid", **kw)  # type: ignore[arg-type]
    with pytest.raises(FamilyError) as e:
        st.request(relative_psn_no="P3", relation="other", kind="mutual_aid", **kw)  # type: ignore[arg-type]
    assert e.value.field == "kind"
    with pytest.raises(FamilyError) as e:
        st.request(relative_psn_no="P9", relation="other", kind="proxy", **kw)  # type: ignore[arg-type]
    assert e.value.field == "certno"
    st.act(aid.link_id, mother, "approve", T0)
    assert _family(svc, child) == ("P1",)  # a payer link gives no right to act for the payer
    assert len(st.links_of(mother)) == 2


def test_a_link_set_at_login_creation_is_unbound_by_the_relative_and_kept(
    stores: tuple[ServiceStore, FamilyStore],
) -> None:
    svc, st = stores
    pw = "a-long-pass-phrase-7"
    holder = svc.create_user("holder", pw, "insured", "赵一", psn_no="Q1", family_psn_nos=["Q2"]).user_id
    relative = svc.create_user("rel", pw, "insured", "赵二", psn_no="Q2").user_id
    assert [uid for uid, _ in st.acting_for_me("Q2")] == [holder]
    with pytest.raises(FamilyError):
        st.unbind_unrequested(holder_user_id=holder, relative_psn_no="Q2", by_user_id="someone", now=T0)
    link = st.unbind_unrequested(holder_user_id=holder, relative_psn_no="Q2", by_user_id=relative, now=T0)
    assert link.state == "unbound" and _family(svc, holder) == ("Q1",)
    assert st.acting_for_me("Q2") == [] and st.unread(holder) == 1
