"""A policy version flattened into lookup tables, so the engine does dictionary reads, not searches.

Most-specific-row-wins: a ratio or deductible row naming a level beats a ``*`` row, and one naming a
person type beats a ``*`` row; among equally specific rows the later one in the file wins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from yibao.money import RATIO_ONE, apply_ratio
from yibao.policy.catalogue import CatalogueItem
from yibao.policy.loader import LoadedRegion
from yibao.policy.model import LOCALITIES, WILDCARD, Layer, LayerTerms, PersonGroup, Version


@dataclass(frozen=True, slots=True)
class CompiledBenefit:
    id: str
    fund_pay_type: str
    basis: str  # per_year / per_admission / none
    counter: str | None
    deductible: dict[tuple[str, str], int]  # (level, person_type) -> fen
    repeat_schedule: tuple[int, ...] | None
    repeat_step: int | None
    repeat_floor: int | None
    repeat_compound: int | None
    refused: frozenset[str]  # localities not settled directly (refused with an error)
    ratio: dict[tuple[str, str, str], int]  # (level, person_type, locality) -> 1/10000
    cap_counter: str
    cap: int | None
    cap_by_person_type: dict[str, int | None]
    # the accumulator counting the year's admissions (per-admission basis), named once here, not per visit
    admissions_counter: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "admissions_counter", f"{self.counter}:n")


@dataclass(frozen=True, slots=True)
class CompiledTerms:
    deductible: int
    bounds: tuple[tuple[int, int | None, int], ...]  # (from, upto, ratio): cumulative-amount segments
    cap: int | None
    label: str  # "default" or the identities of the variant


def tilted(t: CompiledTerms, factor: int, points: int, cap: str, label: str) -> CompiledTerms:
    """A hardship tilt applied to terms: deductible × factor (half up), ratios + points (≤ 100%), cap kept
    or removed.  Segment bounds above the deductible stay where they are; the first starts at the new
    deductible."""
    ded = apply_ratio(t.deductible, factor)
    bounds = []
    for i, (lo, hi, ratio) in enumerate(t.bounds):
        bounds.append((ded if i == 0 else lo, hi, min(ratio + points, RATIO_ONE)))
    return CompiledTerms(ded, tuple(bounds), None if cap == "none" else t.cap, label)


@dataclass(frozen=True, slots=True)
class CompiledLayer:
    id: str
    name: str
    name_en: str
    fund_pay_type: str
    field: str
    base: str
    include_preselfpay: bool
    exclude_basic_deductible: bool
    eligible: frozenset[str] | None
    counter: str
    default: CompiledTerms
    variants: tuple[tuple[frozenset[str], CompiledTerms], ...]
    # the accumulator of what the layer paid this year (against its cap), named once here, not per visit
    # (``dataclasses.field`` in full: ``field`` is one of this class's fields)
    paid_counter: str = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paid_counter", f"{self.counter}:paid")

    def terms_for(self, identities: frozenset[str]) -> CompiledTerms | None:
        """Terms for a person with these identities; None when the layer does not apply to them."""
        if self.eligible is not None and not (self.eligible & identities):
            return None
        for idents, terms in self.variants:
            if idents & identities:
                return terms
        return self.default


@dataclass(frozen=True, slots=True)
class CompiledAccount:
    scheme: str
    in_scope: bool
    out_of_scope: bool
    visit_types: frozenset[str]
    family_mutual_aid: bool
    in_service_rate: int | None
    retiree_monthly: int | None


@dataclass(frozen=True)
class CompiledPolicy:
    """Everything the engine needs for one region version, as plain lookups."""

    admdvs: str
    region_name: str
    version_id: str
    effective_from: dt.date
    effective_to: dt.date
    catalogue: dict[str, CatalogueItem]
    person_groups: dict[str, PersonGroup]
    person_scheme: dict[str, str]
    schemes: frozenset[str]
    visit_types: dict[str, tuple[str, str]]
    levels: dict[str, tuple[str, str]]
    identities: dict[str, tuple[str, str]]
    benefits: dict[tuple[str, str], CompiledBenefit]
    layers: dict[tuple[str, str], tuple[CompiledLayer, ...]]
    accounts: dict[str, CompiledAccount]
    fund_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    settlement_date: str = "admission"  # or "discharge": which date of a stay picks version and year


FUND_NAMES = {
    "310100": ("职工基本医疗保险统筹基金", "employee pooled fund"),
    "310200": ("职工个人账户", "employee personal account"),
    "320100": ("公务员医疗补助", "civil-servant subsidy"),
    "330100": ("职工大额医疗费用补助", "employee large-amount subsidy"),
    "390100": ("城乡居民基本医疗保险统筹基金", "resident pooled fund"),
    "390200": ("城乡居民大病保险", "resident critical-illness insurance"),
    "610100": ("医疗救助基金", "medical assistance"),
}


def _specific(rows: list[tuple[str, str, int]], level: str, ptype: str) -> int | None:
    best: tuple[int, int] | None = None
    for i, (lv, pt, _) in enumerate(rows):
        if lv in (WILDCARD, level) and pt in (WILDCARD, ptype):
            score = (lv != WILDCARD) * 2 + (pt != WILDCARD)
            if best is None or (score, i) >= best:
                best = (score, i)
    return None if best is None else rows[best[1]][2]


def _terms(t: LayerTerms, label: str) -> CompiledTerms:
    bounds: list[tuple[int, int | None, int]] = []
    lo = t.deductible
    for seg in t.segments:
        bounds.append((lo, seg.upto, seg.ratio))
        if seg.upto is not None:
            lo = seg.upto
    return CompiledTerms(t.deductible, tuple(bounds), t.cap, label)


def _layer(layer: Layer) -> CompiledLayer:
    default = _terms(layer, "default")
    variants = [(frozenset(v.identities), _terms(v, "/".join(v.identities))) for v in layer.variants]
    variants += [
        (
            frozenset(t.identities),
            tilted(default, t.deductible_factor, t.ratio_points, t.cap, "/".join(t.identities)),
        )
        for t in layer.tilts
    ]
    return CompiledLayer(
        id=layer.id,
        name=layer.name,
        name_en=layer.name_en,
        fund_pay_type=layer.fund_pay_type,
        field=layer.field,
        base=layer.base,
        include_preselfpay=layer.include_preselfpay,
        exclude_basic_deductible=layer.exclude_basic_deductible,
        eligible=frozenset(layer.eligible_identities) if layer.eligible_identities is not None else None,
        counter=layer.counter,
        default=default,
        variants=tuple(variants),
    )


def compile_version(loaded: LoadedRegion, version: Version) -> CompiledPolicy:
    """Flatten ``version`` of ``loaded`` into a :class:`CompiledPolicy`."""
    region = loaded.region
    levels = [x.code for x in region.hospital_levels]
    ptypes = {p.code: p for p in region.person_types}
    benefits: dict[tuple[str, str], CompiledBenefit] = {}
    for b in version.benefits:
        drows = [(r.level, r.person_type, r.amount) for r in b.deductible.amounts]
        exact_rows = {
            loc: [(r.level, r.person_type, r.ratio) for r in b.ratios if r.locality == loc]
            for loc in LOCALITIES
        }
        general_rows = [(r.level, r.person_type, r.ratio) for r in b.ratios if r.locality == WILDCARD]
        ded: dict[tuple[str, str], int] = {}
        ratio: dict[tuple[str, str, str], int] = {}
        for lv in levels:
            for pt, p in ptypes.items():
                if p.scheme != b.scheme:
                    continue
                ded[(lv, pt)] = _specific(drows, lv, pt) or 0
                for loc in LOCALITIES:
                    # A row naming this locality wins outright; otherwise the general row plus the
                    # locality adjustment (e.g. 异地未备案 −20 points), clamped to [0, 1].
                    found = _specific(exact_rows[loc], lv, pt)
                    if found is None:
                        adjust = b.locality_adjustment.get(loc, 0) if loc != "local" else 0
                        found = (_specific(general_rows, lv, pt) or 0) + adjust
                    ratio[(lv, pt, loc)] = min(max(found, 0), RATIO_ONE)
        rep = b.deductible.repeat
        cb = CompiledBenefit(
            id=b.id,
            fund_pay_type=b.fund_pay_type,
            basis=b.deductible.basis,
            counter=b.deductible.counter,
            deductible=ded,
            repeat_schedule=tuple(rep.schedule) if rep and rep.schedule else None,
            repeat_step=rep.step if rep else None,
            repeat_floor=rep.floor if rep else None,
            repeat_compound=rep.compound if rep else None,
            refused=frozenset(b.refuse.localities) if b.refuse else frozenset(),
            ratio=ratio,
            cap_counter=b.cap.counter,
            cap=b.cap.amount,
            cap_by_person_type={o.person_type: o.amount for o in b.cap.by_person_type},
        )
        for vt in b.visit_types:
            benefits[(b.scheme, vt)] = cb
    layers: dict[tuple[str, str], list[CompiledLayer]] = {}
    for layer in version.layers:
        cl = _layer(layer)
        for s in layer.schemes:
            for vt in layer.visit_types:
                layers.setdefault((s, vt), []).append(cl)
    accounts = {
        a.scheme: CompiledAccount(
            scheme=a.scheme,
            in_scope="in_scope" in a.covers,
            out_of_scope="out_of_scope" in a.covers,
            visit_types=frozenset(a.visit_types),
            family_mutual_aid=a.family_mutual_aid,
            in_service_rate=a.funding.in_service_rate,
            retiree_monthly=a.funding.retiree_monthly,
        )
        for a in version.accounts
    }
    fund_names = dict(FUND_NAMES)
    for layer in version.layers:
        fund_names[layer.fund_pay_type] = (layer.name, layer.name_en)
    return CompiledPolicy(
        admdvs=region.region.admdvs,
        region_name=region.region.name,
        version_id=version.id,
        effective_from=version.effective_from,
        effective_to=version.effective_to,
        catalogue=loaded.catalogue_for(version),
        person_groups={p.code: p.group for p in region.person_types},
        person_scheme={p.code: p.scheme for p in region.person_types},
        schemes=frozenset(s.code for s in region.schemes),
        visit_types={x.code: (x.name, x.name_en) for x in region.visit_types},
        levels={x.code: (x.name, x.name_en) for x in region.hospital_levels},
        identities={x.code: (x.name, x.name_en) for x in region.identities},
        benefits=benefits,
        layers={k: tuple(v) for k, v in layers.items()},
        accounts=accounts,
        fund_names=fund_names,
        settlement_date=region.settlement_date.basis,
    )
