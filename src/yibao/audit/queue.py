"""The review queue (审核队列): every flag on one probability-like scale, every visit one score, ranked.

* **Flag score** — the calibrated chance that a visit a detector flags is a confirmed case: per detector
  (rule or model code), the share of its flagged visits confirmed, with a Beta prior
  (``(confirmed + a) / (flagged + a + b)``), from the knowledge table ``flag_calibration`` a bureau fits on
  its own audited cases (:func:`fit_calibration`; the EXAMPLE table is fitted on the tuning regions of
  ``yibao audit evaluate``).  A detector the table does not know takes ``default_score``.
* **Visit score** — noisy-or over the distinct detectors on the visit: ``1 − Π(1 − s_d)``; ties broken by
  the amount at stake.
* **Demotion** — a detector that flags more than ``demote_share`` of a region's visits on its own is
  treated as a knowledge or billing-convention problem (疑似知识库或计费习惯问题), not as fraud: its flags
  keep ``demote_factor`` of their score, drop out of the own flag set and are reported.

Parameters are in ``queue.yaml`` beside this module, each with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from yibao.errors import FieldError

QUEUE_FILE = Path(__file__).with_name("queue.yaml")
DEMOTED_ZH = "疑似知识库或计费习惯问题"
DEMOTED_EN = "probably a knowledge or billing-convention problem"


@dataclass(frozen=True)
class QueueParams:
    prior_a: float
    prior_b: float
    default_score: float
    demote_share: float
    demote_factor: float
    review_severities: tuple[str, ...]


@cache
def queue_params(path: str = str(QUEUE_FILE)) -> QueueParams:
    data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    try:
        p = QueueParams(
            float(data["prior"]["a"]),
            float(data["prior"]["b"]),
            float(data["default_score"]),
            float(data["demote_share"]),
            float(data["demote_factor"]),
            tuple(str(x) for x in data["review_severities"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise FieldError("queue.yaml", f"参数缺失或格式错误 missing or malformed parameter ({e})") from None
    if not (0 < p.demote_share <= 1 and 0 <= p.demote_factor <= 1 and 0 <= p.default_score < 1):
        raise FieldError(
            "queue.yaml", "参数超出范围 demote_share in (0, 1], demote_factor and default_score in [0, 1)"
        )
    return p


CALIBRATION_SCHEMA = {"rule_code": pl.String, "flagged": pl.Int64, "confirmed": pl.Int64}


def fit_calibration(visits: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """(rule_code, flagged, confirmed): per detector the visits it flagged and how many of them carry a
    confirmed label (``visits.scenario`` not null) — add the tables of several regions by summing."""
    labels = visits.select("visit_id", pl.col("scenario").is_not_null().alias("_true"))
    return (
        flags.select("rule_code", "visit_id")
        .unique()
        .join(labels, on="visit_id", how="left")
        .group_by("rule_code")
        .agg(
            pl.len().cast(pl.Int64).alias("flagged"),
            pl.col("_true").fill_null(False).sum().cast(pl.Int64).alias("confirmed"),
        )
        .sort("rule_code")
    )


def calibration_scores(calibration: pl.DataFrame | None, p: QueueParams) -> pl.DataFrame:
    """(rule_code, cal_score) from a calibration table (summed over its rows per code)."""
    if calibration is None or calibration.height == 0:
        return pl.DataFrame(schema={"rule_code": pl.String, "cal_score": pl.Float64})
    return (
        calibration.group_by("rule_code")
        .agg(pl.col("flagged").sum(), pl.col("confirmed").sum())
        .select(
            "rule_code",
            ((pl.col("confirmed") + p.prior_a) / (pl.col("flagged") + p.prior_a + p.prior_b)).alias(
                "cal_score"
            ),
        )
    )


def demotions(flags: pl.DataFrame, n_visits: int, p: QueueParams) -> pl.DataFrame:
    """(rule_code, visits, share, demoted, note_zh, note_en): each detector's share of the region's visits,
    and whether it is demoted as a knowledge or convention problem."""
    per = flags.group_by("rule_code").agg(pl.col("visit_id").n_unique().alias("visits"))
    share = pl.col("visits") / max(n_visits, 1)
    return (
        per.with_columns(share.alias("share"))
        .with_columns((pl.col("share") > p.demote_share).alias("demoted"))
        .with_columns(
            pl.when(pl.col("demoted"))
            .then(
                pl.format(
                    "{}：命中{}%的就诊，超过{}%",
                    pl.lit(DEMOTED_ZH),
                    (pl.col("share") * 100).round(2),
                    pl.lit(round(p.demote_share * 100, 2)),
                )
            )
            .otherwise(pl.lit(""))
            .alias("note_zh"),
            pl.when(pl.col("demoted"))
            .then(
                pl.format(
                    "{}: fires on {}% of visits, above {}%",
                    pl.lit(DEMOTED_EN),
                    (pl.col("share") * 100).round(2),
                    pl.lit(round(p.demote_share * 100, 2)),
                )
            )
            .otherwise(pl.lit(""))
            .alias("note_en"),
        )
        .sort("share", descending=True)
    )


def score_flags(
    flags: pl.DataFrame, n_visits: int, calibration: pl.DataFrame | None = None, p: QueueParams | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``flags`` with ``score`` (calibrated, after demotion) and ``demoted``; and the demotion report."""
    p = p or queue_params()
    report = demotions(flags, n_visits, p)
    cal = calibration_scores(calibration, p)
    scored = (
        flags.join(cal, on="rule_code", how="left")
        .join(report.select("rule_code", "demoted"), on="rule_code", how="left")
        .with_columns(pl.col("demoted").fill_null(False))
        .with_columns(
            (
                pl.col("cal_score").fill_null(p.default_score)
                * pl.when(pl.col("demoted")).then(p.demote_factor).otherwise(1.0)
            ).alias("score")
        )
        .drop("cal_score")
    )
    return scored, report


