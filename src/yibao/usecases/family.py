"""家庭共济: a relative's consent, recorded by the portal (:mod:`yibao.access.family_store`), reaches the
ledger's list of whose personal accounts may pay for a person — the list the settlement engine checks a
visit's paying account (``acct_psn_no``) against."""

from __future__ import annotations

from yibao.ledger import Ledger


def payer_agreed(led: Ledger, psn_no: str, payer_psn_no: str) -> tuple[str, ...]:
    """``payer_psn_no`` agreed that their account may pay for ``psn_no``; returns ``psn_no``'s list after."""
    return led.set_family(psn_no, add=(payer_psn_no,))


def payer_withdrawn(led: Ledger, psn_no: str, payer_psn_no: str) -> tuple[str, ...]:
    """The link was unbound (by either side): ``payer_psn_no``'s account no longer pays for ``psn_no``."""
    return led.set_family(psn_no, drop=(payer_psn_no,))
