"""亲情账户 / 家庭共济 link states: who may take which step, and which requests are refused."""

from __future__ import annotations

import pytest

from yibao.access import family as fam


def test_a_request_is_approved_or_declined_only_by_the_relative() -> None:
    assert fam.next_state("requested", "approve", "relative") == "approved"
    assert fam.next_state("requested", "decline", "relative") == "declined"
    for action in ("approve", "decline"):
        with pytest.raises(fam.FamilyError) as e:
            fam.next_state("requested", action, "requester")
        assert e.value.code == "wrong_state"


def test_only_the_requester_withdraws_a_request_and_only_before_the_answer() -> None:
    assert fam.next_state("requested", "cancel", "requester") == "cancelled"
    with pytest.raises(fam.FamilyError):
        fam.next_state("requested", "cancel", "relative")
    with pytest.raises(fam.FamilyError):
        fam.next_state("approved", "cancel", "requester")


def test_either_side_unbinds_an_approved_link_and_nothing_follows_an_end() -> None:
    assert fam.next_state("approved", "unbind", "requester") == "unbound"
    assert fam.next_state("approved", "unbind", "relative") == "unbound"
    for end in ("declined", "cancelled", "unbound"):
        for action in ("approve", "decline", "cancel", "unbind"):
            for side in ("requester", "relative"):
                with pytest.raises(fam.FamilyError):
                    fam.next_state(end, action, side)


def test_an_unknown_action_names_the_field() -> None:
    with pytest.raises(fam.FamilyError) as e:
        fam.next_state("requested", "request", "relative")
    assert e.value.field == "action" and "未知" in e.value.reason


def test_requests_for_oneself_duplicates_and_a_second_payer_are_refused() -> None:
    fam.check_request("A", "B", "parent", "proxy", [])
    with pytest.raises(fam.FamilyError, match="本人"):
        fam.check_request("A", "A", "parent", "proxy", [])
    with pytest.raises(fam.FamilyError, match="已有"):
        fam.check_request("A", "B", "parent", "proxy", [("B", "proxy")])
    fam.check_request("A", "B", "parent", "mutual_aid", [("B", "proxy")])
    with pytest.raises(fam.FamilyError) as e:
        fam.check_request("A", "C", "spouse", "mutual_aid", [("B", "mutual_aid")])
    assert e.value.field == "kind"
    with pytest.raises(fam.FamilyError) as e:
        fam.check_request("A", "B", "cousin", "proxy", [])
    assert e.value.field == "relation"


def test_the_relative_reads_the_inverse_relation() -> None:
    assert fam.relation_seen_by("parent", "requester") == "parent"
    assert fam.relation_seen_by("parent", "relative") == "child"
    assert fam.relation_seen_by("spouse", "relative") == "spouse"
    assert set(fam.INVERSE) == set(fam.RELATIONS) == set(fam.INVERSE.values())


def test_every_state_reached_has_a_label_and_every_label_is_chinese_first() -> None:
    assert set(fam.TRANSITIONS.values()) | {"requested"} <= set(fam.STATES)
    for zh, _en in (*fam.STATES.values(), *fam.KINDS.values(), *fam.RELATIONS.values(), *fam.PROXY_MAY_NOT):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)


def test_the_stated_fraud_report_rule_is_the_one_the_portal_enforces() -> None:
    from yibao.feedback.core import may_see_case

    proxy_family = ("P-proxy", "P-relative")  # the proxy acts for the relative
    assert any("举报" in zh for zh, _ in fam.PROXY_MAY_NOT)
    assert not may_see_case("proxy", proxy_family, "fraud_report", "P-relative", filed_by="relative")
    assert may_see_case("proxy", proxy_family, "complaint", "P-relative", filed_by="relative")
