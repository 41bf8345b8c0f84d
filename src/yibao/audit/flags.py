"""The shared flag contract: one row per suspect item (疑点), produced by rules and models, consumed by cases.

``flag_id`` is deterministic — ``f"{rule_code}:{visit_id}:{feedetl_sn or 0}"`` — so a re-run produces the same
ids and the case workflow can de-duplicate.  ``feedetl_sn`` is null for visit-level / person-level flags.
``amount_fen`` is the fund-relevant amount at stake, integer fen, never negative.
"""

from __future__ import annotations

import polars as pl

from yibao.errors import FieldError

FLAG_SCHEMA: dict[str, pl.DataType] = {
    "flag_id": pl.String(),  # f"{rule_code}:{visit_id}:{feedetl_sn or 0}"
    "source": pl.String(),  # "rule" | "model"
    "rule_code": pl.String(),  # "GZ-YB-001" for rules, "MX-PEER-001" for models
    "rule_class": pl.String(),  # 政策 | 管理 | 医疗 | 统计 (models: 模型)
    "psn_id": pl.Int64(),
    "fixmedins_code": pl.String(),
    "visit_id": pl.Int64(),
    "feedetl_sn": pl.Int32(),  # null for visit-level / person-level flags
    "amount_fen": pl.Int64(),  # amount at stake, integer fen
    "severity": pl.String(),  # "block" | "flag" | "warn"
    "reason_zh": pl.String(),
    "reason_en": pl.String(),
    "evidence": pl.String(),  # JSON: features / peer values / knowledge rows behind the flag
}

SOURCES = ("rule", "model")
RULE_CLASSES = ("政策", "管理", "医疗", "统计", "模型")
SEVERITIES = ("block", "flag", "warn")


class FlagError(FieldError):
    """A flag frame that breaks the contract (missing column, wrong type, bad value)."""


def empty_flags() -> pl.DataFrame:
    """An empty frame with exactly the contract's columns and types."""
    return pl.DataFrame(schema=FLAG_SCHEMA)


def flag_id_expr(rule_code: pl.Expr, visit_id: pl.Expr, feedetl_sn: pl.Expr) -> pl.Expr:
    """The deterministic id as a Polars expression: ``rule_code:visit_id:(feedetl_sn or 0)``."""
    return pl.concat_str(
        [rule_code, visit_id.cast(pl.String), feedetl_sn.fill_null(0).cast(pl.String)], separator=":"
    )


def flag_id(rule_code: str, visit_id: int, feedetl_sn: int | None) -> str:
    """The deterministic id of one flag (the scalar twin of :func:`flag_id_expr`)."""
    return f"{rule_code}:{visit_id}:{feedetl_sn or 0}"


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast ``frame`` to the contract's column order and types (raises on a missing column)."""
    missing = [c for c in FLAG_SCHEMA if c not in frame.columns]
    if missing:
        raise FlagError(f"flags.{missing[0]}", "缺少该列 column missing (see yibao.audit.flags.FLAG_SCHEMA)")
    return frame.select([pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items()])


def validate_flags(frame: pl.DataFrame) -> pl.DataFrame:
    """Check a flag frame against the contract and return it unchanged; raise :class:`FlagError` naming the field."""
    for name, dtype in FLAG_SCHEMA.items():
        if name not in frame.columns:
            raise FlagError(f"flags.{name}", "缺少该列 column missing (see yibao.audit.flags.FLAG_SCHEMA)")
        if frame.schema[name] != dtype:
            raise FlagError(f"flags.{name}", f"列类型错误 must be {dtype}, got {frame.schema[name]}")
    for name, allowed in (("source", SOURCES), ("rule_class", RULE_CLASSES), ("severity", SEVERITIES)):
        bad = frame.filter(~pl.col(name).is_in(list(allowed)))
        if bad.height:
            raise FlagError(f"flags.{name}", f"取值不在允许范围内 {bad[name][0]!r} not one of {allowed}")
    if frame.height and frame.filter(pl.col("amount_fen") < 0).height:
        raise FlagError("flags.amount_fen", "涉及金额为负 negative amount at stake")
    return frame
