"""Suspect items (疑点, the shared flag frame) → one case per institution and audit period.  Pure.

Several flags on the same line (or the same visit, for visit-level flags) become one case item: the
money is at stake once, so the item's amount is the largest flagged amount, and every flag id, rule code,
reason and evidence row is kept on the item.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from yibao.audit.cases.model import AuditCaseError, CaseItem
from yibao.audit.flags import FLAG_SCHEMA


@dataclass(frozen=True, slots=True)
class CaseDraft:
    case_id: str
    fixmedins_code: str
    period: str
    items: tuple[CaseItem, ...]


def case_id_for(period: str, fixmedins_code: str) -> str:
    """One case per institution per audit period: ``<period>:<fixmedins_code>``."""
    return f"{period}:{fixmedins_code}"


def validate_flags(flags: pl.DataFrame) -> pl.DataFrame:
    """The flag frame with its columns checked against ``FLAG_SCHEMA``; errors name the column."""
    for name, dtype in FLAG_SCHEMA.items():
        if name not in flags.columns:
            raise AuditCaseError(
                f"flags.{name}", "缺少该列 column missing (see yibao.audit.flags.FLAG_SCHEMA)"
            )
        if flags.schema[name] != dtype:
            raise AuditCaseError(f"flags.{name}", f"列类型错误 must be {dtype}, got {flags.schema[name]}")
    for name in ("flag_id", "psn_id", "fixmedins_code", "visit_id", "amount_fen", "rule_code"):
        nulls = flags[name].null_count()
        if nulls:
            raise AuditCaseError(
                f"flags.{name}",
                f"有 {nulls} 个空值，每个疑点明细都须填写 {nulls} null value(s); every suspect item needs one",
            )
    if flags.height and int(flags["amount_fen"].min()) < 0:  # type: ignore[arg-type]
        bad = flags.filter(pl.col("amount_fen") < 0)["flag_id"][0]
        raise AuditCaseError("flags.amount_fen", f"涉及金额为负 negative amount at stake (flag {bad})")
    dup = flags["flag_id"].is_duplicated()
    if dup.any():
        raise AuditCaseError(
            "flags.flag_id", f"疑点编号重复 duplicate flag id {flags.filter(dup)['flag_id'][0]!r}"
        )
    return flags.select(list(FLAG_SCHEMA))


def group_flags(flags: pl.DataFrame, period: str) -> list[CaseDraft]:
    """Cases (sorted by institution) with items numbered 1… in (person, visit, line) order."""
    if not period or not period.strip():
        raise AuditCaseError(
            "period", "须写明稽核期间（如 2025Q2） the audit period must be named (e.g. 2025Q2)"
        )
    frame = validate_flags(flags)
    if frame.height == 0:
        return []
    grouped = (
        frame.group_by(["fixmedins_code", "psn_id", "visit_id", "feedetl_sn"], maintain_order=False)
        .agg(
            pl.col("flag_id").sort(),
            pl.col("rule_code").unique().sort(),
            pl.col("amount_fen").max(),
            pl.col("reason_zh").drop_nulls().unique(maintain_order=True).str.join("；"),
            pl.col("reason_en").drop_nulls().unique(maintain_order=True).str.join("; "),
            # the contract's evidence is JSON text: the item's is the JSON array of its flags' (in flag_id order)
            pl.concat_str(
                [
                    pl.lit("["),
                    pl.col("evidence").sort_by("flag_id").fill_null("null").str.join(","),
                    pl.lit("]"),
                ]
            ),
        )
        .sort(["fixmedins_code", "psn_id", "visit_id", "feedetl_sn"], nulls_last=False)
    )
    drafts: list[CaseDraft] = []
    for (code,), part in grouped.group_by(["fixmedins_code"], maintain_order=True):
        items = []
        for no, (_c, psn, vid, sn, fids, codes, amount, zh, en, evidence) in enumerate(part.iter_rows(), 1):
            items.append(CaseItem(no, tuple(fids), tuple(codes), psn, vid, sn, amount, zh, en, evidence))
        drafts.append(CaseDraft(case_id_for(period, str(code)), str(code), period, tuple(items)))
    return drafts
