"""就医地目录 — the care region prices a visitor's lines with its own catalogue (甲乙丙, 先行自付比例, 限价), and
the insured region settles them with those prices and its own policy.  Pure: JSON shapes in and out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from yibao.money import parse_ratio
from yibao.policy.book import PolicyBook
from yibao.policy.catalogue import CLASS_NAMES, CatalogueItem
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.model import SettlementError, Visit


def price_lines(catalogue: Mapping[str, CatalogueItem], visit: Visit) -> dict[str, dict[str, Any]]:
    """``{code: {name, cls, selfpay_prop, price_cap}}`` for every code on the visit, from the care region's
    catalogue; an unknown code is refused naming the line."""
    out: dict[str, dict[str, Any]] = {}
    for i, ln in enumerate(visit.lines):
        item = catalogue.get(ln.code)
        if item is None:
            raise SettlementError(
                f"feedetail[{i}].med_list_codg",
                f"就医地目录中没有该项目编码 {ln.code!r} unknown item code in the care region's catalogue",
                "unknown_item",
            )
        out[ln.code] = {
            "name": item.name,
            "cls": item.cls,
            "selfpay_prop": item.selfpay_prop,
            "price_cap": item.price_cap,
        }
    return out


def catalogue_from(priced: Mapping[str, Any]) -> dict[str, CatalogueItem]:
    """The care region's prices as catalogue items the engine reads (class, pay-first ratio, price cap)."""
    out: dict[str, CatalogueItem] = {}
    for code, p in priced.items():
        if not isinstance(p, Mapping):
            raise SettlementError(f"priced.{code}", "须为对象 must be an object")
        cls = str(p.get("cls", ""))
        if cls not in CLASS_NAMES:
            raise SettlementError(f"priced.{code}.cls", f"未知的甲乙丙类别 {cls!r} unknown class")
        cap = p.get("price_cap")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
            raise SettlementError(f"priced.{code}.price_cap", "限价须为非负整数分 must be whole fen")
        sp = p.get("selfpay_prop", 0)
        if not isinstance(sp, int) or isinstance(sp, bool):
            sp = parse_ratio(sp)
        out[str(code)] = CatalogueItem(
            str(code), str(p.get("name", "")), "", "", cls, sp, cap, None, None, None, None, None, (), ""
        )
    return out


class CareCatalogueBook(PolicyBook):
    """The insured region's policy book with the care region's catalogue in place of its own
    (就医地目录、参保地政策)."""

    def __init__(self, base: PolicyBook, catalogue: dict[str, CatalogueItem]) -> None:
        super().__init__(base.loaded)
        self._base = base
        self._catalogue = catalogue

    def for_date(self, day: dt.date, field: str = "visit.begin_date") -> CompiledPolicy:
        return dataclasses.replace(self._base.for_date(day, field), catalogue=self._catalogue)
