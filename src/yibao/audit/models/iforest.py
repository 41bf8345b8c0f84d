"""General multivariate detector (MX-IF-001): an isolation forest over visit, person and provider features.

Features are scale-free (logs and ratios against the visit's case-mix cell), so one forest covers all
visit types.  A flag names the three features furthest from their median (robust z), which is the
explanation a reviewer needs to start from.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from joblib import parallel_backend  # type: ignore[import-untyped]
from sklearn.ensemble import IsolationForest  # type: ignore[import-untyped]

from yibao.audit.flags import empty_flags
from yibao.audit.models.features import MAD_SCALE, Params, flags, json_of, stake

FEATURES = (
    "log_amount_ratio",
    "drug_share",
    "log_los_ratio",
    "log_person_visits",
    "log_pair_visits",
    "log_provider_cases",
    "care_share",
)
FIT_SAMPLE = (
    262_144  # above this many visits the forest is fitted on a seeded sample of this size (64 × max_samples)
)
SCORE_JOBS = 2  # threads scoring the forest (the benchmark machine has 2 cores)
NAMES_ZH = {
    "log_amount_ratio": "费用/同组中位数",
    "drug_share": "药占比",
    "log_los_ratio": "住院天数/同组中位数",
    "log_person_visits": "个人年就诊次数",
    "log_pair_visits": "个人在本机构就诊次数",
    "log_provider_cases": "机构就诊量",
    "care_share": "非床位护理费用占比",
}


def features(v: pl.DataFrame) -> pl.DataFrame:
    x = v.with_columns(
        pl.col("amount").median().over("cell").alias("_cm"),
        pl.col("los_days").cast(pl.Float64).median().over("cell").alias("_lm"),
        pl.len().over("psn_id").alias("_pv"),
        pl.len().over("psn_id", "fixmedins_code").alias("_pp"),
        pl.len().over("fixmedins_code").alias("_pc"),
    )
    return x.with_columns(
        ((pl.col("amount") + 100) / (pl.col("_cm") + 100)).log().alias("log_amount_ratio"),
        (pl.col("drug_amount") / pl.max_horizontal(pl.col("amount"), pl.lit(1))).alias("drug_share"),
        ((pl.col("los_days") + 1) / (pl.col("_lm") + 1)).log().alias("log_los_ratio"),
        pl.col("_pv").cast(pl.Float64).log().alias("log_person_visits"),
        pl.col("_pp").cast(pl.Float64).log().alias("log_pair_visits"),
        pl.col("_pc").cast(pl.Float64).log().alias("log_provider_cases"),
        (pl.col("care_amount") / pl.max_horizontal(pl.col("amount"), pl.lit(1))).alias("care_share"),
    ).drop("_cm", "_lm", "_pv", "_pp", "_pc")


def isolation_forest(v: pl.DataFrame, p: Params) -> pl.DataFrame:
    cfg = p["iforest"]
    if v.height < 100:
        return empty_flags()
    x = features(v)
    m = np.nan_to_num(x.select(FEATURES).to_numpy().astype(np.float64))
    # sklearn's trees compare in float32 (fit and score cast their input): cast once, not twice; the
    # explanations below keep the float64 features
    m32 = m.astype(np.float32)
    seed = int(cfg["random_state"])
    # each tree sees max_samples rows anyway; fitting on a seeded sample keeps sklearn from carrying every
    # visit (as zero weights) through every tree
    fit_rows = (
        m32
        if len(m32) <= FIT_SAMPLE
        else m32[np.random.default_rng(seed).choice(len(m32), FIT_SAMPLE, replace=False)]
    )
    forest = IsolationForest(
        n_estimators=int(cfg["n_estimators"]),
        max_samples=min(int(cfg["max_samples"]), len(fit_rows)),
        random_state=seed,
        n_jobs=SCORE_JOBS,
    )
    forest.fit(fit_rows)
    # scoring walks every tree for every visit: trees in parallel threads (the tree walk releases the GIL;
    # sklearn's documented way is a joblib backend around score_samples), in float32 as sklearn scores
    with parallel_backend("threading", n_jobs=SCORE_JOBS):
        score = -forest.score_samples(m32)  # higher = more anomalous
    cut = float(np.quantile(score, float(cfg["score_quantile"])))
    x = x.with_columns(pl.Series("score", score)).with_columns(stake(pl.col("amount")).alias("amount_fen"))
    keep = (score >= cut) & (x["amount_fen"].to_numpy() >= int(cfg["min_amount_fen"]))
    med = np.median(m, axis=0)
    mad = np.median(np.abs(m - med), axis=0) * MAD_SCALE
    z = (m[keep] - med) / np.where(mad > 0, mad, 1e-9)  # explanations only for the flagged visits
    top = np.argsort(-np.abs(z), axis=1)[:, :3]
    names = np.array(FEATURES)
    top_en = [", ".join(f"{names[j]} z={z[i, j]:.1f}" for j in row) for i, row in enumerate(top)]
    top_zh = [
        "，".join(f"{NAMES_ZH[str(names[j])]} z={z[i, j]:.1f}" for j in row) for i, row in enumerate(top)
    ]
    hit = x.filter(pl.Series(keep)).with_columns(
        pl.Series("top_en", top_en, pl.String), pl.Series("top_zh", top_zh, pl.String)
    )
    return flags(
        hit,
        "MX-IF-001",
        "warn",
        pl.lit("多维异常（孤立森林得分 ")
        + pl.col("score").round(3).cast(pl.String)
        + "）："
        + pl.col("top_zh"),
        pl.lit("multivariate outlier (isolation forest score ")
        + pl.col("score").round(3).cast(pl.String)
        + "): "
        + pl.col("top_en"),
        json_of(
            features=pl.lit(",".join(FEATURES)),
            score=pl.col("score"),
            cutoff=pl.lit(cut),
            top_features=pl.col("top_en"),
            cell=pl.col("cell"),
        ),
    )
