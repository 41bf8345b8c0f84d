"""定点机构查询 and 药品目录查询: two look-up pages for the insured person.

* ``/me/institutions`` — the designated institutions of the registry (name, level, kind, district), found by
  a part of the name or its pinyin initials, with the mean of the portal's satisfaction ratings and, for a
  condition the person picks (an ICD-10 category block, by name), the average cost of a visit there and the
  average the person bore, computed from the ledger's active settlements whose first diagnosis is in the
  block — with the number of visits it rests on, and 暂无数据 under :data:`MIN_VISITS`.
* ``/me/drugs`` — the drugs of the region's catalogue in today's policy, found by name, pinyin initials or
  code: class (甲/乙/丙), pay-first share (先行自付比例), price cap (支付标准), typical price and every
  restriction, each in plain words.

Institutions are always named; a code is shown only beside its name.

Where an institution is: its address (with a link that opens a map search for it) and, measured from the
person's home district (参保登记的所在区县), a district they pick, or — only when they press 我的位置 — the
browser's location (sent with that one search, never stored), the straight-line distance and estimated
travel times by car and by public transport (:mod:`yibao.web.portal.travel`); sorted or filtered by
distance on request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yibao.access.principal import Principal
from yibao.enrolment.schema import enrol_person
from yibao.errors import FieldError
from yibao.feedback.schema import portal_rating
from yibao.fund.data import Institution, load_institutions, settled_frame, settlement_fingerprint
from yibao.money import div_half_up
from yibao.policy import diagnoses
from yibao.policy.catalogue import CLASS_B, CLASS_C, CLASS_NAMES, CatalogueItem
from yibao.settlement.estimate import pinyin_initials
from yibao.web.auth import require
from yibao.web.deps import book_of
from yibao.web.portal import travel
from yibao.web.portal.pages import acting_for, local_today, render

router = APIRouter(include_in_schema=False)
Insured = Annotated[Principal, Depends(require("insured"))]
# the fewest visits an average is shown for (fewer: 暂无数据) — a display choice of this page, not policy
MIN_VISITS = 5
SHOWN = 100  # rows a search lists at most
WITHIN_KM = (3, 5, 10, 20, 50)  # the distance filter's choices
MAP_SEARCH = "https://www.amap.com/search?query="  # a plain link to a public map search; nothing is loaded
KIND_NAMES = {
    "hospital": ("医院", "hospital"),
    "primary": ("基层医疗机构", "primary care"),
    "pharmacy": ("定点药店", "pharmacy"),
    "internet": ("互联网医院", "online hospital"),
}


# ---------------------------------------------------------------------------- pure
@dataclass(frozen=True)
class CostAverage:
    """The visits at one institution for one condition: how many, and (at ``min_visits`` or more) the
    average total cost and the average the person bore, fen (rounded half up)."""

    visits: int
    cost: int | None
    borne: int | None


def cost_averages(rows: Iterable[tuple[str, int, int]], min_visits: int) -> dict[str, CostAverage]:
    """``rows``: (institution code, total cost, paid by the funds) of each visit, fen.  Per institution the
    count and, when the count reaches ``min_visits``, the average cost and the average borne by the person
    (total − funds); below it the averages are ``None`` (too few visits to say)."""
    if min_visits < 1:
        raise ValueError("min_visits must be at least 1")
    acc: dict[str, list[int]] = {}
    for code, cost, funds in rows:
        a = acc.setdefault(code, [0, 0, 0])
        a[0] += 1
        a[1] += cost
        a[2] += cost - funds
    return {
        code: CostAverage(n, div_half_up(c, n), div_half_up(b, n))
        if n >= min_visits
        else CostAverage(n, None, None)
        for code, (n, c, b) in acc.items()
    }


def name_matches(name: str, typed: str) -> bool:
    """A person's search text names ``name``: a part of it, or (letters only) the start or a part of its
    pinyin initials ("xajdyy" for 西安交通大学第一附属医院)."""
    want = typed.strip().casefold()
    if not want:
        return True
    if want in name.casefold():
        return True
    return want.isascii() and want.isalnum() and want in pinyin_initials(name)


def mean_stars(total: int, count: int) -> str:
    """The mean rating with one decimal, rounded half up ("4.3"); empty when nobody rated."""
    if count <= 0:
        return ""
    tenths = div_half_up(total * 10, count)
    return f"{tenths // 10}.{tenths % 10}"


def district_centres(registry: Iterable[Institution]) -> dict[str, tuple[float, float]]:
    """Each district's centre, the mean of its institutions' coordinates (from where a person who picks a
    district is measured)."""
    pts: dict[str, list[tuple[float, float]]] = {}
    for i in registry:
        if i.district and i.lat is not None and i.lon is not None:
            pts.setdefault(i.district, []).append((i.lat, i.lon))
    return {d: c for d, p in pts.items() if (c := travel.centre(p)) is not None}


def located(lat: str, lon: str) -> tuple[float, float] | None:
    """The browser's location as sent by the 我的位置 button, rounded to 3 decimals (about 100 m, enough for a
    distance); ``None`` when not sent.  Anything else is refused naming the field."""
    if not lat and not lon:
        return None
    try:
        la, lo = float(lat), float(lon)
    except ValueError:
        la = lo = float("nan")
    if not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise FieldError(
            "lat", "位置不是有效的经纬度 the location is not a valid latitude/longitude", "bad_value"
        )
    return (round(la, 3), round(lo, 3))


def map_link(i: Institution) -> str:
    """A map search for the institution's address (its name when it has none)."""
    return MAP_SEARCH + quote(i.address or i.name)


