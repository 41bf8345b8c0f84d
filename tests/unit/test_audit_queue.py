"""The review queue: calibrated flag scores, noisy-or visit scores, demotion, and the ranking measures."""

from __future__ import annotations

import polars as pl
import pytest

from yibao.audit.evaluate import average_precision, queue_metrics
from yibao.audit.flags import empty_flags
from yibao.audit.queue import (
    QueueParams,
    fit_calibration,
    isotonic_curves,
    parse_top,
    score_flags,
    strength_points,
    visit_queue,
)
from yibao.errors import FieldError

P = QueueParams(
    prior_a=1.0,
    prior_b=3.0,
    default_score=0.25,
    demote_share=0.3,
    demote_factor=0.1,
    review_severities=("block", "flag"),
)


def _flags(rows: list[tuple[str, int, int, str]]) -> pl.DataFrame:
    base = empty_flags()
    df = pl.DataFrame(
        rows,
        schema={"rule_code": pl.String, "visit_id": pl.Int64, "amount_fen": pl.Int64, "severity": pl.String},
        orient="row",
    )
    return pl.concat(
        [
            base,
            df.with_columns(
                (pl.col("rule_code") + ":" + pl.col("visit_id").cast(pl.String)).alias("flag_id"),
                pl.lit("rule").alias("source"),
                pl.lit("管理").alias("rule_class"),
                pl.lit(None, pl.Int32).alias("feedetl_sn"),
                pl.col("visit_id").alias("psn_id"),
                pl.lit("H1").alias("fixmedins_code"),
                pl.col("rule_code").alias("reason_zh"),
                pl.col("rule_code").alias("reason_en"),
                pl.lit("{}").alias("evidence"),
            ).select(base.columns),
        ]
    )


def test_scores_are_calibrated_per_detector_and_combine_by_noisy_or() -> None:
    cal = pl.DataFrame({"rule_code": ["A", "B"], "flagged": [96, 16], "confirmed": [95, 3]})
    flags = _flags([("A", 1, 100, "flag"), ("B", 1, 900, "flag"), ("B", 2, 50, "flag"), ("C", 3, 10, "warn")])
    scored, report = score_flags(flags, n_visits=20, calibration=cal, p=P)
    s = dict(scored.select("rule_code", "score").unique().iter_rows())
    assert s["A"] == pytest.approx(96 / 100) and s["B"] == pytest.approx(4 / 20) and s["C"] == 0.25
    q = visit_queue(scored, P)
    assert q["visit_id"].to_list() == [1, 3, 2]  # 1 − 0.04 × 0.8 first; C's 0.25 above B's 0.2
    assert q.filter(pl.col("visit_id") == 1)["score"][0] == pytest.approx(1 - 0.04 * 0.8)
    assert q.filter(pl.col("visit_id") == 1)["amount_fen"][0] == 900  # the largest one detector puts on it
    assert dict(q.select("visit_id", "own").iter_rows()) == {1: True, 2: True, 3: False}  # warn is a lead
    assert not report["demoted"].any()


def test_the_queue_weighs_the_money_at_stake() -> None:
    from dataclasses import replace

    cal = pl.DataFrame({"rule_code": ["SMALL", "BIG"], "flagged": [96, 96], "confirmed": [59, 45]})
    # SMALL: score 0.6 on 2 yuan; BIG: score 0.46 on 100,000 yuan
    flags = _flags([("SMALL", 1, 200, "flag"), ("BIG", 2, 10_000_000, "flag")])
    scored, _ = score_flags(flags, n_visits=100, calibration=cal, p=P)
    assert visit_queue(scored, P)["visit_id"].to_list() == [1, 2]  # by score alone
    weighed = visit_queue(scored, replace(P, stake_power=0.1))  # 0.6 × 3^0.1 < 0.46 × 100,001^0.1
    assert weighed["visit_id"].to_list() == [2, 1] and weighed["rank"].to_list() == [1, 2]
    assert (
        weighed["score"].to_list()
        == visit_queue(scored, P).sort("visit_id", descending=True)["score"].to_list()
    )


def test_a_detector_firing_on_a_large_share_of_the_region_is_demoted_and_reported() -> None:
    flags = _flags([("WIDE", v, 10, "flag") for v in range(1, 8)] + [("NARROW", 1, 10, "flag")])
    scored, report = score_flags(flags, n_visits=10, calibration=None, p=P)
    wide = report.filter(pl.col("rule_code") == "WIDE").row(0, named=True)
    assert wide["demoted"] and "疑似知识库或计费习惯问题" in wide["note_zh"] and "70.0" in wide["note_zh"]
    assert scored.filter(pl.col("rule_code") == "WIDE")["score"].max() == pytest.approx(0.025)
    q = visit_queue(scored, P)
    assert q["visit_id"][0] == 1 and q.filter(pl.col("own"))["visit_id"].to_list() == [1]