def visit_queue(scored: pl.DataFrame, p: QueueParams | None = None) -> pl.DataFrame:
    """One row per flagged visit, best first: visit_id, psn_id, fixmedins_code, score (noisy-or over its
    detectors), amount_fen (the largest any one detector puts on it), detectors, reason of the strongest
    flag, and ``own``: whether a non-demoted flag of a reviewed severity names it (the own flag set)."""
    p = p or queue_params()
    per_det = scored.group_by("visit_id", "rule_code").agg(
        pl.col("score").max(),
        pl.col("amount_fen").sum(),
        pl.col("psn_id").first(),
        pl.col("fixmedins_code").first(),
        (~pl.col("demoted") & pl.col("severity").is_in(list(p.review_severities))).any().alias("_own"),
        pl.col("reason_zh").first(),
        pl.col("reason_en").first(),
    )
    return (
        per_det.sort("score", descending=True)
        .group_by("visit_id")
        .agg(
            (1.0 - (1.0 - pl.col("score")).product()).alias("score"),
            pl.col("amount_fen").max(),
            pl.col("psn_id").first(),
            pl.col("fixmedins_code").first(),
            pl.col("rule_code").sort().str.join("|").alias("detectors"),
            pl.col("_own").any().alias("own"),
            pl.col("reason_zh").first(),
            pl.col("reason_en").first(),
        )
        .sort(["score", "amount_fen", "visit_id"], descending=[True, True, False])
        .with_row_index("rank", offset=1)
    )


def parse_top(text: str, n_visits: int) -> int:
    """``"1%"`` → that share of ``n_visits`` (at least 1); ``"500"`` → 500."""
    t = text.strip()
    try:
        if t.endswith("%"):
            share = float(t[:-1]) / 100
            if not 0 < share <= 1:
                raise ValueError
            return max(1, round(share * n_visits))
        n = int(t)
        if n < 1:
            raise ValueError
        return n
    except ValueError:
        raise FieldError(
            "top", f"应为百分比或正整数 must be a share like 1% or a positive count, got {text!r}"
        ) from None


QUEUE_COLUMNS = ("rank", "visit_id", "fixmedins_code", "score", "amount_fen", "detectors", "reason_zh")


def read_queue(path: str | Path, n: int = 50) -> tuple[int, list[str], list[tuple[Any, ...]]]:
    """The first ``n`` rows of a queue file written by ``yibao audit run --top``: (rows in the file,
    columns, rows) — the score rounded to three places, the amount in 元."""
    q = pl.read_parquet(path, columns=list(QUEUE_COLUMNS))
    top = q.head(n).with_columns(
        pl.col("score").round(3), (pl.col("amount_fen") / 100).round(2).alias("amount_fen")
    )
    cols = [
        "序 rank",
        "就诊 visit",
        "机构 institution",
        "分值 score",
        "金额 amount (元)",
        "规则/模型 detectors",
        "理由 reason",
    ]
    return q.height, cols, [tuple(r) for r in top.iter_rows()]