# ---------------------------------------------------------------------------- adapters
def _engine(request: Request) -> sa.Engine:
    return cast(sa.Engine, request.app.state.store.engine)


def _registry(request: Request) -> dict[str, Institution]:
    cached = getattr(request.app.state, "finder_institutions", None)
    if cached is None:
        settings = getattr(request.app.state, "settings", None)
        url = str(getattr(settings, "database_url", "") or "")
        cached = request.app.state.finder_institutions = load_institutions(url) if url else {}
    return cast(dict[str, Institution], cached)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the institution registry the look-up pages read and the
    settled visits the condition averages are made from."""
    _registry(request)
    _visits_by_block(request)


def _ratings(request: Request) -> dict[str, tuple[int, int]]:
    q = sa.select(
        portal_rating.c.fixmedins_code, sa.func.sum(portal_rating.c.stars), sa.func.count()
    ).group_by(portal_rating.c.fixmedins_code)
    with _engine(request).connect() as c:
        return {str(r[0]): (int(r[1]), int(r[2])) for r in c.execute(q)}


def _visits_by_block(request: Request) -> dict[diagnoses.Block, list[tuple[str, int, int]]]:
    """The settled visits' (institution, cost, fund) by diagnosis block, read again only when a
    settlement was stored or cancelled since (one count instead of every settlement on each view)."""
    key = settlement_fingerprint(_engine(request))
    cached = getattr(request.app.state, "finder_visits", None)
    if cached is None or cached[0] != key:
        cat = diagnoses.national()
        by_block: dict[diagnoses.Block, list[tuple[str, int, int]]] = {}
        for code, dx, cost, funds in (
            settled_frame(_engine(request))
            .select("fixmedins_code", "diagnosis", "medfee_sumamt", "fund_pay_sumamt")
            .iter_rows()
        ):
            blk = cat.block_of(dx) if code and dx else None
            if blk is not None:
                by_block.setdefault(blk, []).append((code, cost, funds))
        cached = request.app.state.finder_visits = (key, by_block)
    return cast(dict[diagnoses.Block, list[tuple[str, int, int]]], cached[1])


def _condition_costs(request: Request, block: diagnoses.Block) -> dict[str, CostAverage]:
    return cost_averages(_visits_by_block(request).get(block, []), MIN_VISITS)


def _home_district(request: Request, psn_no: str) -> str:
    """The district of the person's enrolment registration (参保登记), empty when not registered here."""
    q = sa.select(enrol_person.c.district).where(enrol_person.c.psn_no == psn_no)
    try:
        with _engine(request).connect() as c:
            return str(c.execute(q).scalar() or "")
    except sa.exc.SQLAlchemyError:  # a database without the enrolment tables
        return ""


