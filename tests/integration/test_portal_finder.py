"""定点机构查询 and 药品目录查询 through FastAPI's TestClient over a seeded SQLite demo database."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.fund.data import load_institutions
from yibao.money import fmt_yuan
from yibao.policy import diagnoses
from yibao.settings import Settings
from yibao.settlement.estimate import pinyin_initials
from yibao.web.app import create_app
from yibao.web.portal.finder_pages import MIN_VISITS

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
