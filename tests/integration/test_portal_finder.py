"""定点机构查询 and 药品目录查询 through FastAPI's TestClient over a seeded SQLite demo database."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.enrolment.schema import enrol_person
from yibao.fund.data import Institution, load_institutions
from yibao.money import fmt_yuan
from yibao.policy import diagnoses
from yibao.settings import Settings
from yibao.settlement.estimate import pinyin_initials
from yibao.web.app import create_app
from yibao.web.portal import travel
from yibao.web.portal.finder_pages import MIN_VISITS, district_centres

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("finder") / "demo.db", persons=120)


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> Iterator[object]:
    yield create_app(Settings(database_url=seeded.url, demo=True))


def client(app: object) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    r = c.post("/auth/login", json={"username": "insured", "password": "yibao-demo-2026"})
    assert r.status_code == 200, r.text
    return c


def rows(page: str, table: str) -> list[list[str]]:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    found = [
        [re.sub(r"<[^>]+>", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
    return [r for r in found if r]


def visits_by_block(seeded: Seeded) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(block, institution) → [(total, funds)] read straight from the ledger's settlement table."""
    cat = diagnoses.national()
    out: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    q = "SELECT fixmedins_code, medfee_sumamt, fund_pay_sumamt, visit FROM settlement WHERE status = 'active'"
    with sa.create_engine(seeded.url).connect() as c:
        for code, cost, funds, visit in c.execute(sa.text(q)):
            dx = (json.loads(visit).get("diagnoses") or [""])[0]
            block = cat.block_of(dx) if dx else None
            if block is not None:
                out[(block.first, json.loads(visit)["fixmedins_code"] or code)].append((cost, funds))
    return out


def test_an_institution_is_found_by_its_pinyin_initials_and_shown_by_name(
    app: object, seeded: Seeded
) -> None:
    registry = load_institutions(seeded.url)
    target = next(i for i in registry.values() if i.kind == "hospital")
    initials = pinyin_initials(target.name)
    page = client(app).get(f"/me/institutions?q={initials}").text
    names = [r[0] for r in rows(page, "institutions")]
    assert target.name in names
    assert all(initials in pinyin_initials(n) for n in names)
    assert len(names) < len(registry)
    # institutions are named, never shown by their code
    full = client(app).get("/me/institutions").text
    assert not any(code in full for code in registry)


def test_a_conditions_average_cost_rests_on_the_visits_counted(app: object, seeded: Seeded) -> None:
    by = visits_by_block(seeded)
    registry = load_institutions(seeded.url)
    counts = Counter({k: len(v) for k, v in by.items()})
    (block, code), n = counts.most_common(1)[0]
    assert n >= MIN_VISITS
    visits = by[(block, code)]
    cost = sum(c for c, _ in visits)
    borne = sum(c - f for c, f in visits)
    page = client(app).get(f"/me/institutions?condition={block}&q={registry[code].name}").text
    row = next(r for r in rows(page, "institutions") if r[0] == registry[code].name)
    assert row[-3:] == [
        f"{fmt_yuan((cost + n // 2) // n)} 元",
        f"{fmt_yuan((borne + n // 2) // n)} 元",
        str(n),
    ]
    few = next(((b, c), v) for (b, c), v in by.items() if b == block and 0 < len(v) < MIN_VISITS)
    name = registry[few[0][1]].name
    row = next(
        r
        for r in rows(client(app).get(f"/me/institutions?condition={block}&q={name}").text, "institutions")
        if r[0] == name
    )
    assert row[-3:] == ["暂无数据", "—", str(len(few[1]))]


def test_ratings_show_as_mean_stars_with_their_count(app: object, seeded: Seeded) -> None:
    c = client(app)
    with sa.create_engine(seeded.url).connect() as conn:
        mine = conn.execute(
            sa.text("SELECT setl_id, fixmedins_code FROM settlement WHERE psn_no = :p AND status = 'active'"),
            {"p": seeded.insured_psn_no},
        ).all()
    code = mine[0][1]
    same = [s for s, k in mine if k == code][:2]
    for setl_id, stars in zip(same, ("5", "4"), strict=False):
        assert (
            c.post(f"/me/visits/{setl_id}/rating", data={"stars": stars}, follow_redirects=False).status_code
            == 303
        )
    name = load_institutions(seeded.url)[code].name
    row = next(r for r in rows(c.get(f"/me/institutions?q={name}").text, "institutions") if r[0] == name)
    expected = "5.0 星（1 人评价）" if len(same) == 1 else "4.5 星（2 人评价）"
    assert row[4] == expected


def test_an_unknown_condition_is_a_page_naming_the_field(app: object) -> None:
    r = client(app).get("/me/institutions?condition=ZZZ&lang=zh", headers=HTML)
    assert r.status_code == 422 and "没有这一病种" in r.text and "condition" in r.text