def _block(wanted: str) -> diagnoses.Block | None:
    if not wanted:
        return None
    for b in diagnoses.national().blocks:
        if b.first == wanted:
            return b
    raise FieldError("condition", f"没有这一病种 {wanted[:20]!r} is not a condition in the list", "bad_code")


@router.get("/me/institutions", response_class=HTMLResponse)
def institutions(
    request: Request,
    p: Insured,
    q: str = "",
    level: str = "",
    kind: str = "",
    district: str = "",
    condition: str = "",
    near: str = "",
    lat: str = "",
    lon: str = "",
    sort: str = "",
    within: str = "",
) -> Response:
    """定点机构查询."""
    registry = _registry(request)
    centres = district_centres(registry.values())
    here = located(lat[:20], lon[:20])
    home = _home_district(request, acting_for(request, p))
    if near and near not in centres:
        raise FieldError("near", f"没有这一区县 {near[:20]!r} is not a district of the list", "bad_code")
    if near:  # a district picked on the form comes before a location sent with an earlier search
        here = None
    start_from = near or (home if home in centres else "")
    origin = here or centres.get(start_from)
    if within and (not within.isdigit() or int(within) not in WITHIN_KM):
        zh, en = "、".join(map(str, WITHIN_KM)), ", ".join(map(str, WITHIN_KM))
        raise FieldError("within", f"距离范围须为 {zh} 公里之一 must be one of {en} km", "bad_value")
    block = _block(condition)
    costs = _condition_costs(request, block) if block else {}
    ratings = _ratings(request)
    try:
        level_names: Mapping[str, tuple[str, str]] = book_of(request).for_date(local_today()).levels
    except FieldError:
        level_names = {}
    found = [
        i
        for i in sorted(registry.values(), key=lambda i: (i.district, i.name))
        if (not level or i.level == level)
        and (not kind or i.kind == kind)
        and (not district or i.district == district)
        and name_matches(i.name, q[:100])
    ]
    far: dict[str, float] = {}
    if origin is not None:
        placed = [i for i in found if i.lat is not None and i.lon is not None]
        far = dict(
            zip(
                (i.code for i in placed),
                travel.distances_km(origin, [(cast(float, i.lat), cast(float, i.lon)) for i in placed]),
                strict=True,
            )
        )
        if within:
            found = [i for i in found if i.code in far and far[i.code] <= int(within)]
        if sort == "distance":
            found.sort(key=lambda i: (i.code not in far, far.get(i.code, 0.0)))
    rows: list[dict[str, Any]] = []
    for i in found[:SHOWN]:
        total, count = ratings.get(i.code, (0, 0))
        km = far.get(i.code)
        rows.append(
            {
                "km": travel.km_in_words(km) if km is not None else None,
                "times": [
                    (m.name, travel.minutes_in_words(travel.travel_minutes(km, m))) for m in travel.MODES
                ]
                if km is not None
                else [],
                "map": map_link(i),
                "inst": i,
                "level": level_names.get(i.level, (i.level, i.level)) if i.level else ("—", "—"),
                "kind": KIND_NAMES.get(i.kind, (i.kind or "—", i.kind or "—")),
                "stars": mean_stars(total, count),
                "ratings": count,
                "cost": costs.get(i.code, CostAverage(0, None, None)),
            }
        )
    return render(
        request,
        "institutions.html",
        {
            "rows": rows,
            "found": len(found),
            "shown": SHOWN,
            "q": q,
            "level": level,
            "kind": kind,
            "district": district,
            "condition": condition,
            "block": block,
            "levels": sorted({i.level for i in registry.values() if i.level}),
            "level_names": level_names,
            "kinds": sorted({i.kind for i in registry.values() if i.kind}),
            "kind_names": KIND_NAMES,
            "districts": sorted({i.district for i in registry.values() if i.district}),
            "conditions": diagnoses.national().blocks,
            "min_visits": MIN_VISITS,
            "near": near,
            "home": home,
            "start_from": start_from,
            "here": here,
            "origin": origin,
            "sort": sort,
            "within": within,
            "within_km": WITHIN_KM,
            "centres": sorted(centres),
            "modes": travel.MODES,
            "detour": travel.DETOUR,
        },
    )


