"""What an auditor's and an institution's pages need beside a case: the detectors' names, the visit an item
points at, the ranked review queue over open case items, and plain-language evidence.

* **Ranking** — each item's score is the review queue's (:mod:`yibao.audit.queue`): per detector the
  calibrated chance that a visit it flags is confirmed (``flag_calibration``, Beta prior of ``queue.yaml``),
  combined over the item's detectors by noisy-or; ties broken by the amount at stake.  The region-wide
  demotion of a detector needs every visit of the region and is left to ``yibao audit run --top``.
* **Visit register** — an item carries the synthetic region's ``visit_id`` and ``psn_id``; the register
  (``visits.parquet`` and ``persons.parquet`` of the data beside the database) gives the 就诊 ID, the
  person's number and the dates."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from yibao.audit.cases.model import Case, CaseItem, CaseState
from yibao.audit.queue import QueueParams, calibration_scores, queue_params
from yibao.money import fmt_yuan

STATE_NAMES: dict[str, tuple[str, str]] = {
    CaseState.OPEN.value: ("已立案，未告知", "opened, not yet notified"),
    CaseState.NOTIFIED.value: ("已告知", "notified"),
    CaseState.APPEALED.value: ("已申诉，待裁定", "appealed, to decide"),
    CaseState.DECIDED.value: ("已裁定，待扣款", "decided, to deduct"),
    CaseState.DEDUCTED.value: ("已扣款", "deducted"),
    CaseState.CLOSED.value: ("已结案", "closed"),
}
EVENT_NAMES: dict[str, tuple[str, str]] = {
    "open": ("立案", "opened"),
    "notify": ("发出稽核告知书", "notice sent"),
    "appeal": ("机构申诉", "appeal filed"),
    "decide": ("裁定", "decided"),
    "expire": ("逾期未申诉，视为认可", "no appeal in time: items stand"),
    "deduct": ("扣款入账", "deduction posted"),
}
OUTCOME_NAMES: dict[str, tuple[str, str]] = {
    "upheld": ("维持", "upheld"),
    "dismissed": ("撤销", "dismissed"),
    "partial": ("部分维持", "partly upheld"),
}
EVIDENCE_LABELS: dict[str, tuple[str, str]] = {
    "code": ("项目", "item"),
    "max_days": ("限定天数", "days allowed"),
    "prescribed_days": ("处方天数", "days prescribed"),
    "limit_units": ("限量", "units allowed"),
    "units": ("开药量", "units given"),
    "pack_units": ("每包装", "units per pack"),
    "registered": ("门慢门特登记", "registered condition"),
    "max_units_per_day": ("每日最大量", "largest daily dose"),
    "price_fen": ("单价（元）", "price (yuan)"),
    "standard_price_fen": ("标准价（元）", "standard price (yuan)"),
    "qty": ("数量", "quantity"),
    "age": ("年龄", "age"),
    "sex": ("性别", "sex"),
    "level": ("医院等级", "hospital level"),
    "min_level": ("最低医院等级", "lowest level allowed"),
    "icd": ("诊断", "diagnosis"),
    "diagnoses": ("诊断", "diagnoses"),
    "los_days": ("住院天数", "days in hospital"),
    "peer_median": ("同级中位数", "peer median"),
    "value": ("本机构数值", "this value"),
    "z": ("偏离程度（z）", "deviation (z)"),
    "per_day": ("每日量", "per day"),
    "days": ("天数", "days"),
    "total": ("合计", "total"),
    "first_line": ("首条明细", "first line"),
    "day": ("日期", "day"),
    "day_total": ("当日合计", "day total"),
    "daily_max": ("每日上限", "daily maximum"),
    "features": ("特征", "feature"),
    "peer_group": ("同级组", "peer group"),
    "provider_share": ("本机构占比", "share here"),
    "peer_share": ("同级占比", "share at peers"),
    "lift": ("提升度", "lift"),
    "binomial_p": ("显著性 p 值", "p-value"),
    "line_amount_fen": ("明细金额（元）", "line amount (yuan)"),
    "role": ("角色", "role"),
    "gap_days": ("间隔天数", "days apart"),
    "disease": ("疾病", "condition"),
    "window_days": ("时间窗（天）", "window (days)"),
    "titles": ("允许的职称", "titles allowed"),
    "physician": ("医师", "physician"),
    "title": ("职称", "title"),
    "allowed_price_fen": ("允许单价（元）", "price allowed (yuan)"),
    "readmission": ("再入院", "readmission"),
    "previous_visit": ("上次就诊", "previous visit"),
    "cumulative": ("累计", "cumulative"),
}


def detector_names() -> dict[str, tuple[str, str]]:
    """Every rule's and model's name, Chinese and English, by code."""
    return dict(_detector_names())


@functools.cache
def _detector_names() -> tuple[tuple[str, tuple[str, str]], ...]:
    from yibao.audit.detectors import MODEL_CODES
    from yibao.audit.rules.model import load_library

    names = {r.code: (r.name_zh, r.name_en) for r in load_library().rules}
    names.update(MODEL_CODES)
    return tuple(names.items())


@dataclass(frozen=True, slots=True)
class VisitRef:
    visit_id: int
    mdtrt_id: str
    psn_no: str
    begin_date: dt.date
    end_date: dt.date
    med_type: str


def visit_register(data_dir: Path | None) -> dict[int, VisitRef]:
    """visit_id → the visit, from the synthetic region's data (empty when there is none)."""
    if data_dir is None or not (data_dir / "visits.parquet").is_file():
        return {}
    v = pl.read_parquet(
        data_dir / "visits.parquet",
        columns=["visit_id", "mdtrt_id", "psn_id", "begin_date", "end_date", "med_type"],
    )
    p = pl.read_parquet(data_dir / "persons.parquet", columns=["psn_id", "psn_no"])
    rows = v.join(p, on="psn_id", how="left").select(
        "visit_id", "mdtrt_id", "psn_no", "begin_date", "end_date", "med_type"
    )
    return {
        int(r[0]): VisitRef(int(r[0]), str(r[1]), str(r[2] or ""), r[3], r[4], str(r[5]))
        for r in rows.iter_rows()
    }


