"""The consultation store on a migrated database (SQLite and the real PostgreSQL): a consultation's whole
life, moderation, the adoption rate, and refusals that write nothing."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from yibao.consult import core
from yibao.consult.core import ConsultError
from yibao.consult.impact import Change, Impact
from yibao.consult.schema import consult_consultation, consult_event, consult_opinion
from yibao.consult.store import ConsultStore
from yibao.db import make_engine, parse_url

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
LAST_DAY = dt.date(2027, 1, 6)
AFTER = dt.datetime(2027, 1, 6, 16, 0, tzinfo=UTC)  # the deadline: 24:00 Beijing time on LAST_DAY


def impact() -> Impact:
    return Impact(
        persons=2000,
        visits=6057,
        period=("2025-01-01", "2025-12-31"),
        changes=[
            Change(
                "城乡居民基本医疗保险住院起付线（一级医院）",
                "resident inpatient deductible",
                "150 元",
                "100 元",
            )
        ],
        fund_change_fen=3_242_491,
        fund_pct=1.05,
        oop_change_fen=-3_242_491,
        oop_pct=-0.51,
        threshold_fen=10_000,
        better_off=103,
        worse_off=0,
        largest_gain_fen=48_000,
        largest_loss_fen=0,
        gainers=[],
        losers=[],
        months=[],
    )


@pytest.fixture
def store(db_url: str) -> Iterator[ConsultStore]:
    engine = make_engine(parse_url(db_url)[2])
    try:
        yield ConsultStore(engine, core.load_params())
    finally:
        engine.dispose()


def _published(store: ConsultStore) -> str:
    c = store.create_draft(
        title="降低居民住院起付线", summary="摘要", body="第一条", actor_id="staff", now=T0, impact=impact()
    )
    store.publish(c.consult_id, last_day=LAST_DAY, short_reason="", actor_id="staff", now=T0)
    return c.consult_id


def _opinion(store: ConsultStore, cid: str, body: str, who: str = "u1", when: dt.datetime = T0) -> int:
    return store.add_opinion(
        cid,
        author_id=who,
        author_role="insured",
        display_name="张三",
        anonymous=False,
        about="",
        body=body,
        now=when + dt.timedelta(days=1),
    ).id


def test_a_consultation_is_published_commented_answered_and_closed(store: ConsultStore) -> None:
    cid = _published(store)
    c = store.get(cid)
    assert c.phase(T0) == "open" and c.period_days == 30 and c.last_day == LAST_DAY
    assert c.deadline == AFTER and c.impact == impact()
    a, b, x = (_opinion(store, cid, t) for t in ("起付线降得好", "三级医院也应降低", "骂人的话"))
    store.hide(cid, x, reason="含辱骂内容", actor_id="staff", now=T0 + dt.timedelta(days=2))
    store.record_hearing(
        cid,
        held_on=dt.date(2026, 12, 20),
        place="市医保局会议室",
        participants=["王＊ 参保人代表", "李＊ 医院代表"],
        observers=["赵＊"],
        summary="与会代表支持调整",
        actor_id="staff",
        now=dt.datetime(2026, 12, 21, 2, 0, tzinfo=UTC),
    )
    t1 = store.add_theme(cid, title="支持降低起付线", opinion_ids=[a], actor_id="staff", now=AFTER)
    t2 = store.add_theme(cid, title="三级医院起付线", opinion_ids=[b], actor_id="staff", now=AFTER)
    store.answer(cid, t1.id, decision="adopted", text="按征求意见稿实施", actor_id="staff", now=AFTER)
    store.answer(
        cid,
        t2.id,
        decision="not_adopted",
        text="三级医院起付线已按分级诊疗要求设定",
        actor_id="staff",
        now=AFTER,
    )
    closed = store.close(
        cid, result="起付线按征求意见稿调整", actor_id="staff", now=AFTER + dt.timedelta(days=3)
    )
    assert closed.status == "closed" and closed.phase(AFTER) == "closed"
    rate = store.adoption(cid)
    assert (rate.adopted, rate.not_adopted, rate.themes, core.percent(rate.rate)) == (1, 1, 2, "50.0%")
    assert rate.opinions == 2  # the hidden opinion counts nowhere
    hearing = store.hearings(cid)[0]
    assert hearing.participants == ["王＊ 参保人代表", "李＊ 医院代表"] and hearing.observers == ["赵＊"]
    actions = [e.action for e in store.events(cid)]
    assert actions == [
        "drafted",
        "published",
        "hid",
        "hearing",
        "theme",
        "theme",
        "answered",
        "answered",
        "closed",
    ]


def test_a_hidden_opinion_shows_its_reason_but_its_text_only_to_staff_and_its_author(
    store: ConsultStore,
) -> None:
    cid = _published(store)
    oid = _opinion(store, cid, "骂人的话", who="author")
    store.hide(cid, oid, reason="含辱骂内容", actor_id="staff", now=T0)
    public = store.opinions(cid)[0]
    assert public.hidden_reason == "含辱骂内容" and public.body == ""
    assert store.opinions(cid, staff=True)[0].body == "骂人的话"
    assert store.opinions(cid, reader_id="author")[0].body == "骂人的话"
    store.restore(cid, oid, actor_id="staff", now=T0)
    assert store.opinions(cid)[0].body == "骂人的话"


def test_an_opinion_after_the_deadline_is_refused_and_nothing_is_written(store: ConsultStore) -> None:
    cid = _published(store)
    with pytest.raises(ConsultError) as exc:
        store.add_opinion(
            cid,
            author_id="u",
            author_role="insured",
            display_name="张三",
            anonymous=False,
            about="",
            body="晚了",
            now=AFTER,
        )
    assert exc.value.code == "closed"
    assert store.opinions(cid, staff=True) == []


def test_closing_with_an_ungrouped_opinion_is_refused_and_nothing_is_written(store: ConsultStore) -> None:
    cid = _published(store)
    a = _opinion(store, cid, "意见一")
    _opinion(store, cid, "意见二")
    t = store.add_theme(cid, title="类别", opinion_ids=[a], actor_id="staff", now=AFTER)
    store.answer(cid, t.id, decision="partly", text="部分采纳", actor_id="staff", now=AFTER)
    with pytest.raises(ConsultError) as exc:
        store.close(cid, result="结果", actor_id="staff", now=AFTER)
    assert "1 条意见未归类" in exc.value.reason
    assert store.get(cid).status == "open" and store.get(cid).result == ""


def test_publishing_without_the_simulated_impact_is_refused(store: ConsultStore) -> None:
    c = store.create_draft(title="标题", summary="摘要", body="正文", actor_id="staff", now=T0)
    with pytest.raises(ConsultError) as exc:
        store.publish(c.consult_id, last_day=LAST_DAY, short_reason="", actor_id="staff", now=T0)
    assert exc.value.field == "impact"
    assert store.get(c.consult_id).status == "draft"
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(consult_event)).scalar_one() == 1


def test_drafts_are_not_listed_publicly(store: ConsultStore) -> None:
    store.create_draft(title="草稿", summary="摘要", body="正文", actor_id="staff", now=T0)
    cid = _published(store)
    assert [c.consult_id for c in store.listing(public=True)] == [cid]
    assert len(store.listing(public=False)) == 2


def test_a_withdrawn_consultation_keeps_its_published_reason(store: ConsultStore) -> None:
    cid = _published(store)
    with pytest.raises(ConsultError):
        store.withdraw(cid, reason=" ", actor_id="staff", now=T0)
    w = store.withdraw(cid, reason="上级政策调整，另行征求意见", actor_id="staff", now=T0)
    assert w.status == "withdrawn" and w.withdrawn_reason == "上级政策调整，另行征求意见"
    with pytest.raises(ConsultError):
        _opinion(store, cid, "还能发表吗")


def test_two_staff_publishing_at_once_publish_once(store: ConsultStore) -> None:
    c = store.create_draft(
        title="标题", summary="摘要", body="正文", actor_id="staff", now=T0, impact=impact()
    )
    results: list[str] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        try:
            store.publish(c.consult_id, last_day=LAST_DAY, short_reason="", actor_id="staff", now=T0)
            results.append("ok")
        except ConsultError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["bad_transition", "ok"] or sorted(results) == ["conflict", "ok"]
    with store.engine.connect() as conn:
        published = conn.execute(
            sa.select(sa.func.count()).select_from(consult_event).where(consult_event.c.action == "published")
        ).scalar_one()
        rows = conn.execute(sa.select(consult_consultation.c.status)).scalars().all()
    assert published == 1 and rows == ["open"]


def test_an_opinion_id_of_another_consultation_cannot_be_hidden_through_this_one(store: ConsultStore) -> None:
    one, two = _published(store), _published(store)
    oid = _opinion(store, one, "意见")
    with pytest.raises(ConsultError) as exc:
        store.hide(two, oid, reason="理由", actor_id="staff", now=T0)
    assert exc.value.code == "unknown_opinion"
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(consult_opinion.c.hidden_reason)).scalar_one() is None


def test_one_login_cannot_flood_a_consultation(store: ConsultStore) -> None:
    cid = _published(store)
    for k in range(store.params.max_per_person):
        _opinion(store, cid, f"意见 {k}", who="flood")
    with pytest.raises(ConsultError) as exc:
        _opinion(store, cid, "再来一条", who="flood")
    assert exc.value.code == "closed"
    _opinion(store, cid, "另一个人的意见", who="someone-else")
    assert len(store.opinions(cid)) == store.params.max_per_person + 1


def test_grouping_an_opinion_again_moves_it_to_the_other_theme(store: ConsultStore) -> None:
    cid = _published(store)
    a, b = _opinion(store, cid, "意见一"), _opinion(store, cid, "意见二")
    first = store.add_theme(cid, title="第一类", opinion_ids=[a, b], actor_id="staff", now=T0)
    second = store.add_theme(cid, title="第二类", opinion_ids=[], actor_id="staff", now=T0)
    store.group(cid, second.id, [b], actor_id="staff", now=T0)
    assert {t.title: t.opinions for t in store.themes(cid)} == {"第一类": 1, "第二类": 1}
    assert {o.id: o.theme_id for o in store.opinions(cid)} == {a: first.id, b: second.id}
    with pytest.raises(ConsultError) as exc:
        store.group(cid, 999_999, [a], actor_id="staff", now=T0)
    assert exc.value.code == "unknown_theme"
