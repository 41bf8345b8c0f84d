"""Payments add up to the budget, to the fen, for any claims and any budget (DRG and DIP)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import polars as pl
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.money import split_largest_remainder
from yibao.payment import PaymentPolicy, parse_policy, pay_dip, pay_drg
from yibao.payment.core import split_within
from yibao.payment.policy import example_policy_path

RAW = yaml.safe_load(example_policy_path("demo").read_text(encoding="utf-8"))
LEVELS = ["1", "2", "3", "3S"]


def make_policy(pool_fen: int, withholding_bp: int, institution: bool) -> PaymentPolicy:
    raw: dict[str, Any] = copy.deepcopy(RAW)
    raw["budget"] = {"basis": "amount", "amount": f"{pool_fen // 100}.{pool_fen % 100:02d}", "source": "demo"}
    raw["pre_settlement"]["withholding"] = f"{withholding_bp / 10_000:.4f}"
    raw["dip"]["core_threshold"]["cases"] = 3
    if institution:
        raw["institution_coefficients"] = [{"fixmedins_code": "H0", "coefficient": "1.1", "source": "demo"}]
    return parse_policy(raw)


case = st.tuples(
    st.integers(0, 5),  # hospital
    st.sampled_from(LEVELS),
    st.sampled_from(["A1", "A3", "B5", "C9"]),  # drg
    st.sampled_from(["K358", "K359", "I209", "J189"]),  # pdx
    st.sampled_from(["", "4701", "8872"]),  # main procedure
    st.integers(10_000, 5_000_000),  # cost, fen
    st.integers(2023, 2025),  # year (2025 = the policy year, earlier = history)
    st.integers(1, 12),
)


def frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    # a hospital keeps one level whatever the draw says: the level of its first case
    level: dict[int, str] = {}
    return pl.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(len(rows))],
            "fixmedins_code": [f"H{r[0]}" for r in rows],
            "hosp_lv": [level.setdefault(r[0], r[1]) for r in rows],
            "drg": [r[2] for r in rows],
            "pdx": [r[3] for r in rows],
            "main_procedure": [r[4] for r in rows],
            "medfee_sumamt": [r[5] for r in rows],
            "los_days": [3] * len(rows),
            "discharge_date": [dt.date(r[6], r[7], 1) for r in rows],
        },
        schema_overrides={"medfee_sumamt": pl.Int64},
    )


def check(pay: Any, pool: int) -> None:
    h, c = pay.hospitals, pay.cases
    assert pay.pool_fen == pool
    assert h.get_column("due_fen").sum() == pool
    assert c.get_column("payment_fen").sum() == pool
    assert c.get_column("payment_fen").min() >= 0
    per_h = c.group_by("fixmedins_code").agg(pl.col("payment_fen").sum()).sort("fixmedins_code")
    assert per_h.get_column("payment_fen").to_list() == h.get_column("due_fen").to_list()
    # clearing identity and the withholding never exceeds what was pre-settled
    for r in h.iter_rows(named=True):
        assert r["balance_fen"] == r["due_fen"] - r["pre_paid_fen"]
        assert r["profit_fen"] == r["due_fen"] - r["cost_fen"]
    m = pay.monthly
    assert (m.get_column("pre_paid_fen") + m.get_column("withheld_fen") == m.get_column("pre_due_fen")).all()
    assert m.get_column("cases").sum() == c.height


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(case, min_size=1, max_size=60),
    pool=st.integers(0, 10**13),
    withholding=st.integers(0, 10_000),
    institution=st.booleans(),
)
def test_drg_and_dip_payments_add_up_to_the_budget(
    rows: list[tuple[Any, ...]], pool: int, withholding: int, institution: bool
) -> None:
    df = frame(rows)
    current = df.filter(pl.col("discharge_date").dt.year() == 2025)
    if current.height == 0:
        current = df.with_columns(pl.col("discharge_date").dt.replace(year=2025))
    history = df.filter(pl.col("discharge_date").dt.year() < 2025)
    policy = make_policy(pool, withholding, institution)
    for pay_fn in (pay_drg, pay_dip):
        check(pay_fn(current, policy, history if history.height else None), pool)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**9) | st.just(0)), min_size=1, max_size=40),
    dues=st.lists(st.integers(0, 10**14), min_size=4, max_size=4),
)
def test_vectorised_case_split_is_the_largest_remainder_method(
    rows: list[tuple[int, int]], dues: list[int]
) -> None:
    df = pl.DataFrame(
        {"fixmedins_code": [f"H{h}" for h, _ in rows], "points_pu": [p for _, p in rows]},
        schema={"fixmedins_code": pl.String, "points_pu": pl.Int64},
    ).sort("fixmedins_code", maintain_order=True)
    df = df.with_columns(
        pl.col("fixmedins_code")
        .replace_strict({f"H{i}": d for i, d in enumerate(dues)}, return_dtype=pl.Int64)
        .alias("_due")
    )
    got = split_within(df)
    for code, part in got.group_by("fixmedins_code", maintain_order=True):
        due = dues[int(str(code[0])[1:])]
        pts = part.get_column("points_pu").to_list()
        assert part.get_column("payment_fen").to_list() == split_largest_remainder(due, pts)
