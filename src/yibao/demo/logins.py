"""Demo logins: insured persons (one with a family link), an institution, an auditor, an admin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yibao.access.passwords import DEMO_PASSWORD
from yibao.access.store import ServiceStore, UserRow
from yibao.ledger import Ledger, PersonRecord


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    display_name: str
    psn_no: str | None = None
    fixmedins_code: str | None = None


__all__ = ["DEMO_PASSWORD", "DemoLogin", "seed_demo_users"]  # DEMO_PASSWORD: printed by `yibao demo`


def seed_demo_users(
    ledger_url: str,
    persons: Sequence[PersonRecord],
    *,
    fixmedins_code: str = "H61000000001",
    password: str = DEMO_PASSWORD,
) -> list[DemoLogin]:
    """Create the demo logins on the ledger database at ``ledger_url`` (migrated first; idempotent: logins
    already present are left as they are) and return them.  The database is marked as a demonstration
    database first (refused for a database that already has real logins): the published demo password
    works only there, and ``yibao serve`` refuses any other database holding it.

    * ``insured`` — the first person; their family list holds the second person (亲情账户: acting for a
      parent), and the person's own ``family`` links from the ledger;
    * ``insured2`` — the second person alone;
    * ``hospital`` — an institution login for ``fixmedins_code``;
    * ``auditor`` and ``admin``."""
    if len(persons) < 2:
        raise ValueError(
            "演示账号至少需要两名参保人（其中一名有亲属关联） seed_demo_users needs at least two persons (one with a family link)"
        )
    led = Ledger.open(ledger_url)
    try:
        led.migrate()
        sa_url = led.sa_url
    finally:
        led.close()
    store = ServiceStore(sa_url)
    try:
        store.mark_demo()
        have = {u.username for u in store.list_users()}
        first, second = persons[0], persons[1]
        plan: list[tuple[DemoLogin, tuple[str, ...]]] = [
            (
                DemoLogin("insured", password, "insured", first.name, psn_no=first.psn_no),
                tuple(dict.fromkeys([second.psn_no, *first.family])),
            ),
            (DemoLogin("insured2", password, "insured", second.name, psn_no=second.psn_no), ()),
            (
                DemoLogin(
                    "hospital",
                    password,
                    "institution",
                    "示范医院 Demo hospital",
                    fixmedins_code=fixmedins_code,
                ),
                (),
            ),
            (DemoLogin("auditor", password, "auditor", "稽核员 Auditor"), ()),
            (DemoLogin("admin", password, "admin", "管理员 Administrator"), ()),
        ]
        out: list[DemoLogin] = []
        for login, family in plan:
            if login.username not in have:
                _create(store, login, family)
            out.append(login)
        return out
    finally:
        store.close()


def _create(store: ServiceStore, login: DemoLogin, family: tuple[str, ...]) -> UserRow:
    return store.create_user(
        login.username,
        login.password,
        login.role,
        login.display_name,
        psn_no=login.psn_no,
        family_psn_nos=family,
        fixmedins_code=login.fixmedins_code,
    )