def calibration(knowledge_dir: Path | None) -> dict[str, float]:
    """Detector → calibrated flag score, from ``flag_calibration.csv`` of the bureau's knowledge directory
    (the shipped example table when the directory has none)."""
    from yibao.audit.knowledge import example_dir

    for d in (knowledge_dir, example_dir()):
        if d is not None and (Path(d) / "flag_calibration.csv").is_file():
            table = pl.read_csv(
                Path(d) / "flag_calibration.csv",
                schema_overrides={"rule_code": pl.String, "flagged": pl.Int64, "confirmed": pl.Int64},
            )
            scores = calibration_scores(table, queue_params())
            return {str(a): float(b) for a, b in scores.iter_rows()}
    return {}


def item_score(item: CaseItem, scores: Mapping[str, float], p: QueueParams | None = None) -> float:
    """Noisy-or of the item's detectors' calibrated scores (``default_score`` for one not calibrated)."""
    p = p or queue_params()
    miss = 1.0
    for code in dict.fromkeys(item.rule_codes):
        miss *= 1.0 - scores.get(code, p.default_score)
    return 1.0 - miss


REVIEW_STATES = (CaseState.OPEN, CaseState.NOTIFIED, CaseState.APPEALED)


def ranked_items(
    cases: Iterable[Case], scores: Mapping[str, float], p: QueueParams | None = None
) -> list[tuple[float, Case, CaseItem]]:
    """Undecided items of cases still under review, best first (score, then amount at stake)."""
    out = [
        (item_score(i, scores, p), c, i)
        for c in cases
        if c.state in REVIEW_STATES
        for i in c.items
        if i.decision is None
    ]
    out.sort(key=lambda x: (-x[0], -x[2].amount_fen, x[1].case_id, x[2].item_no))
    return out


_CODE = re.compile(r"[A-Z0-9]{10,30}")


def with_names(text: str, name_of: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """``text`` as (words, code) parts: every catalogue code in it becomes its name, followed by the code
    as a secondary detail (a code the catalogue does not know stays as words)."""
    out: list[tuple[str, str]] = []
    at = 0
    for m in _CODE.finditer(text):
        name = name_of(m.group(0))
        if not name:
            continue
        out.append((text[at : m.start()] + name, m.group(0)))
        at = m.end()
    out.append((text[at:], ""))
    return [p for p in out if p != ("", "")]


def evidence_rows(
    evidence: str, name_of: Callable[[str], str | None], english: bool = False
) -> list[list[tuple[str, str, str]]]:
    """The item's evidence as rows of (label, value in words, code as a secondary detail): one row per flag
    behind the item."""
    try:
        data: Any = json.loads(evidence)
    except (ValueError, TypeError):
        return [[("", str(evidence), "")]] if evidence else []
    flags = data if isinstance(data, list) else [data]
    out: list[list[tuple[str, str, str]]] = []
    for f in flags:
        if not isinstance(f, dict):
            out.append([("", str(f), "")])
            continue
        row: list[tuple[str, str, str]] = []
        for k, v in f.items():
            label = EVIDENCE_LABELS.get(k, (k, k))[1 if english else 0]
            code = ""
            if k == "code" and isinstance(v, str):
                name = name_of(v)
                value, code = (name, v) if name else (v, "")
            elif k.endswith("_fen") and isinstance(v, int) and not isinstance(v, bool):
                value = fmt_yuan(v)
            elif isinstance(v, bool):
                value = ("yes" if v else "no") if english else ("是" if v else "否")
            elif isinstance(v, float):
                value = f"{v:.3g}"
            elif isinstance(v, (list, dict)):
                value = json.dumps(v, ensure_ascii=False)
            else:
                value = str(v)
            row.append((label, value, code))
        out.append(row)
    return out
