"""The estimator and decision aid (the right to choose): what a planned visit would cost me, at each
hospital level and with each alternative drug, settled exactly as 2206 would settle it, with my real
accumulators.  Pure: the caller passes in the policy, the person, the accumulators and the day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from pypinyin import Style, lazy_pinyin

from yibao.errors import FieldError
from yibao.money import QTY_ONE
from yibao.policy.catalogue import CatalogueItem
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Line, Person, Settlement, Visit


class EstimateError(FieldError):
    """An estimate that cannot be made as asked (an unknown item, level or quantity)."""


class AlternativeRule(Protocol):
    """How catalogue drugs are matched as alternatives: national drug codes share their first
    ``generic_prefix`` characters within a generic name and ``class_prefix`` within a class."""

    @property
    def generic_prefix(self) -> int: ...
    @property
    def class_prefix(self) -> int: ...
    @property
    def max_alternatives(self) -> int: ...


@dataclass(frozen=True)
class BenefitYear:
    """One benefit (e.g. employee inpatient pooled fund) for a person this year."""

    benefit_id: str
    visit_types: tuple[str, ...]
    deductible_basis: str
    deductible_full: int | None  # per_year: the year's deductible at ``level``; None otherwise
    deductible_met: int
    cap: int | None
    cap_used: int
    cap_room: int | None


def year_so_far(
    policy: CompiledPolicy, person: Person, acc: Mapping[str, int], level: str
) -> list[BenefitYear]:
    """Deductible met and cap room left for every benefit of the person's scheme, from the accumulators.
    ``level`` is the hospital level whose deductible is shown (the deductible can differ by level)."""
    seen: dict[str, tuple[Any, list[str]]] = {}
    for (scheme, vt), b in sorted(policy.benefits.items()):
        if scheme != person.insutype:
            continue
        seen.setdefault(b.id, (b, []))[1].append(vt)
    out = []
    for b, vts in seen.values():
        counter_val = acc.get(b.counter, 0) if b.counter else 0
        full = b.deductible.get((level, person.psn_type)) if b.basis == "per_year" else None
        cap = b.cap_by_person_type.get(person.psn_type, b.cap)
        used = acc.get(b.cap_counter, 0)
        out.append(
            BenefitYear(
                b.id,
                tuple(vts),
                b.basis,
                full,
                min(counter_val, full) if full is not None else counter_val,
                cap,
                used,
                None if cap is None else max(cap - used, 0),
            )
        )
    return out


# ---------------------------------------------------------------------------- estimator
@dataclass(frozen=True)
class Pick:
    code: str
    qty: int  # whole units


def build_visit(
    policy: CompiledPolicy,
    psn_no: str,
    picks: Sequence[Pick],
    *,
    level: str,
    med_type: str,
    day: dt.date,
    fixmedins_code: str = "ESTIMATE",
    use_account: bool = True,
) -> Visit:
    """A hypothetical visit priced at the catalogue's typical unit prices (``unit_price``)."""
    if level not in policy.levels:
        raise EstimateError(
            "level", f"医院等级无效 unknown hospital level {level!r} (known: {', '.join(policy.levels)})"
        )
    if med_type not in policy.visit_types:
        raise EstimateError("med_type", f"就诊类型无效 unknown visit type {med_type!r}")
    if not picks:
        raise EstimateError("items", "请至少选择一项 pick at least one item", "missing")
    lines = []
    for i, p in enumerate(picks):
        item = policy.catalogue.get(p.code)
        if item is None:
            raise EstimateError(f"items[{i}].code", f"目录中没有该项目 {p.code!r} is not in the catalogue")
        if item.unit_price is None:
            raise EstimateError(
                f"items[{i}].code",
                f"该项目没有参考价格，无法估算 {p.code!r} has no typical price to estimate with",
            )
        if not 1 <= p.qty <= 999:
            raise EstimateError(
                f"items[{i}].qty", f"数量须为 1 到 999 {p.qty} is not a quantity from 1 to 999"
            )
        lines.append(Line(str(i + 1), p.code, p.qty * QTY_ONE, item.unit_price, item.unit_price * p.qty))
    return Visit(
        f"EST-{psn_no}",
        psn_no,
        med_type,
        fixmedins_code,
        level,
        day,
        day,
        tuple(lines),
        use_account=use_account,
    )


