"""The cross-region parameters (``params.yaml``): filing rules, prepayment sizing, the hub's time limit —
each figure with its source."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from yibao.crossregion.filing import FilingError, FilingRules, rules_from

PARAMS_FILE = Path(__file__).with_name("params.yaml")


@dataclass(frozen=True)
class Params:
    filing: FilingRules
    prepay_months: int
    history_months: int
    timeout_seconds: float
    sources: dict[str, dict[str, Any]]


def _figure(raw: dict[str, Any], block: str, key: str) -> Any:
    item = (raw.get(block) or {}).get(key)
    if not isinstance(item, dict) or "value" not in item:
        raise FilingError(f"{block}.{key}", "缺少取值 missing value", "missing")
    if str(item.get("source") or "") not in (raw.get("sources") or {}):
        raise FilingError(f"{block}.{key}.source", f"未知来源 {item.get('source')!r} unknown source")
    return item["value"]


def parse_params(raw: dict[str, Any]) -> Params:
    try:
        timeout = float(Decimal(str(_figure(raw, "hub", "timeout_seconds"))))
    except InvalidOperation:
        raise FilingError("hub.timeout_seconds.value", "须为数字 must be a number") from None
    return Params(
        filing=rules_from(raw),
        prepay_months=int(_figure(raw, "clearing", "prepay_months")),
        history_months=int(_figure(raw, "clearing", "history_months")),
        timeout_seconds=timeout,
        sources=dict(raw.get("sources") or {}),
    )


def load_params(path: Path = PARAMS_FILE) -> Params:
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict):
        raise FilingError(str(path), "不是 YAML 映射 is not a YAML mapping")
    return parse_params(raw)
