"""家庭共济 when the hospital names no paying account: whose personal account pays a 2207 that asks for the
account (``use_account``) but leaves ``acct_psn_no`` out.

National practice: the patient's own account pays first; a relative's account pays what the patient's
cannot.  The engine settles a visit from one paying account, so the rule here is the simplest one that
never pays from an account the patient's own could have paid from: the agreed relative's account pays
only when the patient's own balance is 0 and exactly one relative has agreed (家庭共济 binding, the
ledger's ``person.family``); otherwise the patient's own account pays, as before.  With several agreed
payers nobody is chosen for the patient — the hospital names one in ``acct_psn_no``.

Pure: the ledger calls :func:`default_payer` on the patient row it holds locked, then
:func:`payer_may_pay` on the relative's row once that is locked too."""

from __future__ import annotations

from collections.abc import Sequence

from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.model import Entitlement, Visit


def default_payer(
    visit: Visit, own_balance: int, family: Sequence[str], entitlement: Entitlement | None = None
) -> str | None:
    """The agreed relative whose account should pay for ``visit``, or ``None`` (the patient's own account,
    or no account).  Only when the visit asks for the account and names none, the patient's own balance
    is 0 (or less), exactly one relative has agreed, and the benefit check leaves the account usable."""
    if not visit.use_account or visit.account_psn_no is not None:
        return None
    if own_balance > 0 or len(family) != 1 or family[0] == visit.psn_no:
        return None
    if entitlement is not None and entitlement.self_pay and not entitlement.account_usable:
        return None
    return family[0]


def payer_may_pay(policy: CompiledPolicy, visit: Visit, payer_insutype: str, payer_balance: int) -> bool:
    """Whether the relative's account can actually pay for ``visit``: money in it, and the account rule of
    the relative's scheme allows 家庭共济 for this kind of visit (the rule the engine applies to a named
    payer).  When not, the default falls back to the patient's own account instead of refusing the visit."""
    rule = policy.accounts.get(payer_insutype)
    return (
        payer_balance > 0
        and rule is not None
        and rule.family_mutual_aid
        and visit.med_type in rule.visit_types
    )