def test_calibration_counts_confirmed_visits_per_detector() -> None:
    visits = pl.DataFrame({"visit_id": [1, 2, 3], "scenario": ["x", None, None]})
    cal = fit_calibration(visits, _flags([("A", 1, 1, "flag"), ("A", 2, 1, "flag"), ("B", 3, 1, "flag")]))
    assert cal.rows() == [("A", 2, 1), ("B", 1, 0)]


def test_ranking_measures() -> None:
    assert average_precision(pl.Series([1, 3]), 3) == pytest.approx((1 / 1 + 2 / 3) / 3)
    visits = pl.DataFrame({"visit_id": list(range(1, 201)), "scenario": ["s"] * 2 + [None] * 198})
    lines = pl.DataFrame({"visit_id": [1, 2], "amount": [300, 100]})
    queue = pl.DataFrame(
        {"visit_id": [1, 5], "rank": [1, 2], "own": [True, True]}, schema_overrides={"rank": pl.UInt32}
    )
    m = {r["scenario"]: r for r in queue_metrics(visits, lines, queue)}["overall"]
    assert m["own_recall"] == 0.5 and m["own_precision"] == 0.5 and m["share_flagged"] == 0.01
    assert m["amount_recall"] == 0.75 and m["recall@0.5%"] == 0.5 and m["precision@0.5%"] == 1.0
    assert m["average_precision"] == 0.5


def test_top_is_a_share_or_a_count() -> None:
    assert parse_top("1%", 12_345) == 123 and parse_top("500", 10) == 500 and parse_top("0.001%", 10) == 1
    for bad in ("0%", "abc", "-3", "150%"):
        with pytest.raises(FieldError, match="top"):
            parse_top(bad, 100)


def _strong(rows: list[tuple[str, int, float]]) -> pl.DataFrame:
    """Flags of detector codes with their evidence ``z``."""
    f = _flags([(code, v, 100, "flag") for code, v, _ in rows])
    return f.with_columns(pl.Series("evidence", [f'{{"z": {z}}}' for _, _, z in rows]))


def test_an_isotonic_curve_scores_a_strong_flag_above_a_weak_one_of_the_same_detector() -> None:
    p = QueueParams(1.0, 3.0, 0.25, 0.9, 0.1, ("block", "flag"), strength=(("Z", "z"),), min_step=5)
    # tuning: weak flags (z 4-5) are rarely confirmed, strong ones (z 8-9) nearly always
    rows = [("Z", v, 4 + (v % 10) / 10) for v in range(40)] + [
        ("Z", 100 + v, 8 + (v % 10) / 10) for v in range(40)
    ]
    visits = pl.DataFrame(
        {
            "visit_id": [r[1] for r in rows],
            "scenario": [("s" if (v >= 100 or v % 10 == 0) else None) for _, v, _ in rows],
        }
    )
    curves = isotonic_curves(strength_points(visits, _strong(rows), p), p)
    assert curves["score"].is_sorted() and curves.height >= 2
    assert curves["score"][0] == pytest.approx((4 + 1) / (40 + 4))  # 4 of 40 weak flags confirmed, Beta(1, 3)
    assert curves["score"][-1] == pytest.approx((40 + 1) / (40 + 4))
    new = _strong([("Z", 1, 3.0), ("Z", 2, 8.5), ("Z", 3, 20.0)])
    scored, _ = score_flags(new, n_visits=1000, calibration=None, p=p, curves=curves)
    s = dict(scored.select("visit_id", "score").iter_rows())
    assert s[1] == pytest.approx(curves["score"][0])  # weaker than anything seen: the first step
    assert s[3] == pytest.approx(curves["score"][-1]) and s[2] == s[3]
    # without a curve the detector falls back to one score (the default here)
    plain, _ = score_flags(new, n_visits=1000, calibration=None, p=p)
    assert plain["score"].unique().to_list() == [0.25]


def test_an_isotonic_curve_runs_downhill_when_weaker_strength_is_the_better_sign() -> None:
    p = QueueParams(1.0, 3.0, 0.25, 0.9, 0.1, ("block", "flag"), strength=(("Z", "z"),), min_step=5)
    rows = [("Z", v, float(v % 20)) for v in range(200)]  # low z confirmed, high z not
    visits = pl.DataFrame(
        {"visit_id": list(range(200)), "scenario": [("s" if v % 20 < 10 else None) for v in range(200)]}
    )
    curves = isotonic_curves(strength_points(visits, _strong(rows), p), p)
    assert curves.height == 2 and curves["score"][0] > 0.9 > 0.1 > curves["score"][1]