# ---------------------------------------------------------------------------- drugs
def drug_matches(item: CatalogueItem, typed: str) -> bool:
    """A drug is found by its code (whole or its start), a part of its Chinese or English name, or its
    pinyin initials."""
    want = typed.strip()
    if not want:
        return True
    if item.code.casefold().startswith(want.casefold()):
        return True
    if want.casefold() in (item.name_en or "").casefold():
        return True
    return name_matches(item.name, want)


def limits_in_words(item: CatalogueItem, level_names: Mapping[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """Each restriction of an item as a sentence (Chinese, English)."""
    out: list[tuple[str, str]] = []
    if item.sex == "M":
        out.append(("限男性使用", "for men only"))
    elif item.sex == "F":
        out.append(("限女性使用", "for women only"))
    if item.min_age is not None and item.max_age is not None:
        out.append((f"限 {item.min_age}–{item.max_age} 岁使用", f"for ages {item.min_age}–{item.max_age}"))
    elif item.min_age is not None:
        out.append((f"限 {item.min_age} 岁及以上使用", f"for ages {item.min_age} and over"))
    elif item.max_age is not None:
        out.append((f"限 {item.max_age} 岁及以下使用", f"for ages {item.max_age} and under"))
    if item.min_level:
        zh, en = level_names.get(item.min_level, (item.min_level, item.min_level))
        out.append((f"限{zh}及以上定点医疗机构使用", f"only at {en} institutions and above"))
    if item.indications:
        cat = diagnoses.national()
        names: list[tuple[str, str]] = []
        for prefix in item.indications:
            b = cat.block_of(prefix) if len(prefix) >= 3 else None
            name = (b.name, b.name_en) if b else (prefix, prefix)
            if name not in names:  # several codes of one category block are named once
                names.append(name)
        out.append(
            (
                "限以下病种使用（限适应症），其他情况医保不支付：" + "、".join(n[0] for n in names),
                "only for these conditions, otherwise not paid: " + ", ".join(n[1] for n in names),
            )
        )
    return out


def class_in_words(item: CatalogueItem) -> tuple[str, str]:
    """What the item's class means for the person who takes it."""
    if item.cls == CLASS_C:
        return ("丙类：不在医保支付范围，费用全部由个人负担。", "Class C: not covered; you pay all of it.")
    if item.cls == CLASS_B:
        share = f"{item.selfpay_prop / 100:g}%"
        return (
            f"乙类：先由个人自付 {share}（先行自付），其余部分再按规定报销。",
            f"Class B: you first pay {share} yourself; the rest is paid as usual.",
        )
    return ("甲类：全部纳入医保支付范围，按规定报销。", "Class A: fully covered, paid as usual.")


@router.get("/me/drugs", response_class=HTMLResponse)
def drugs(request: Request, p: Insured, q: str = "", cls: str = "") -> Response:
    """药品目录查询."""
    policy = book_of(request).for_date(local_today())
    found = [
        c
        for c in sorted(policy.catalogue.values(), key=lambda c: (c.cls, c.name))
        if c.kind == "drug" and (not cls or c.cls == cls) and drug_matches(c, q[:100])
    ]
    rows = [
        {
            "item": c,
            "cls": CLASS_NAMES.get(c.cls, (c.cls, c.cls)),
            "meaning": class_in_words(c),
            "limits": limits_in_words(c, policy.levels),
        }
        for c in found[:SHOWN]
    ]
    return render(
        request,
        "drugs.html",
        {
            "rows": rows,
            "found": len(found),
            "shown": SHOWN,
            "q": q,
            "cls": cls,
            "classes": CLASS_NAMES,
            "region": book_of(request).loaded.region.region.name,
        },
    )
