"""The region's catalogue (医保目录): item codes with class, pay-first ratio, price cap and restrictions.

Stored as CSV so a bureau can export it from its own catalogue system.  Columns are documented in
docs/POLICY_FORMAT.md.  Restrictions are data for the audit capability; settlement reads only class,
pay-first ratio (先行自付比例) and price cap (限价 / 支付标准).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from yibao.money import MoneyError, parse_ratio, yuan_to_fen

CLASS_A, CLASS_B, CLASS_C = "01", "02", "03"  # chrgitm_lv 甲 / 乙 / 丙
CLASS_NAMES = {CLASS_A: ("甲类", "class A"), CLASS_B: ("乙类", "class B"), CLASS_C: ("丙类", "class C")}
FEE_CATEGORIES = {f"{i:02d}" for i in range(1, 15)}  # med_chrgitm_type 01–14
COLUMNS = (
    "code",
    "name",
    "name_en",
    "category",
    "class",
    "selfpay_prop",
    "price_cap",
    "unit_price",
    "sex",
    "min_age",
    "max_age",
    "min_level",
    "indications",
    "kind",
)
REQUIRED = ("code", "name", "category", "class")


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    code: str
    name: str
    name_en: str
    category: str  # med_chrgitm_type
    cls: str  # chrgitm_lv 01/02/03
    selfpay_prop: int  # 1/10000, 先行自付比例 (乙类 only)
    price_cap: int | None  # fen per unit, 限价 / 支付标准
    unit_price: int | None  # typical price in fen (demo and estimator)
    sex: str | None  # 'M' / 'F' restriction
    min_age: int | None
    max_age: int | None
    min_level: str | None
    indications: tuple[str, ...]  # ICD-10 prefixes (限适应症)
    kind: str  # drug / service / material


class CatalogueError(ValueError):
    def __init__(self, row: int, column: str, reason: str) -> None:
        super().__init__(f"row {row}, column '{column}': {reason}")
        self.row, self.column, self.reason = row, column, reason


def parse_catalogue(text: str) -> dict[str, CatalogueItem]:
    """Parse catalogue CSV text; raises :class:`CatalogueError` naming row and column."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise CatalogueError(1, missing[0], "表头缺少必填列 required column is missing from the header")
    items: dict[str, CatalogueItem] = {}
    for n, row in enumerate(reader, start=2):
        items_code = (row.get("code") or "").strip()
        item = _parse_row(n, row)
        if items_code in items:
            raise CatalogueError(n, "code", f"项目编码重复 duplicate item code {items_code!r}")
        items[items_code] = item
    return items


def _cell(row: dict[str, str | None], col: str) -> str:
    return (row.get(col) or "").strip()


def _parse_row(n: int, row: dict[str, str | None]) -> CatalogueItem:
    for col in REQUIRED:
        if not _cell(row, col):
            raise CatalogueError(n, col, "不得为空 must not be empty")
    cls = _cell(row, "class")
    if cls not in CLASS_NAMES:
        raise CatalogueError(
            n, "class", f"目录等级须为 01 甲类、02 乙类或 03 丙类 {cls!r} is not 01 (甲), 02 (乙) or 03 (丙)"
        )
    category = _cell(row, "category")
    if category not in FEE_CATEGORIES:
        raise CatalogueError(
            n, "category", f"收费项目类别须为 01–14 {category!r} is not a med_chrgitm_type 01–14"
        )
    try:
        selfpay = parse_ratio(_cell(row, "selfpay_prop") or "0")
    except MoneyError as exc:
        raise CatalogueError(n, "selfpay_prop", str(exc)) from exc
    if cls != CLASS_B and selfpay:
        raise CatalogueError(
            n, "selfpay_prop", "只有乙类项目有先行自付比例 only 乙类 (02) items carry a pay-first ratio"
        )
    money: dict[str, int | None] = {}
    for col in ("price_cap", "unit_price"):
        try:
            money[col] = yuan_to_fen(_cell(row, col)) if _cell(row, col) else None
        except MoneyError as exc:
            raise CatalogueError(n, col, str(exc)) from exc
    sex = _cell(row, "sex") or None
    if sex not in (None, "M", "F"):
        raise CatalogueError(n, "sex", f"性别须为 M 或 F {sex!r} is not M or F")
    ages: dict[str, int | None] = {}
    for col in ("min_age", "max_age"):
        v = _cell(row, col)
        if v and not v.isdigit():
            raise CatalogueError(n, col, f"年龄须为整数 {v!r} is not a whole number of years")
        ages[col] = int(v) if v else None
    kind = _cell(row, "kind") or "service"
    if kind not in ("drug", "service", "material"):
        raise CatalogueError(
            n, "kind", f"项目类型须为药品、诊疗项目或耗材 {kind!r} is not drug, service or material"
        )
    return CatalogueItem(
        code=_cell(row, "code"),
        name=_cell(row, "name"),
        name_en=_cell(row, "name_en") or _cell(row, "name"),
        category=category,
        cls=cls,
        selfpay_prop=selfpay,
        price_cap=money["price_cap"],
        unit_price=money["unit_price"],
        sex=sex,
        min_age=ages["min_age"],
        max_age=ages["max_age"],
        min_level=_cell(row, "min_level") or None,
        indications=tuple(x for x in _cell(row, "indications").split("|") if x),
        kind=kind,
    )
