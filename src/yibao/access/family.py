"""亲情账户 and 家庭共济 links made with consent: the states of a link and the rules of each step (pure).

A login *requests* a link to a relative (found by ID number and name); the relative, logged in, *approves* or
*declines*; the requester may *cancel* a request not yet decided; once approved either side may *unbind* at
once.  Two kinds of link:

* ``proxy`` (亲情账户代办) — the requester may act for the relative on the portal (the relative's number joins
  the requester's ``family_psn_nos``);
* ``mutual_aid`` (家庭共济) — the relative's personal account may pay the requester's share of a visit; at
  most one such payer is open (requested or approved) per requester.

Every step is kept with its time and who took it (:mod:`yibao.access.family_store`)."""

from __future__ import annotations

from yibao.errors import FieldError

# relationship labels, seen from the requester: "the relative is my …"; the other side reads the inverse
RELATIONS: dict[str, tuple[str, str]] = {
    "parent": ("父母", "parent"),
    "child": ("子女", "child"),
    "spouse": ("配偶", "spouse"),
    "other": ("其他亲属", "other relative"),
}
INVERSE = {"parent": "child", "child": "parent", "spouse": "spouse", "other": "other"}

KINDS: dict[str, tuple[str, str]] = {
    "proxy": ("代办（亲情账户）", "act for them (family account)"),
    "mutual_aid": (
        "家庭共济（其个人账户支付我的自付费用）",
        "family mutual aid (their personal account pays my share)",
    ),
}

STATES: dict[str, tuple[str, str]] = {
    "requested": ("待对方确认", "waiting for their consent"),
    "approved": ("已绑定", "linked"),
    "declined": ("对方已拒绝", "declined"),
    "cancelled": ("已撤回申请", "request withdrawn"),
    "unbound": ("已解除绑定", "unlinked"),
}
OPEN_STATES = frozenset({"requested", "approved"})

ACTIONS: dict[str, tuple[str, str]] = {
    "request": ("提出绑定申请", "asked to link"),
    "approve": ("同意", "agreed"),
    "decline": ("拒绝", "declined"),
    "cancel": ("撤回申请", "withdrew the request"),
    "unbind": ("解除绑定", "unlinked"),
}

# (state, action, side) → the next state; side is "requester" or "relative"
TRANSITIONS: dict[tuple[str, str, str], str] = {
    ("requested", "approve", "relative"): "approved",
    ("requested", "decline", "relative"): "declined",
    ("requested", "cancel", "requester"): "cancelled",
    ("approved", "unbind", "requester"): "unbound",
    ("approved", "unbind", "relative"): "unbound",
}


class FamilyError(FieldError):
    """A family-link step that cannot be taken; nothing was written."""


def next_state(state: str, action: str, side: str) -> str:
    """The state after ``side`` takes ``action`` on a link in ``state``, or :class:`FamilyError`."""
    if action not in ACTIONS or action == "request":
        raise FamilyError("action", f"未知的操作 unknown action: {action!r}")
    new = TRANSITIONS.get((state, action, side))
    if new is None:
        zh, en = STATES.get(state, (state, state))
        who = ("申请人", "the requester") if side == "requester" else ("被申请人", "the relative")
        raise FamilyError(
            "action",
            f"{who[0]}不能对「{zh}」的绑定{ACTIONS[action][0]} {who[1]} cannot {action} a link that is {en}",
            "wrong_state",
        )
    return new


def check_request(
    requester_psn_no: str, relative_psn_no: str, relation: str, kind: str, open_links: list[tuple[str, str]]
) -> None:
    """A request may be made: a known relation and kind, not oneself, no open link of the same kind to the
    same person, and (家庭共济) no other open payer.  ``open_links``: the requester's open (relative, kind)."""
    if relation not in RELATIONS:
        raise FamilyError("relation", f"请选择与对方的关系 unknown relation: {relation!r}")
    if kind not in KINDS:
        raise FamilyError("kind", f"请选择绑定类型 unknown kind: {kind!r}")
    if relative_psn_no == requester_psn_no:
        raise FamilyError("certno", "不能绑定本人 you cannot link to yourself")
    if (relative_psn_no, kind) in open_links:
        raise FamilyError(
            "certno", "已有相同的绑定或待确认的申请 this link is already made or waiting for consent"
        )
    if kind == "mutual_aid" and any(k == "mutual_aid" for _, k in open_links):
        raise FamilyError(
            "kind",
            "家庭共济只能选择一位亲属的个人账户，请先解除现有绑定 only one relative's account may pay; unlink the current one first",
        )


def side_of(user_id: str, requester_user_id: str, relative_user_id: str) -> str | None:
    """Which side of a link this login is on (None: neither — it may not see the link)."""
    if user_id == requester_user_id:
        return "requester"
    if user_id == relative_user_id:
        return "relative"
    return None


def relation_seen_by(relation: str, side: str) -> str:
    """The relation as the given side reads it (the requester's parent sees "my child")."""
    return relation if side == "requester" else INVERSE.get(relation, "other")


# What a proxy may and may not do, as the portal enforces it (each line names the check that enforces it).
PROXY_MAY: tuple[tuple[str, str], ...] = (
    ("查看其就诊记录、费用明白单和年度累计", "see their visits, itemised bills and year-to-date totals"),
    ("查看其参保信息和缴费记录", "see their insurance status and payments"),
    (
        "为其出示医保电子凭证、办理互联网复诊和处方",
        "show their insurance voucher and arrange online follow-ups",
    ),
    ("为其办理异地就医备案、费用估算", "file care elsewhere for them and estimate costs"),
    (
        "代其提交和查看备案、投诉（举报除外）",
        "file and follow filings and complaints for them (not fraud reports)",
    ),
    ("查看谁查看过其信息", "see who read their record"),
)
PROXY_MAY_NOT: tuple[tuple[str, str], ...] = (
    (
        "看不到对方本人提交的举报（举报只有提交人自己能看到和撤回）",
        "see fraud reports they filed (only the filer sees or withdraws a report)",
    ),
    (
        "看不到、也不能修改对方的登录密码；双方各用自己的账号登录",
        "see or change their password; each logs in with their own account",
    ),
    (
        "不能替对方同意绑定申请（对方须用自己的账号确认）",
        "consent to a link on their behalf (they confirm with their own login)",
    ),
    ("解除绑定后立即不能再查看或代办（几秒内生效）", "act for them once unlinked (within seconds)"),
)
