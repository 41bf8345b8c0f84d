"""Knowledge tables (知识库) read by the rule library, loaded once into typed Polars frames.

Each table is a CSV in one directory (``example/`` ships EXAMPLE content; a bureau points
:func:`load_knowledge` at its own directory with the same columns).  Quantities are stored as
integers in 1/10000 (as ``lines.qty``); prices in fen.  A bad cell raises :class:`KnowledgeError`
naming ``table.column`` and the row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

import polars as pl

from yibao.errors import FieldError
from yibao.money import QTY_ONE


class KnowledgeError(FieldError):
    """A knowledge table that cannot be used: ``field`` is ``table.column``."""


def example_dir() -> Path:
    """The directory of the shipped EXAMPLE tables."""
    return Path(str(resources.files("yibao.audit.knowledge") / "example"))


@dataclass(frozen=True)
class Knowledge:
    """All knowledge tables, typed.  ``*_q`` columns are quantities × 10000."""

    item_sex: pl.DataFrame  # code, sex (M/F)
    item_age: pl.DataFrame  # code, min_age, max_age (Int32, null = open)
    item_level: pl.DataFrame  # code, min_level
    item_indication: pl.DataFrame  # code, icd_prefixes ('|'-joined ICD-10 prefixes, no dots)
    price_standard: pl.DataFrame  # code, kind, standard_price_fen
    duplicate_pairs: pl.DataFrame  # code_a, code_b
    split_items: pl.DataFrame  # package_code, component_code
    frequency: pl.DataFrame  # code, max_per_day_q, period_days, max_per_period_q
    payment_course: pl.DataFrame  # code, max_days, units_per_day_q, basis (admission | year)
    supply: pl.DataFrame  # code, max_units_per_day_q
    imaging: pl.DataFrame  # code, modality, positive_icd_prefixes
    deaths: pl.DataFrame  # psn_no, death_date
    long_term_dx: pl.DataFrame  # icd_prefix, name — conditions allowing a long-term prescription (长期处方)
    # code, titles ('|'-joined GB/T 8561 title codes allowed to bill the item), base_code (the grade of the
    # same family any physician may bill)
    title_grade: pl.DataFrame
    physicians: pl.DataFrame  # dr_code, fixmedins_code, title — the physician registry (医保医师库)
    # billing conventions (docs/AUDIT_RULES.md "Billing conventions"); every one optional: empty = not known
    item_pack: pl.DataFrame  # code, pack_units_q, daily_max_q — dispensing pack and the largest daily dose
    days_limit: pl.DataFrame  # code, max_days, days_class — days of supply one prescription may cover
    registered_conditions: pl.DataFrame  # psn_no, icd_prefix, condition — 门慢门特 registration (person)
    care_markers: pl.DataFrame  # code_prefix, kind — items whose billing shows care was given on that day
    # match (diagnosis|procedure|item: a course stay; session: an item whose outpatient visits on many days
    # at one provider are the sessions of a course), prefix, course, min_gap_days
    course_markers: pl.DataFrame
    institution_types: pl.DataFrame  # fixmedins_code, inst_type, district — the bureau's register
    flag_calibration: pl.DataFrame  # rule_code, flagged, confirmed — audited outcomes per detector (queue)
    # rule_code, strength_from, score, flagged — each detector's isotonic calibration curve (queue)
    flag_isotonic: pl.DataFrame
    # dr_code, internet_hospital, valid_from, valid_to — physicians registered (备案) to practise and prescribe
    # at an internet hospital, and for when (互联网诊疗医师备案); read by the prescriber rule of e-prescriptions
    internet_physicians: pl.DataFrame


_STR, _INT, _QTY, _DATE, _FLOAT = "str", "int", "qty", "date", "float"
_COLUMNS: dict[str, dict[str, str]] = {
    "item_sex": {"code": _STR, "sex": _STR},
    "item_age": {"code": _STR, "min_age": _INT, "max_age": _INT},
    "item_level": {"code": _STR, "min_level": _STR},
    "item_indication": {"code": _STR, "icd_prefixes": _STR},
    "price_standard": {"code": _STR, "kind": _STR, "standard_price_fen": _INT},
    "duplicate_pairs": {"code_a": _STR, "code_b": _STR, "scope": _STR},
    "split_items": {"package_code": _STR, "component_code": _STR},
    "frequency": {"code": _STR, "max_per_day": _QTY, "period_days": _INT, "max_per_period": _QTY},
    "payment_course": {"code": _STR, "max_days": _INT, "units_per_day": _QTY, "basis": _STR},
    "supply": {"code": _STR, "max_units_per_day": _QTY},
    "imaging": {"code": _STR, "modality": _STR, "positive_icd_prefixes": _STR},
    "deaths": {"psn_no": _STR, "death_date": _DATE},
    "long_term_dx": {"icd_prefix": _STR, "name": _STR},
    "title_grade": {"code": _STR, "titles": _STR, "base_code": _STR},
    "physicians": {"dr_code": _STR, "fixmedins_code": _STR, "title": _STR},
    "internet_physicians": {
        "dr_code": _STR,
        "internet_hospital": _STR,
        "valid_from": _DATE,
        "valid_to": _DATE,
    },
    "item_pack": {"code": _STR, "pack_units": _QTY, "daily_max": _QTY},
    "days_limit": {"code": _STR, "max_days": _INT, "days_class": _STR},
    "registered_conditions": {"psn_no": _STR, "icd_prefix": _STR, "condition": _STR},
    "care_markers": {"code_prefix": _STR, "kind": _STR},
    "course_markers": {"match": _STR, "prefix": _STR, "course": _STR, "min_gap_days": _INT},
    "institution_types": {"fixmedins_code": _STR, "inst_type": _STR, "district": _STR},
    "flag_calibration": {"rule_code": _STR, "flagged": _INT, "confirmed": _INT},
    "flag_isotonic": {"rule_code": _STR, "strength_from": _FLOAT, "score": _FLOAT, "flagged": _INT},
}
# columns a table may leave out, with the value they then take
_DEFAULTS: dict[tuple[str, str], str] = {
    ("duplicate_pairs", "scope"): "visit",
    ("course_markers", "min_gap_days"): "0",
    ("institution_types", "district"): "",
    ("days_limit", "days_class"): "",
    ("registered_conditions", "condition"): "",
}
# a directory without them loads them empty; the physician registry is region data that a deployment
# loads from its 医保医师库 (or :func:`with_physicians` adds a synthetic region's ``physicians.parquet``)
_OPTIONAL_TABLES = {
    "long_term_dx",
    "title_grade",
    "physicians",
    "internet_physicians",
    "item_pack",
    "days_limit",
    "registered_conditions",
    "care_markers",
    "course_markers",
    "institution_types",
    "flag_calibration",
    "flag_isotonic",
}
_REQUIRED = {
    "code",
    "sex",
    "min_level",
    "icd_prefixes",
    "kind",
    "standard_price_fen",
    "code_a",
    "code_b",
    "package_code",
    "component_code",
    "max_days",
    "units_per_day",
    "basis",
    "max_units_per_day",
    "modality",
    "psn_no",
    "death_date",
    "icd_prefix",
    "titles",
    "base_code",
    "dr_code",
    "title",
    "internet_hospital",
    "valid_from",
    "valid_to",
    "code_prefix",
    "prefix",
    "match",
    "course",
    "inst_type",
    "scope",
    "rule_code",
    "flagged",
    "confirmed",
    "strength_from",
    "score",
}
_ALLOWED = {
    ("item_sex", "sex"): {"M", "F"},
    ("payment_course", "basis"): {"admission", "year"},
    ("duplicate_pairs", "scope"): {"day", "visit"},
    ("course_markers", "match"): {
        "diagnosis",
        "procedure",
        "item",
        "session",
        "regimen",
        "session_diagnosis",
    },
}


def _qty(table: str, col: str, row: int, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        d = Decimal(text) * QTY_ONE
    except InvalidOperation:
        raise KnowledgeError(
            f"{table}.{col}", f"第 {row} 行不是数字 row {row}: {text!r} is not a number"
        ) from None
    if d != d.to_integral_value() or d < 0:
        raise KnowledgeError(
            f"{table}.{col}",
            f"第 {row} 行须为非负数且至多 4 位小数 row {row}: {text!r} needs at most 4 decimals and ≥ 0",
        )
    return int(d)


def _typed(table: str, raw: pl.DataFrame) -> pl.DataFrame:
    spec = _COLUMNS[table]
    cols: dict[str, pl.Series] = {}
    for col, kind in spec.items():
        if col not in raw.columns:
            if (table, col) not in _DEFAULTS:
                raise KnowledgeError(f"{table}.{col}", "缺少该列 column missing")
            raw = raw.with_columns(pl.lit(_DEFAULTS[table, col], pl.String).alias(col))
        values = raw[col].to_list()
        if col in _REQUIRED:
            for i, v in enumerate(values):
                if v is None or v == "":
                    raise KnowledgeError(f"{table}.{col}", f"第 {i + 1} 行为空 row {i + 1}: empty")
        allowed = _ALLOWED.get((table, col))
        if allowed is not None:
            for i, v in enumerate(values):
                if v not in allowed:
                    raise KnowledgeError(
                        f"{table}.{col}",
                        f"第 {i + 1} 行取值不在允许范围内 row {i + 1}: {v!r} not one of {sorted(allowed)}",
                    )
        if kind == _STR:
            cols[col] = pl.Series(col, values, pl.String)
        elif kind == _INT:
            try:
                cols[col] = pl.Series(col, [None if v in (None, "") else int(v) for v in values], pl.Int64)
            except ValueError as e:
                raise KnowledgeError(f"{table}.{col}", f"须为整数 not an integer ({e})") from None
        elif kind == _FLOAT:
            try:
                cols[col] = pl.Series(
                    col, [None if v in (None, "") else float(v) for v in values], pl.Float64
                )
            except ValueError as e:
                raise KnowledgeError(f"{table}.{col}", f"须为数字 not a number ({e})") from None
        elif kind == _QTY:
            cols[f"{col}_q"] = pl.Series(
                f"{col}_q", [_qty(table, col, i + 1, v) for i, v in enumerate(values)], pl.Int64
            )
        else:
            try:
                cols[col] = pl.Series(
                    col, [None if v in (None, "") else dt.date.fromisoformat(v) for v in values], pl.Date
                )
            except ValueError as e:
                raise KnowledgeError(f"{table}.{col}", f"日期格式错误 not an ISO date ({e})") from None
    return pl.DataFrame(list(cols.values()))


def from_frames(**tables: pl.DataFrame) -> Knowledge:
    """Knowledge from in-memory string frames (same columns as the CSVs); missing tables are empty."""
    typed = {}
    for f in fields(Knowledge):
        raw = tables.get(f.name)
        if raw is None:
            raw = pl.DataFrame({c: pl.Series(c, [], pl.String) for c in _COLUMNS[f.name]})
        typed[f.name] = _typed(f.name, raw.cast({c: pl.String for c in raw.columns}))
    unknown = set(tables) - set(typed)
    if unknown:
        raise KnowledgeError(sorted(unknown)[0], "未知的知识库表 unknown knowledge table")
    return Knowledge(**typed)


def load_knowledge(directory: str | Path | None = None) -> Knowledge:
    """Read every table ``<name>.csv`` from ``directory`` (default: the EXAMPLE tables)."""
    base = Path(directory) if directory is not None else example_dir()
    raw: dict[str, pl.DataFrame] = {}
    for name in _COLUMNS:
        path = base / f"{name}.csv"
        if not path.exists():
            if name in _OPTIONAL_TABLES:
                continue
            raise KnowledgeError(name, f"缺少文件 file {path} missing")
        raw[name] = pl.read_csv(path, infer_schema_length=0)
    return from_frames(**raw)


def with_region(knowledge: Knowledge, data_dir: str | Path) -> Knowledge:
    """``knowledge`` with the region data a synthetic region ships beside its claims and a bureau keeps in
    its own registers: the physician registry (``physicians.parquet``), the 门慢门特 register
    (``registered_conditions.parquet``) and the institutions' type and district (``institutions.parquet``,
    its ``kind`` read as the type), each only when the knowledge directory did not already give it."""
    d = Path(data_dir)
    k = knowledge
    if k.physicians.height == 0 and (d / "physicians.parquet").exists():
        k = with_physicians(k, pl.read_parquet(d / "physicians.parquet"))
    if k.registered_conditions.height == 0 and (d / "registered_conditions.parquet").exists():
        reg = pl.read_parquet(d / "registered_conditions.parquet")
        k = replace(k, registered_conditions=_typed("registered_conditions", reg.cast(pl.String)))
    if k.institution_types.height == 0 and (d / "institutions.parquet").exists():
        inst = pl.read_parquet(d / "institutions.parquet")
        if {"fixmedins_code", "kind"} <= set(inst.columns):
            raw = inst.select(
                "fixmedins_code",
                pl.col("kind").alias("inst_type"),
                (pl.col("district") if "district" in inst.columns else pl.lit("")).alias("district"),
            ).cast(pl.String)
            k = replace(k, institution_types=_typed("institution_types", raw))
    return k


def with_physicians(knowledge: Knowledge, physicians: pl.DataFrame) -> Knowledge:
    """``knowledge`` with the physician registry ``physicians`` (dr_code, fixmedins_code, title; extra
    columns are ignored), e.g. a synthetic region's ``physicians.parquet``."""
    missing = [c for c in _COLUMNS["physicians"] if c not in physicians.columns]
    if missing:
        raise KnowledgeError(f"physicians.{missing[0]}", "缺少该列 column missing")
    raw = physicians.select(list(_COLUMNS["physicians"])).cast(pl.String)
    return replace(knowledge, physicians=_typed("physicians", raw))
