"""Scoring the annual assessment (年度考核) and what it does to payment — pure.

* **Points.** Each indicator scores its weight at its ``full`` line or better, 0 at its ``zero`` line or
  worse, linearly between.  An indicator without a value is *not available*: its weight goes to the
  available indicators of its dimension in proportion to theirs; a dimension with nothing available hands
  its weight to the available dimensions the same way.  So a score always reads out of 100, and the
  explanation says what was re-weighted and why.
* **Release** of the withheld 10 % deposit (质量保证金) by score: linear between the ``release.points``.
* **Satisfaction coefficient**: satisfaction under ``coefficient_below`` (80 %) → the payment coefficient
  ``coefficient`` (0.95) in the annual clearing; not available → no coefficient (1.00), said so.

Vectorised over institutions with numpy: 2,000 institutions score in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from yibao.assess.params import AssessParams
from yibao.assess.samples import SAMPLES


@dataclass(frozen=True)
class IndicatorScore:
    key: str
    value: int | None  # 1/10000
    weight_x100: int  # the weight it ended up with (1/100 point)
    points_x100: int  # points earned (1/100 point)


@dataclass(frozen=True)
class InstitutionScore:
    code: str
    level: str
    score_x100: int
    dimensions: dict[str, tuple[int, int]]  # dimension → (weight, points) in 1/100 point
    indicators: list[IndicatorScore]
    satisfaction: int | None
    release_ratio: int  # 1/10000
    coefficient: int  # 1/10000
    samples: dict[str, int | None] = field(default_factory=dict)  # yibao.assess.samples.SAMPLES


def fractions(values: np.ndarray, full: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Share of the weight earned: 1 at ``full`` or better, 0 at ``zero`` or worse, linear between (works
    for both directions because full − zero carries the sign); NaN stays NaN."""
    with np.errstate(invalid="ignore"):
        out: np.ndarray = np.clip((values - zero) / (full - zero), 0.0, 1.0)
    return out


def effective_weights(avail: np.ndarray, keys: Sequence[str], p: AssessParams) -> np.ndarray:
    """(N, K) weights in points after handing the weight of unavailable indicators and dimensions on."""
    dims = list(p.dimensions)
    w = np.array([p.indicators[k].weight for k in keys], dtype=np.float64)
    d_of = np.array([dims.index(p.indicators[k].dimension) for k in keys])
    D = np.array([p.dimensions[d].weight for d in dims], dtype=np.float64)
    aw = avail * w[None, :]
    dim_avail = np.zeros((avail.shape[0], len(dims)))
    np.add.at(dim_avail.T, d_of, aw.T)
    has = dim_avail > 0
    dim_weight = np.where(has, D[None, :], 0.0)
    total = dim_weight.sum(axis=1, keepdims=True)
    dim_weight = np.where(total > 0, dim_weight * 100.0 / np.where(total > 0, total, 1.0), 0.0)
    share = np.where(
        dim_avail[:, d_of] > 0, aw / np.where(dim_avail[:, d_of] > 0, dim_avail[:, d_of], 1.0), 0.0
    )
    out: np.ndarray = share * dim_weight[:, d_of]
    return out


def release_ratio(score_x100: np.ndarray, p: AssessParams) -> np.ndarray:
    """Share of the deposit released (1/10000), linear between the release points, flat outside them."""
    xs = np.array([x * 100 for x, _ in p.release.points], dtype=np.float64)
    ys = np.array([y for _, y in p.release.points], dtype=np.float64)
    return np.floor(np.interp(score_x100.astype(np.float64), xs, ys) + 0.5).astype(np.int64)


def coefficients(satisfaction: np.ndarray, p: AssessParams) -> np.ndarray:
    """Satisfaction under the line → the lower payment coefficient; NaN (not available) → 1.00."""
    s = p.satisfaction
    low = np.where(np.isnan(satisfaction), False, satisfaction < s.coefficient_below)
    return np.where(low, s.coefficient, 10_000).astype(np.int64)


