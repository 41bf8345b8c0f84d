"""Resident households (户) and 家庭共济: who in a household is a near relative of whom (pure).

国办发〔2021〕14号 lets an employee's personal account pay for the spouse, parents and children; 国办发〔2024〕38号
widens 家庭共济 to near relatives (近亲属: spouse, parents, children, siblings, grandparents, grandchildren —
民法典第一千零四十五条).  A household records each member's relation to the head (``head``, ``spouse``,
``child``, ``parent``, ``sibling``, ``grandchild``; anything else, e.g. ``member``, relates to nobody), so
near relatives follow from the pair of relations; in-laws (the head's spouse and parents, the head's spouse
and siblings) and great-grandparents are not near relatives, and a grandchild's parent cannot be told among
several children.
"""

from __future__ import annotations

from collections.abc import Sequence

from yibao.enrolment.model import HouseholdMember

# (my relation to the head, your relation to the head) → near relatives
_NEAR = {
    ("head", "spouse"), ("head", "child"), ("head", "parent"), ("head", "sibling"), ("head", "grandchild"),
    ("spouse", "child"), ("spouse", "grandchild"),
    ("child", "child"), ("child", "parent"),
    ("parent", "parent"), ("parent", "sibling"),
    ("sibling", "sibling"),
}  # fmt: skip
_NEAR |= {(b, a) for a, b in _NEAR}


def near_relatives(members: Sequence[HouseholdMember], psn_no: str) -> tuple[str, ...]:
    """The psn_no of the household members who are near relatives of ``psn_no`` (in member order); empty
    when the person is not a member."""
    me = next((m for m in members if m.psn_no == psn_no), None)
    if me is None:
        return ()
    return tuple(
        m.psn_no
        for m in members
        if m.psn_no != psn_no and m.household_no == me.household_no and (me.relation, m.relation) in _NEAR
    )
