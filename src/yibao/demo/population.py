"""A small, seeded synthetic population and a season of visits for the demo region.

This is the demo's generator, sized for seconds; the calibrated year-scale generator belongs to the
simulation capability.  Everything is derived from ``random.Random(seed)`` so a seed reproduces the
same people, visits and therefore the same settlement totals.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from yibao.policy.catalogue import CatalogueItem
from yibao.policy.loader import LoadedRegion
from yibao.settlement.model import QTY_ONE, Line, Visit

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华玉兰志强文博子涵浩然欣怡梓萱宇轩晨曦雨桐"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number(admdvs: str, birth: dt.date, serial: int, female: bool) -> str:
    """A well-formed 18-digit resident ID (GB 11643-1999 checksum); the serial's parity encodes sex."""
    seq = serial % 500 * 2 + (0 if female else 1)
    body = f"{admdvs}{birth:%Y%m%d}{seq:03d}"
    check = _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


@dataclass(frozen=True)
class DemoPerson:
    psn_no: str
    name: str
    certno: str
    gender: str
    birth_date: dt.date
    insutype: str
    psn_type: str
    group: str
    identities: tuple[str, ...]
    family: tuple[str, ...]
    account_balance: int


def make_people(loaded: LoadedRegion, n: int, year: int, seed: int) -> list[DemoPerson]:
    """``n`` people: about 27% employees in service, 10% retired, the rest residents (DOMAIN.md §7 mix)."""
    rng = random.Random(seed)
    region = loaded.region
    by_group: dict[str, list[str]] = {}
    scheme_of: dict[str, str] = {}
    for pt in region.person_types:
        by_group.setdefault(pt.group, []).append(pt.code)
        scheme_of[pt.code] = pt.scheme
    hardship = [x.code for x in region.identities]
    version = loaded.version_for(dt.date(year, 1, 1)) or region.versions[0]
    funding = {a.scheme: a.funding for a in version.accounts}
    people: list[DemoPerson] = []
    for i in range(n):
        r = rng.random()
        group = "in_service" if r < 0.29 else "retired" if r < 0.40 else "resident"
        if group not in by_group:
            group = next(iter(by_group))
        psn_type = rng.choice(by_group[group])
        age = rng.randint(23, 59) if group == "in_service" else rng.randint(60, 92) if group == "retired" \
            else rng.choice([rng.randint(0, 17), rng.randint(18, 59), rng.randint(60, 90)])
        birth = dt.date(year - age, rng.randint(1, 12), rng.randint(1, 28))
        female = rng.random() < 0.5
        idents: tuple[str, ...] = ()
        if hardship and group == "resident" and rng.random() < 0.06:
            idents = (rng.choice(hardship),)
        scheme = scheme_of[psn_type]
        balance = 0
        f = funding.get(scheme)
        if f is not None:
            if group == "retired" and f.retiree_monthly:
                balance = f.retiree_monthly * rng.randint(6, 24)
            elif f.in_service_rate:
                wage_base = rng.randint(4_000, 16_000) * 100  # monthly contribution base, fen
                balance = wage_base * f.in_service_rate // 10_000 * rng.randint(3, 36)
        people.append(DemoPerson(
            psn_no=f"P{i + 1:07d}", name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
            certno=id_number(region.region.admdvs, birth, i, female), gender="F" if female else "M",
            birth_date=birth, insutype=scheme, psn_type=psn_type, group=group, identities=idents,
            family=(), account_balance=balance,
        ))
    # family links (家庭共济): pair some employees with a resident relative
    residents = [p for p in people if p.group == "resident"]
    linked: list[DemoPerson] = []
    pairs: dict[str, str] = {}
    for p in people:
        if p.group != "resident" and residents and rng.random() < 0.25:
            rel = rng.choice(residents)
            pairs.setdefault(p.psn_no, rel.psn_no)
            pairs.setdefault(rel.psn_no, p.psn_no)
    for p in people:
        linked.append(p if p.psn_no not in pairs else DemoPerson(**{**p.__dict__, "family": (pairs[p.psn_no],)}))
    return linked


VISIT_MIX = (("11", 0.62), ("41", 0.18), ("14", 0.08), ("21", 0.12))  # share of visits by med_type
LEVEL_MIX = (("1", 0.45), ("2", 0.30), ("3", 0.25))


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...], allowed: set[str]) -> str:
    options = [(k, w) for k, w in mix if k in allowed] or [(k, 1.0) for k in sorted(allowed)]
    return rng.choices([k for k, _ in options], weights=[w for _, w in options])[0]


def make_visits(loaded: LoadedRegion, people: list[DemoPerson], n: int, year: int, seed: int) -> Iterator[Visit]:
    """``n`` visits in date order, lines drawn from the region's catalogue by kind."""
    rng = random.Random(seed + 1)
    region = loaded.region
    version = loaded.version_for(dt.date(year, 6, 1)) or region.versions[0]
    cat = list(loaded.catalogue_for(version).values())
    priced = [c for c in cat if c.unit_price]
    drugs = [c for c in priced if c.kind == "drug"] or priced
    services = [c for c in priced if c.kind == "service"] or priced
    materials = [c for c in priced if c.kind == "material"] or priced
    beds = [c for c in services if c.category == "01"] or services
    vtypes = {x.code for x in region.visit_types}
    levels = {x.code for x in region.hospital_levels}
    days = sorted(rng.randint(0, 364) for _ in range(n))
    for k, day in enumerate(days):
        p = rng.choice(people)
        med_type = _pick(rng, VISIT_MIX, vtypes)
        level = _pick(rng, LEVEL_MIX, levels)
        begin = dt.date(year, 1, 1) + dt.timedelta(days=day)
        lines: list[tuple[CatalogueItem, int]] = []
        if med_type == "21":
            los = max(1, int(rng.lognormvariate(2.0, 0.5)))
            lines.append((rng.choice(beds), los))
            lines += [(rng.choice(drugs), rng.randint(1, 10)) for _ in range(rng.randint(6, 18))]
            lines += [(rng.choice(services), rng.randint(1, 3)) for _ in range(rng.randint(4, 10))]
            lines += [(rng.choice(materials), 1) for _ in range(rng.randint(0, 3))]
            end = begin + dt.timedelta(days=los)
        else:
            lines += [(rng.choice(drugs), rng.randint(1, 4)) for _ in range(rng.randint(1, 4))]
            if med_type != "41":
                lines += [(rng.choice(services), 1) for _ in range(rng.randint(0, 3))]
            end = begin
        if end.year != year:
            end = dt.date(year, 12, 31)
        built = tuple(
            Line(str(j + 1), item.code, qty * QTY_ONE, item.unit_price or 0, (item.unit_price or 0) * qty)
            for j, (item, qty) in enumerate(lines)
        )
        use_family = bool(p.family) and p.account_balance == 0 and rng.random() < 0.5
        yield Visit(
            mdtrt_id=f"MD{year}{k + 1:08d}", psn_no=p.psn_no, med_type=med_type,
            fixmedins_code=f"H61{rng.randint(1, 40):04d}", hosp_lv=level, begin_date=begin, end_date=end,
            lines=built, locality="local" if rng.random() < 0.93 else rng.choice(["remote_filed", "remote_unfiled"]),
            account_psn_no=p.family[0] if use_family else None,
        )