def score(frame: pl.DataFrame, p: AssessParams) -> list[InstitutionScore]:
    """Score every row of ``indicators.assemble``'s frame."""
    keys = list(p.indicators)
    n = frame.height
    if n == 0:
        return []
    V = np.column_stack([frame[k].cast(pl.Float64).fill_null(np.nan).to_numpy() for k in keys])
    full = np.array([p.indicators[k].full for k in keys], dtype=np.float64)
    zero = np.array([p.indicators[k].zero for k in keys], dtype=np.float64)
    avail = ~np.isnan(V)
    W = effective_weights(avail.astype(np.float64), keys, p)
    pts = np.where(avail, W * np.nan_to_num(fractions(V, full, zero)), 0.0)
    pts100 = np.floor(pts * 100 + 0.5).astype(np.int64)
    w100 = np.floor(W * 100 + 0.5).astype(np.int64)
    total = pts100.sum(axis=1)
    rel = release_ratio(total, p)
    sat = frame["satisfaction"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    coef = coefficients(sat, p)
    dims = list(p.dimensions)
    d_of = np.array([dims.index(p.indicators[k].dimension) for k in keys])
    dim_w = np.zeros((n, len(dims)), dtype=np.int64)
    dim_p = np.zeros((n, len(dims)), dtype=np.int64)
    np.add.at(dim_w.T, d_of, w100.T)
    np.add.at(dim_p.T, d_of, pts100.T)
    codes, levels = frame["fixmedins_code"].to_list(), frame["level"].to_list()
    samples = {c: frame[c].to_list() if c in frame.columns else [None] * n for c in SAMPLES}
    out = []
    for i in range(n):
        vals = V[i]
        out.append(
            InstitutionScore(
                codes[i],
                str(levels[i]),
                int(total[i]),
                {d: (int(dim_w[i, j]), int(dim_p[i, j])) for j, d in enumerate(dims)},
                [
                    IndicatorScore(
                        k, None if np.isnan(vals[j]) else int(vals[j]), int(w100[i, j]), int(pts100[i, j])
                    )
                    for j, k in enumerate(keys)
                ],
                None if np.isnan(sat[i]) else int(sat[i]),
                int(rel[i]),
                int(coef[i]),
                {c: (None if v is None else int(v)) for c, v in ((c, samples[c][i]) for c in samples)},
            )
        )
    return out


# ------------------------------------------------------------------------------------ explanation
def _value(key: str, v: int | None) -> str:
    if v is None:
        return "—"
    if key.endswith("_rel") or key in ("cost_index", "time_index"):
        return f"{v / 10_000:.2f} 倍"
    return f"{v / 100:.1f}%"


def _line(key: str, v: int) -> str:
    return _value(key, v)


def explain(s: InstitutionScore, p: AssessParams, name: str = "") -> tuple[list[str], list[str]]:
    """Every step of an institution's assessment in words, Chinese then English: each dimension and
    indicator (value, lines, points, what was not available and where its weight went), the total, the
    release of the deposit and the satisfaction coefficient — with the rule each step follows."""
    zh: list[str] = []
    en: list[str] = []
    who = f"{name}（{s.code}）" if name else s.code
    zh.append(f"{who}年度考核得分 {s.score_x100 / 100:.2f} 分（满分 100 分）。")
    en.append(f"{s.code}: annual assessment score {s.score_x100 / 100:.2f} of 100.")
    by_dim: dict[str, list[IndicatorScore]] = {}
    for ind in s.indicators:
        by_dim.setdefault(p.indicators[ind.key].dimension, []).append(ind)
    for d, meta in p.dimensions.items():
        w, pts = s.dimensions[d]
        items = by_dim.get(d, [])
        if w == 0:
            zh.append(f"【{meta.name}】原定 {meta.weight} 分：本维度指标均不可用，其权重按比例并入其他维度。")
            en.append(
                f"[{meta.name_en}] nominal {meta.weight}: nothing available; its weight went to the other dimensions."
            )
        else:
            note = "" if w == meta.weight * 100 else f"（原定 {meta.weight} 分，因其他维度不可用而调整）"
            note_en = "" if w == meta.weight * 100 else f" (nominal {meta.weight}, re-weighted)"
            zh.append(
                f"【{meta.name}】权重 {w / 100:.2f} 分{note}，得 {pts / 100:.2f} 分（依据：{p.source_title(meta.source)}）。"
            )
            en.append(f"[{meta.name_en}] weight {w / 100:.2f}{note_en}, earned {pts / 100:.2f}.")
        for ind in items:
            m = p.indicators[ind.key]
            if ind.value is None:
                why = _why_missing(ind.key, p)
                zh.append(f"  · {m.name}：不可用（{why[0]}），权重并入同维度其他指标。")
                en.append(f"  · {m.name_en}: not available ({why[1]}); its weight went to the others.")
                continue
            better = "越低越好" if m.direction == "lower" else "越高越好"
            zh.append(
                f"  · {m.name} {_value(ind.key, ind.value)}（{better}；满分线 {_line(ind.key, m.full)}，零分线 "
                f"{_line(ind.key, m.zero)}）：得 {ind.points_x100 / 100:.2f} / {ind.weight_x100 / 100:.2f} 分"
                f"（依据：{p.source_title(m.source)}）。"
            )
            en.append(
                f"  · {m.name_en} {_value(ind.key, ind.value)} (full at {_line(ind.key, m.full)}, zero at "
                f"{_line(ind.key, m.zero)}): {ind.points_x100 / 100:.2f} of {ind.weight_x100 / 100:.2f}."
            )
            if ind.key in p.origins.reconciliations:
                rz, ren = reconciliation_text(s, p)
                zh.append(rz)
                en.append(ren)
    rz, re_ = release_text(s, p)
    zh.append(rz)
    en.append(re_)
    cz, ce = coefficient_text(s, p)
    zh.append(cz)
    en.append(ce)
    return zh, en


def _why_missing(key: str, p: AssessParams) -> tuple[str, str]:
    o = p.origins
    if key in o.input:
        return (
            "尚无数据来源，待相关能力或导入数据提供",
            "no source yet; to be supplied by a capability or an import",
        )
    if key in o.uploads:
        return (
            "本年无经国家接口上传的费用明细",
            "no fee lines uploaded through the national interface this year",
        )
    if key in o.reconciliations:
        return (
            "本年无国家接口 3201 对账记录，也未导入该值",
            "no 3201 reconciliation through the national interface this year, and no value imported",
        )
    if key in o.previous_year:
        return "需上年数据", "needs the previous year"
    if key in o.drg:
        return "本年无 DRG 付费病例", "no DRG payment cases this year"
    if key in o.audit_cases:
        return "无稽核案件或未裁定", "no audit cases, or none decided"
    if key in o.survey_and_ratings:
        return "无第三方调查且门户评价不足", "no survey and too few portal ratings"
    return "本年无相应就诊", "no such care this year"


def reconciliation_text(s: InstitutionScore, p: AssessParams) -> tuple[str, str]:
    """Where the reconciliation break rate came from: the value imported, or the reconciliations counted."""
    g = s.samples
    if g.get("recon_given"):
        kept = (
            f"；系统另有对账记录 {g['recon_periods']} 期、不平 {g['recon_breaks']} 期，以导入值为准"
            if g.get("recon_periods")
            else ""
        )
        return (
            f"    来源：导入值（考核数据导入，优先于对账记录的计算值）{kept}。",
            "    Source: the value imported (it wins over the one computed from the reconciliations).",
        )
    r = p.reconciliation
    which = "、".join(f"{x} {'总账对账' if x == '3201' else '明细对账'}" for x in r.counted)
    rule = "首次" if r.period_outcome == "first" else "最后一次"
    zh = (
        f"    来源：国家接口对账记录——本年 {which} {g.get('recon_periods') or 0} 期，不平 "
        f"{g.get('recon_breaks') or 0} 期（按每期{rule}对账结果计；依据：{p.source_title(r.source)}）"
    )
    en = (
        f"    Source: the national reconciliations kept — {g.get('recon_periods') or 0} periods "
        f"({', '.join(r.counted)}), {g.get('recon_breaks') or 0} not agreed ({r.period_outcome} answer per period)"
    )
    if g.get("recon_detail_rows"):
        zh += f"；3202 明细对账核对结算 {g['recon_detail_rows']} 笔，不符 {g.get('recon_detail_unmatched') or 0} 笔（仅供参考，不计分）"
        en += f"; 3202 detail: {g['recon_detail_unmatched'] or 0} of {g['recon_detail_rows']} settlements in breaks (not scored)"
    return zh + "。", en + "."


def release_text(s: InstitutionScore, p: AssessParams) -> tuple[str, str]:
    pts = "、".join(f"{x} 分返还 {y / 100:.0f}%" for x, y in p.release.points)
    return (
        f"质量保证金返还比例 {s.release_ratio / 100:.1f}%（{pts}，其间按分数线性；依据：{p.source_title(p.release.source)}）。",
        f"Deposit released: {s.release_ratio / 100:.1f}% (linear between the points {p.release.points}).",
    )


def coefficient_text(s: InstitutionScore, p: AssessParams) -> tuple[str, str]:
    r = p.satisfaction
    src = p.source_title(r.source)
    line = f"{r.coefficient_below / 100:.0f}%"
    if s.satisfaction is None:
        return (
            f"满意度：不可用（无第三方调查，门户评价少于 {r.min_ratings} 条），不调整支付系数。",
            f"Satisfaction not available (no survey, under {r.min_ratings} portal ratings): no coefficient.",
        )
    detail = []
    if s.samples.get("survey_n"):
        detail.append(
            f"第三方调查 {s.samples['survey_n']} 人，满意 {(s.samples.get('survey_rate') or 0) / 100:.1f}%"
        )
    if s.samples.get("ratings_n"):
        detail.append(
            f"门户评价 {s.samples['ratings_n']} 条，{r.satisfied_stars} 星及以上 {(s.samples.get('ratings_rate') or 0) / 100:.1f}%"
        )
    d = "；".join(detail)
    if s.coefficient != 10_000:
        return (
            f"满意度 {s.satisfaction / 100:.1f}%（{d}），低于 {line}：年度清算支付系数 {s.coefficient / 10_000:.2f}（依据：{src}）。",
            f"Satisfaction {s.satisfaction / 100:.1f}%, under {line}: payment coefficient {s.coefficient / 10_000:.2f} in the clearing.",
        )
    return (
        f"满意度 {s.satisfaction / 100:.1f}%（{d}），不低于 {line}：支付系数 1.00（依据：{src}）。",
        f"Satisfaction {s.satisfaction / 100:.1f}%, not under {line}: coefficient 1.00.",
    )