def estimate(
    policy: CompiledPolicy, person: Person, visit: Visit, acc: Mapping[str, int], balance: int
) -> Settlement:
    """The pre-settlement (2206) of ``visit`` with the person's real accumulators and account balance.
    Pure: the same call the ledger makes for a 2206, and nothing is written anywhere."""
    return settle_visit(policy, person, visit, acc, balance, person.insutype)


@dataclass(frozen=True)
class LevelOption:
    level: str
    medfee: int
    fund: int
    own: int  # psn_part_amt: account + cash
    cash: int


def compare_levels(
    policy: CompiledPolicy,
    person: Person,
    picks: Sequence[Pick],
    acc: Mapping[str, int],
    balance: int,
    *,
    med_type: str,
    day: dt.date,
) -> list[LevelOption]:
    """The same care at every hospital level of the region, cheapest own payment first (then by level)."""
    out = []
    for level in policy.levels:
        v = build_visit(policy, person.psn_no, picks, level=level, med_type=med_type, day=day)
        s = estimate(policy, person, v, acc, balance)
        out.append(LevelOption(level, s.medfee_sumamt, s.fund_pay_sumamt, s.psn_part_amt, s.psn_cash_pay))
    return sorted(out, key=lambda o: (o.own, list(policy.levels).index(o.level)))


@dataclass(frozen=True)
class Alternative:
    for_code: str
    code: str
    relation: str  # same_generic / same_class
    medfee: int
    own: int
    saving: int  # own payment of the original choice minus this one (positive = cheaper for me)


def alternatives_for(policy: CompiledPolicy, code: str, rule: AlternativeRule) -> list[tuple[str, str]]:
    """Catalogue drugs that could replace ``code``: same generic first, then same class; priced only."""
    item = policy.catalogue.get(code)
    if item is None or item.kind != "drug":
        return []
    g, c = code[: rule.generic_prefix], code[: rule.class_prefix]
    same_g = [
        x.code
        for x in policy.catalogue.values()
        if x.kind == "drug" and x.code != code and x.unit_price and x.code.startswith(g)
    ]
    same_c = [
        x.code
        for x in policy.catalogue.values()
        if x.kind == "drug"
        and x.code not in same_g
        and x.code != code
        and x.unit_price
        and x.code.startswith(c)
    ]
    found = [(x, "same_generic") for x in sorted(same_g)] + [(x, "same_class") for x in sorted(same_c)]
    return found[: rule.max_alternatives]


def compare_drugs(
    policy: CompiledPolicy,
    person: Person,
    picks: Sequence[Pick],
    acc: Mapping[str, int],
    balance: int,
    rule: AlternativeRule,
    *,
    level: str,
    med_type: str,
    day: dt.date,
) -> list[Alternative]:
    """For each picked drug, its alternatives, each estimated by swapping it into the same visit."""
    base = estimate(
        policy,
        person,
        build_visit(policy, person.psn_no, picks, level=level, med_type=med_type, day=day),
        acc,
        balance,
    )
    out = []
    for i, p in enumerate(picks):
        for alt, relation in alternatives_for(policy, p.code, rule):
            swapped = [Pick(alt, q.qty) if j == i else q for j, q in enumerate(picks)]
            v = build_visit(policy, person.psn_no, swapped, level=level, med_type=med_type, day=day)
            s = estimate(policy, person, v, acc, balance)
            out.append(
                Alternative(
                    p.code, alt, relation, s.medfee_sumamt, s.psn_part_amt, base.psn_part_amt - s.psn_part_amt
                )
            )
    return out


@lru_cache(maxsize=65_536)
def pinyin_initials(name: str) -> str:
    """The first letter of each character's pinyin, as people type a name quickly ("注射用头孢曲松钠 1g" →
    "zsytbqsn1g"); letters and digits in the name are kept."""
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")
    return "".join(ch for ch in "".join(letters).casefold() if ch.isalnum())


