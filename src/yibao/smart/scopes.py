"""What a SMART scope allows (pure).

Scopes are SMART App Launch's patient-level read scopes, in the v1 form ``patient/<Type>.read`` and the
v2 form ``patient/<Type>.rs`` (``r`` read, ``s`` search); ``<Type>`` is a resource type or ``*``.  Only
reading is offered: ``.write`` / ``c u d`` scopes are refused.  ``launch/patient`` asks for a patient in
context (the person chooses whom on the consent screen: themself or a linked family member)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

READABLE = (
    "Patient",
    "Coverage",
    "ExplanationOfBenefit",
    "Claim",
    "ClaimResponse",
    "Organization",
    "Practitioner",
    "Location",
)
CONTEXT_SCOPES = ("launch/patient",)
NAMES = {  # resource type -> (Chinese, English) for the consent screen
    "*": ("全部医保信息（基本信息、参保信息、就诊结算记录及相关机构、医师）", "all your insurance data"),
    "Patient": ("基本信息（姓名、性别、出生日期、人员编号）", "basic details"),
    "Coverage": ("参保信息（险种、人员类别）", "coverage"),
    "ExplanationOfBenefit": ("就诊结算记录（费用、医保支付、个人负担）", "claims and what was paid"),
    "Claim": ("医疗机构提交的费用明细", "claims as submitted"),
    "ClaimResponse": ("结算结果", "adjudication results"),
    "Organization": ("定点医药机构和医保经办机构", "institutions and the bureau"),
    "Practitioner": ("医保医师（代码、职称）", "physicians"),
    "Location": ("机构所在地", "institution locations"),
}
_SCOPE = re.compile(r"^patient/(\*|[A-Z][A-Za-z]+)\.(read|r|rs|s)$")


@dataclass(frozen=True)
class Scope:
    resource: str  # a resource type or "*"
    read: bool
    search: bool


def parse(scope: str) -> Scope | None:
    """A patient read scope, or None (not one: a context scope, or something not offered)."""
    m = _SCOPE.match(scope)
    if m is None or (m.group(1) != "*" and m.group(1) not in READABLE):
        return None
    mode = m.group(2)
    return Scope(m.group(1), mode in ("read", "r", "rs"), mode in ("read", "s", "rs"))


def supported(scope: str) -> bool:
    """Is ``scope`` one this server grants?"""
    return scope in CONTEXT_SCOPES or parse(scope) is not None


def split(scope: str) -> list[str]:
    return [s for s in scope.split() if s]


def allows(scopes: Iterable[str], resource: str, interaction: str) -> bool:
    """Do ``scopes`` allow ``interaction`` (``read`` or ``search``) on ``resource``?"""
    for s in scopes:
        p = parse(s)
        if (
            p is not None
            and p.resource in ("*", resource)
            and (p.read if interaction == "read" else p.search)
        ):
            return True
    return False


def readable_types(scopes: Sequence[str]) -> list[str]:
    """The resource types ``scopes`` let an app read, in the order of :data:`READABLE`."""
    return [t for t in READABLE if allows(scopes, t, "read")]


def describe(scope: str) -> tuple[str, str]:
    """What a scope means, for a person (Chinese, English)."""
    if scope == "launch/patient":
        return ("选择本次授权针对的人（本人或已绑定的亲属）", "choose whose data (you or linked family)")
    p = parse(scope)
    if p is None:
        return (scope, scope)
    zh, en = NAMES.get(p.resource, (p.resource, p.resource))
    how = "查看" if p.read and not p.search else "查询" if p.search and not p.read else "查看和查询"
    return (f"{how}{zh}", f"read {en}")


def expand(scopes: Sequence[str]) -> list[str]:
    """The resource scopes of ``scopes`` with each ``patient/*.x`` spelled out per resource type, so that
    the person can tick the kinds of data one by one."""
    out: list[str] = []
    for s in scopes:
        p = parse(s)
        if p is None:
            continue
        mode = s.rsplit(".", 1)[1]
        for t in READABLE if p.resource == "*" else (p.resource,):
            x = f"patient/{t}.{mode}"
            if x not in out:
                out.append(x)
    return out


def within(scope: str, asked: Sequence[str]) -> bool:
    """Is ``scope`` one of ``asked`` or narrower than one of them (never wider)?"""
    return (scope in asked and parse(scope) is not None) or scope in expand(asked)