def test_drugs_are_found_by_pinyin_initials_or_code_with_class_and_limits_in_words(app: object) -> None:
    c = client(app)
    found = rows(c.get("/me/drugs?q=amxl").text, "drugs")
    assert found and all("阿莫西林" in r[0] for r in found)
    assert found[0][2] == "甲类" and "全部纳入医保支付范围" in found[0][6]
    by_code = rows(c.get("/me/drugs?q=XJ01AAA013B002010113550").text, "drugs")
    assert len(by_code) == 1
    name, code, cls, share, cap, price, words = by_code[0]
    assert name == "注射用替加环素 50mg" and code == "XJ01AAA013B002010113550"  # the code beside its name
    assert (cls, share, cap, price) == ("乙类", "20%", "无", "298.00 元")
    assert (
        "先由个人自付 20%" in words
        and "限 18 岁及以上使用" in words
        and "限三级及以上定点医疗机构使用" in words
    )
    assert "限以下病种使用" in words and "K65" not in words  # conditions named, not coded
    capped = rows(c.get("/me/drugs?q=agnhw").text, "drugs")
    assert [(r[0], r[4], r[5]) for r in capped] == [("安宫牛黄丸 3g", "300.00 元", "780.00 元")]
    en = c.get("/me/drugs?q=tigecycline&lang=en&big=1").text
    assert '<body class="big">' in en and "Class B: you first pay 20%" in en and "for ages 18 and over" in en


def test_both_pages_are_in_the_menu(app: object) -> None:
    page = client(app).get("/me").text
    assert 'href="/me/institutions"' in page and 'href="/me/drugs"' in page


# ---------------------------------------------------------------------------- where, and how far
def test_every_institution_has_an_address_in_its_district_and_coordinates_near_it(seeded: Seeded) -> None:
    registry = load_institutions(seeded.url)
    assert registry
    for i in registry.values():
        assert i.address.startswith("陕西省西安市" + i.district), i
        assert i.lat is not None and i.lon is not None
    by_district: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for i in registry.values():
        by_district[i.district].append((float(i.lat or 0), float(i.lon or 0)))
    # each district's institutions lie within a few km of each other (a district, not the whole city)
    for d, pts in by_district.items():
        far = max(travel.distances_km(a, pts)[j] for a in pts for j in range(len(pts)))
        assert far <= 12, (d, far)


def at(i: Institution) -> tuple[float, float]:
    assert i.lat is not None and i.lon is not None
    return (i.lat, i.lon)


def set_home_district(seeded: Seeded, district: str) -> str:
    """Register the demo's insured person in enrolment with ``district`` (the demo database has no
    enrolment loaded here); returns their psn_no."""
    psn = seeded.insured_psn_no
    with sa.create_engine(seeded.url).begin() as c:
        c.execute(sa.delete(enrol_person).where(enrol_person.c.psn_no == psn))
        c.execute(
            sa.insert(enrol_person).values(
                psn_no=psn,
                certno="610113199001011234",
                name="参保人",
                gender="1",
                birth_date=dt.date(1990, 1, 1),
                district=district,
            )
        )
    return psn


def test_distances_are_from_the_home_district_nearest_first_and_filtered(app: object, seeded: Seeded) -> None:
    registry = load_institutions(seeded.url)
    home = (
        "碑林区"
        if any(i.district == "碑林区" for i in registry.values())
        else next(iter(registry.values())).district
    )
    set_home_district(seeded, home)
    c = client(app)
    page = c.get("/me/institutions?sort=distance", headers=HTML).text
    assert f"距离从 {home}中心算起" in page and "估算" in page
    centre = district_centres(registry.values())[home]
    want = sorted(registry.values(), key=lambda i: travel.distances_km(centre, [at(i)])[0])
    got = rows(page, "institutions")
    assert [r[0].split("  ")[0].strip() for r in got] == [i.name for i in want][: len(got)]
    first = got[0]
    d0 = travel.distances_km(centre, [at(want[0])])[0]
    cell = " ".join(first)
    assert travel.km_in_words(d0)[0] in cell
    assert "驾车 " + travel.minutes_in_words(travel.travel_minutes(d0, travel.CAR))[0] in cell
    assert "公共交通 " + travel.minutes_in_words(travel.travel_minutes(d0, travel.TRANSIT))[0] in cell
    assert 'href="https://www.amap.com/search?query=' in page
    near = c.get("/me/institutions?within=3", headers=HTML).text
    inside = [i.name for i in registry.values() if travel.distances_km(centre, [at(i)])[0] <= 3]
    assert sorted(r[0].split("  ")[0].strip() for r in rows(near, "institutions")) == sorted(inside)


def test_a_picked_district_or_a_shared_location_comes_first_and_english_and_elderly_mode_work(
    app: object, seeded: Seeded
) -> None:
    registry = load_institutions(seeded.url)
    c = client(app)
    target = next(i for i in registry.values() if i.kind == "hospital")
    here = c.get(f"/me/institutions?lat={target.lat}&lon={target.lon}&sort=distance", headers=HTML).text
    assert "距离从您当前的位置算起" in here
    spot = (round(target.lat or 0, 3), round(target.lon or 0, 3))  # the page rounds a location to ~100 m
    nearest = min(registry.values(), key=lambda i: travel.distances_km(spot, [at(i)])[0])
    assert rows(here, "institutions")[0][0].strip() == nearest.name
    other = next(d for d in sorted({i.district for i in registry.values()}) if d != target.district)
    picked = c.get(f"/me/institutions?near={other}&lat={target.lat}&lon={target.lon}&lang=en", headers=HTML)
    assert picked.status_code == 200
    assert f"Distances are from the centre of {other}" in picked.text and "estimate" in picked.text
    assert "by car about" in picked.text and "by public transport about" in picked.text
    big = c.get(f"/me/institutions?near={other}&big=1&lang=zh", headers=HTML).text
    assert "公共交通 约" in big
    bad = c.get("/me/institutions?within=7", headers=HTML)
    assert bad.status_code == 422 and "距离范围" in bad.text and '{"detail"' not in bad.text
    no_origin = c.get("/me/institutions?near=不存在区", headers=HTML)
    assert no_origin.status_code == 422 and "没有这一区县" in no_origin.text
