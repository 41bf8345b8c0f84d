"""Bureau figures for internet care, as pure functions over plain rows (the store reads the rows):
online share of visits, capitation budgets, credit defaults, commercial cover paid."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from yibao.money import RATIO_ONE


@dataclass(frozen=True)
class Share:
    part: int
    whole: int

    @property
    def ratio(self) -> int:
        """part / whole in 1/10000 (0 when there is nothing)."""
        return self.part * RATIO_ONE // self.whole if self.whole else 0


def online_share(online_visits: int, all_visits: int) -> Share:
    """Online follow-ups among all settled outpatient visits."""
    return Share(online_visits, max(all_visits, online_visits))


def credit_summary(bills: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """Counts and fen by status of credit bills (``status``, ``amount``, ``paid``): billed, repaid, outstanding,
    overdue, in default, written off, and the default rate (default + written off over billed, 1/10000)."""
    out = {
        "bills": 0,
        "billed": 0,
        "repaid": 0,
        "outstanding": 0,
        "overdue": 0,
        "default": 0,
        "written_off": 0,
    }
    for b in bills:
        amount, paid, status = int(b["amount"]), int(b["paid"]), str(b["status"])  # type: ignore[call-overload]
        out["bills"] += 1
        out["billed"] += amount
        out["repaid"] += paid
        out["outstanding"] += amount - paid
        if status in ("overdue", "default", "written_off"):
            out[status] += amount - paid
    bad = out["default"] + out["written_off"]
    out["default_rate"] = bad * RATIO_ONE // out["billed"] if out["billed"] else 0
    return out


def commercial_summary(claims: Iterable[Mapping[str, object]]) -> dict[str, dict[str, int]]:
    """Per insurer: claims, base, paid (``insurer``, ``base``, ``paid`` rows)."""
    out: dict[str, dict[str, int]] = {}
    for c in claims:
        row = out.setdefault(str(c["insurer"]), {"claims": 0, "base": 0, "paid": 0})
        row["claims"] += 1
        row["base"] += int(c["base"])  # type: ignore[call-overload]
        row["paid"] += int(c["paid"])  # type: ignore[call-overload]
    return out
