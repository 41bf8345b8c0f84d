"""The payment policy file: the shipped example loads, every number is cited, bad values name their path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from test_payment_support import demo_raw

from yibao.payment import PaymentPolicyError, load_policy, parse_policy


def test_the_shipped_demo_policy_loads_with_its_numbers() -> None:
    p = load_policy("demo")
    assert p.year == 2025
    assert p.level_coefficients() == {"1": 8_500, "2": 9_500, "3": 10_000, "3S": 10_500}
    assert p.drg is not None and p.dip is not None
    assert [t.multiple for t in p.drg.high_outlier.tiers] == [30_000, 20_000, 15_000]
    assert [t.max_points for t in p.drg.high_outlier.tiers] == [1_000_000, 3_000_000, None]
    assert p.dip.year_weights.weights == [1, 2, 7]
    assert (p.dip.deviation.low, p.dip.deviation.high, p.dip.deviation.review) == (5_000, 20_000, 50_000)


def with_change(path: list[str | int], value: object) -> dict[str, object]:
    raw = copy.deepcopy(demo_raw())
    node = raw
    for k in path[:-1]:
        node = node[k]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return raw


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (["drg", "low_outlier", "source"], "nowhere", "drg.low_outlier.source"),
        (["levels", 0, "source"], "nowhere", "levels.0.source"),
        (["budget", "growth"], 0.05, "budget.growth"),  # a float is refused: decimal strings only
        (["levels", 1, "coefficient"], "-0.9", "levels.1.coefficient"),
        (["dip", "deviation", "high"], "6", "dip.deviation"),  # low < high < review
        (
            ["drg", "high_outlier", "tiers"],
            [{"multiple": "2"}, {"max_points": "100", "multiple": "3"}],
            "drg.high_outlier",
        ),
        (["pre_settlement", "withholding"], "1.5", "pre_settlement.withholding"),  # a share above 100 %
        (["dip", "year_weights", "weights"], [0, 0, 0], "dip.year_weights"),
    ],
)
def test_bad_values_name_their_path(path: list[str | int], value: object, where: str) -> None:
    with pytest.raises(PaymentPolicyError) as err:
        parse_policy(with_change(path, value))
    assert err.value.field == where


def test_budget_basis_needs_its_figure() -> None:
    with pytest.raises(PaymentPolicyError) as err:
        parse_policy(with_change(["budget"], {"basis": "amount", "source": "demo"}))
    assert "needs 'amount'" in str(err.value)


def test_a_level_twice_is_refused(tmp_path: Path) -> None:
    raw = with_change(["levels"], [{"level": "1", "coefficient": "1", "source": "demo"}] * 2)
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PaymentPolicyError) as err:
        load_policy(f)
    assert "given twice" in str(err.value)


def test_an_unknown_example_lists_the_shipped_ones() -> None:
    with pytest.raises(FileNotFoundError, match="demo"):
        load_policy("no-such-policy")
