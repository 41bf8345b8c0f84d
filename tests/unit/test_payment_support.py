"""Builders shared by the payment tests (no tests here): the demo policy with overrides, claims frames."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import polars as pl
import yaml

from yibao.payment.policy import PaymentPolicy, example_policy_path, parse_policy


def demo_raw() -> dict[str, Any]:
    raw = yaml.safe_load(example_policy_path("demo").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def policy(**changes: Any) -> PaymentPolicy:
    """The shipped demo policy with dotted-path overrides, e.g. ``policy(**{"budget.amount": "1000"})``.

    Level coefficients are the listed ones (``level_basis: fixed``) unless a test overrides it.
    """
    raw = copy.deepcopy(demo_raw())
    raw["level_basis"] = {"basis": "fixed", "source": "demo"}
    for path, value in changes.items():
        node = raw
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return parse_policy(raw)


def fixed_budget(amount_yuan: str, **changes: Any) -> PaymentPolicy:
    return policy(**{"budget": {"basis": "amount", "amount": amount_yuan, "source": "demo"}, **changes})


def claims(rows: list[tuple[Any, ...]], *, year: int = 2025) -> pl.DataFrame:
    """Rows of (case_id, hospital, level, drg, pdx, main_procedure, cost_fen[, month])."""
    out: dict[str, list[Any]] = {
        c: []
        for c in (
            "case_id",
            "fixmedins_code",
            "hosp_lv",
            "drg",
            "pdx",
            "main_procedure",
            "medfee_sumamt",
            "los_days",
            "discharge_date",
        )
    }
    for r in rows:
        month = r[7] if len(r) > 7 else 6
        for c, v in zip(list(out)[:7], r[:7], strict=True):
            out[c].append(v)
        out["los_days"].append(5)
        out["discharge_date"].append(dt.date(year, month, 15))
    return pl.DataFrame(out, schema_overrides={"medfee_sumamt": pl.Int64, "discharge_date": pl.Date})