def resolve_item(policy: CompiledPolicy, text: str, field: str) -> str:
    """What a person typed for an item → its catalogue code: the code itself, the name in Chinese or
    English (any case, with or without the list's " · price" suffix), a part of one name, or the pinyin
    initials of the Chinese name (the start of them, else any part).  Only items
    with a typical price can be estimated; several matches are refused, naming the field."""
    parts = [x.strip() for x in text.split(" · ")]
    for part in parts:
        if part in policy.catalogue:
            return part
    typed = parts[0]
    found = _matching(policy.catalogue.values(), typed.casefold())
    if len(found) == 1:
        return found[0]
    if found:
        raise EstimateError(
            field,
            f"有{len(found)}个项目与“{typed}”相符，请从列表中选择 {len(found)} items match {typed!r}: pick one from the list",
            "ambiguous",
        )
    raise EstimateError(field, f"目录中没有该项目 {typed!r} is not in the catalogue")


def _matching(items: Iterable[CatalogueItem], want: str) -> list[str]:
    """Codes of the priced items that ``want`` (case-folded) names: the whole Chinese or English name, else
    a part of one, else the start of the pinyin initials, else any part of them — the first kind that
    finds anything wins (sorted by code)."""
    priced = [c for c in items if c.unit_price is not None]
    if not want:
        return []

    def names(c: CatalogueItem) -> tuple[str, str]:
        return c.name.casefold(), (c.name_en or "").casefold()

    found = sorted({c.code for c in priced if want in names(c)})
    found = found or sorted({c.code for c in priced if any(want in n for n in names(c))})
    if not found and want.isascii() and want.isalpha() and len(want) >= 2:  # pinyin initials: "tbqsn"
        found = sorted({c.code for c in priced if pinyin_initials(c.name).startswith(want)}) or sorted(
            {c.code for c in priced if want in pinyin_initials(c.name)}
        )
    return found


def search_items(items: Iterable[CatalogueItem], text: str, limit: int) -> list[CatalogueItem]:
    """The priced items a person may mean by ``text`` as they type it (a code, a name in Chinese or
    English or a part of one, pinyin initials), at most ``limit``, in the order :func:`resolve_item`
    reads them; a code typed whole comes first."""
    by_code = {c.code: c for c in items}
    typed = text.strip()
    if typed in by_code and by_code[typed].unit_price is not None:
        return [by_code[typed]]
    return [by_code[code] for code in _matching(by_code.values(), typed.casefold())[:limit]]


def item_labels(items: Iterable[CatalogueItem], english: bool = False) -> dict[str, str]:
    """What the item list shows and sends for each item: its name, and "name · code" where several items
    share a name (both forms are read back by :func:`resolve_item`)."""
    items = list(items)

    def name(c: CatalogueItem) -> str:
        return (c.name_en or c.name) if english else c.name

    seen: dict[str, int] = {}
    for c in items:
        seen[name(c)] = seen.get(name(c), 0) + 1
    return {c.code: name(c) if seen[name(c)] == 1 else f"{name(c)} · {c.code}" for c in items}


def resolve_picks(policy: CompiledPolicy, picks: Sequence[Pick]) -> list[Pick]:
    """Picks with every typed name replaced by its catalogue code (:func:`resolve_item`)."""
    return [Pick(resolve_item(policy, p.code, f"items[{i}].code"), p.qty) for i, p in enumerate(picks)]


def parse_picks(codes: Iterable[str], qtys: Iterable[str]) -> list[Pick]:
    """Form fields (parallel lists) → picks; blank codes are skipped, a bad quantity is named."""
    out = []
    for i, (code, qty) in enumerate(zip(codes, qtys, strict=False)):
        code = code.strip()
        if not code:
            continue
        q = qty.strip() or "1"
        if not q.isdigit():
            raise EstimateError(f"items[{i}].qty", f"数量须为整数 {qty!r} is not a whole number")
        out.append(Pick(code, int(q)))
    return out
