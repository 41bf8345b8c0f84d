"""The review queue (审核队列): every flag on one probability-like scale, every visit one score, ranked.

* **Flag score** — the calibrated chance that a visit a detector flags is a confirmed case.  Per detector
  (rule or model code) an isotonic curve over the flag's *strength* (the detector's own measure from its
  evidence — a z-score, a lift, a count — named in ``queue.yaml`` ``strength``; the amount at stake for
  detectors not named there): the knowledge table ``flag_isotonic`` (rule_code, strength_from, score,
  flagged), steps of a monotone fit (scikit-learn ``IsotonicRegression``, direction chosen by the data)
  with each step's confirmed share shrunk by a Beta prior (``(confirmed + a) / (flagged + a + b)``).
  A detector without a curve takes its single confirmed share from ``flag_calibration`` with the same
  prior, and one in neither table ``default_score``.  A bureau fits both on its own audited cases
  (:func:`fit_calibration`, :func:`strength_points`, :func:`isotonic_curves`; the EXAMPLE tables are
  fitted on the tuning regions of ``yibao audit evaluate`` by ``yibao audit calibrate``).
* **Visit score** — noisy-or over the distinct detectors on the visit: ``1 − Π(1 − s_d)``; visits are
  ranked by ``score × (amount at stake in yuan + 1) ** stake_power`` (the money at stake weighs in), ties
  by the amount.
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
    strength: tuple[tuple[str, str], ...] = ()  # (rule_code, evidence field) of each detector's strength
    min_step: int = 1  # least flagged visits in one step of an isotonic curve
    stake_power: float = (
        0.0  # rank by score × (amount at stake in yuan + 1) ** stake_power (0: by score alone)
    )


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
            tuple((str(k), str(v)) for k, v in (data.get("strength") or {}).items()),
            int(data.get("min_step", 1)),
            float(data.get("stake_power", 0.0)),
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


ISOTONIC_SCHEMA = {
    "rule_code": pl.String,
    "strength_from": pl.Float64,
    "score": pl.Float64,
    "flagged": pl.Int64,
}


def strength(p: QueueParams) -> pl.Expr:
    """A flag's strength: the evidence field ``queue.yaml`` names for its detector, else log10 of one
    plus the amount at stake in fen (also when the field is missing from the evidence)."""
    fallback = (pl.col("amount_fen").cast(pl.Float64).fill_null(0).clip(lower_bound=0) + 1).log10()
    expr: pl.Expr = fallback
    for code, field in reversed(p.strength):
        value = pl.col("evidence").str.json_path_match(f"$.{field}").cast(pl.Float64, strict=False)
        expr = pl.when(pl.col("rule_code") == code).then(pl.coalesce(value, fallback)).otherwise(expr)
    return expr.alias("strength")


def strength_points(visits: pl.DataFrame, flags: pl.DataFrame, p: QueueParams | None = None) -> pl.DataFrame:
    """(rule_code, strength, confirmed): per detector and flagged visit its strongest flag and whether the
    visit carries a confirmed label (``visits.scenario`` not null) — the points an isotonic curve is fitted
    on; concatenate the points of several regions."""
    p = p or queue_params()
    labels = visits.select("visit_id", pl.col("scenario").is_not_null().alias("confirmed"))
    return (
        flags.select("rule_code", "visit_id", strength(p))
        .group_by("rule_code", "visit_id")
        .agg(pl.col("strength").max())
        .join(labels, on="visit_id", how="left")
        .select("rule_code", "strength", pl.col("confirmed").fill_null(False))
        .sort("rule_code", "strength")
    )


def _monotone(x: Any, y: Any, w: Any, increasing: bool) -> Any:
    from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]

    return IsotonicRegression(increasing=increasing).fit(x, y, sample_weight=w).predict(x)


def isotonic_curves(points: pl.DataFrame, p: QueueParams | None = None) -> pl.DataFrame:
    """The ``flag_isotonic`` table from :func:`strength_points`: per detector the steps of an isotonic fit
    of confirmed on strength — increasing or decreasing, whichever fits the tuning points better (a tie or
    a constant outcome: increasing) — steps with fewer than ``min_step`` flagged visits merged into their
    neighbour and the fit redone over the steps; each step's score is its confirmed share under the Beta
    prior, kept monotone.  A step starts at ``strength_from`` (the first step also takes anything weaker)."""
    import numpy as np

    p = p or queue_params()
    rows: list[tuple[str, float, float, int]] = []
    for (code,), g in points.sort("rule_code", "strength").group_by(["rule_code"], maintain_order=True):
        agg = g.group_by("strength", maintain_order=True).agg(
            pl.len().alias("n"), pl.col("confirmed").cast(pl.Float64).sum().alias("c")
        )
        x, n, c = (agg[k].to_numpy().astype(float) for k in ("strength", "n", "c"))
        if x.size == 0:
            continue
        y = c / n
        fits = {up: _monotone(x, y, n, up) for up in (True, False)} if x.size > 1 else {True: y}
        sse = {up: float((n * (y - f) ** 2).sum()) for up, f in fits.items()}
        up = sse.get(False, np.inf) >= sse[True]
        level = fits[up]
        # steps: runs of equal fitted level, in strength order: [strength_from, flagged, confirmed]
        steps: list[list[float]] = []
        for xi, ni, ci, li, prev in zip(x, n, c, level, np.r_[np.nan, level[:-1]], strict=True):
            if steps and li == prev:
                steps[-1][1] += ni
                steps[-1][2] += ci
            else:
                steps.append([float(xi), float(ni), float(ci)])
        merged: list[list[float]] = []
        for st in steps:
            if merged and merged[-1][1] < p.min_step:
                merged[-1][1] += st[1]
                merged[-1][2] += st[2]
            else:
                merged.append(st)
        if len(merged) > 1 and merged[-1][1] < p.min_step:
            last = merged.pop()
            merged[-1][1] += last[1]
            merged[-1][2] += last[2]
        sn = np.array([m[1] for m in merged])
        sc = np.array([m[2] for m in merged])
        lv = _monotone(np.arange(sn.size, dtype=float), sc / sn, sn, up) if sn.size > 1 else sc / sn
        score = (lv * sn + p.prior_a) / (sn + p.prior_a + p.prior_b)
        score = np.maximum.accumulate(score) if up else np.minimum.accumulate(score)
        for m, sv in zip(merged, score, strict=True):
            rows.append((str(code), m[0], float(sv), int(m[1])))
    return pl.DataFrame(rows, schema=ISOTONIC_SCHEMA, orient="row")


def isotonic_scores(flags: pl.DataFrame, curves: pl.DataFrame | None, p: QueueParams) -> pl.Series:
    """Each flag's score on its detector's isotonic curve (null when the detector has none)."""
    if curves is None or curves.height == 0 or flags.height == 0:
        return pl.Series("iso_score", [None] * flags.height, pl.Float64)
    # both sides sorted by strength (the asof key) as a whole, hence within every detector
    x = flags.select(pl.int_range(pl.len()).alias("_row"), "rule_code", strength(p)).sort("strength")
    c = curves.select("rule_code", pl.col("strength_from").alias("strength"), "score").sort("strength")
    below = curves.sort("strength_from").group_by("rule_code").agg(pl.col("score").first().alias("_first"))
    hit = (
        x.join_asof(c, on="strength", by="rule_code", strategy="backward", check_sortedness=False)
        .join(below, on="rule_code", how="left")
        .with_columns(pl.coalesce("score", "_first").alias("iso_score"))
        .sort("_row")
    )
    return hit["iso_score"]


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
    flags: pl.DataFrame,
    n_visits: int,
    calibration: pl.DataFrame | None = None,
    p: QueueParams | None = None,
    curves: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``flags`` with ``score`` (calibrated — on the detector's isotonic curve in ``curves`` when it has
    one, else its single confirmed share in ``calibration`` — after demotion) and ``demoted``; and the
    demotion report."""
    p = p or queue_params()
    report = demotions(flags, n_visits, p)
    cal = calibration_scores(calibration, p)
    iso = isotonic_scores(flags, curves, p)
    scored = (
        flags.with_columns(iso.alias("_iso"))
        .join(cal, on="rule_code", how="left")
        .with_columns(pl.coalesce("_iso", "cal_score").alias("cal_score"))
        .drop("_iso")
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
        # the review order weighs the money at stake: a likely small finding is not worth more review than
        # a somewhat less likely large one (the expected recovery, tempered by ``stake_power``)
        .with_columns(
            (pl.col("score") * (pl.col("amount_fen").clip(lower_bound=0) / 100 + 1) ** p.stake_power).alias(
                "_priority"
            )
        )
        .sort(["_priority", "score", "amount_fen", "visit_id"], descending=[True, True, True, False])
        .drop("_priority")
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
