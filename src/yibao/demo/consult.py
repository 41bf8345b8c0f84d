"""The demo's consultation (共治): a draft lowering the resident inpatient deductibles, its impact from a real
simulation of the candidate policy on the demo's claims, published ten days ago with a 30-day period, a few
opinions from the demo logins (one hidden by moderation, with the reason), a hearing held three days ago,
and the opinions grouped into themes — open for more opinions while the demo runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from yibao.access.store import ServiceStore
from yibao.consult import core
from yibao.consult.impact import explain
from yibao.consult.simulated import simulate_impact
from yibao.consult.store import ConsultStore
from yibao.db import parse_url
from yibao.policy.book import PolicyBook
from yibao.simulate.candidates import EXAMPLES_DIR

TITLE = "关于降低城乡居民基本医疗保险住院起付线的征求意见稿"
SUMMARY = (
    "为减轻城乡居民住院负担，拟降低各级定点医院的住院起付线：一级医院由150元降为100元，二级医院由400元降为300元，"
    "三级医院由1200元降为800元，三级特等医院由2000元降为1500元。支付比例和最高支付限额不变。"
)
BODY = """第一条 为减轻城乡居民住院医疗费用负担，根据基本医疗保险有关规定，结合本市基金运行情况，制定本调整方案。
第二条 城乡居民基本医疗保险参保人在定点医疗机构住院，起付线调整为：一级医院100元，二级医院300元，三级医院800元，三级特等医院1500元。
第三条 统筹基金支付比例、年度最高支付限额及大病保险待遇不变。
第四条 本方案自2027年1月1日起施行，以入院日期为准。"""

OPINIONS = (  # (login, anonymous, about, text, theme index or None, hidden reason)
    ("insured", False, "第二条", "家里老人每年都要住院，起付线降低能省不少，支持。", 0, ""),
    (
        "insured2",
        True,
        "第二条",
        "三级医院的起付线降得最多，会不会让大家都往大医院跑？建议一级医院降得更多。",
        1,
        "",
    ),
    (
        "hospital",
        False,
        "第四条",
        "建议明确跨年度住院按入院日期执行的具体口径，方便医院结算系统改造。",
        2,
        "",
    ),
    ("insured2", False, "", "你们都是骗子，这种垃圾政策有什么用！", None, "含辱骂、人身攻击内容"),
    ("insured", False, "第三条", "希望大病保险的起付线也一起下调。", 1, ""),
)
THEMES = ("支持降低起付线", "各级医院降幅与分级诊疗", "施行时间与结算口径")


@dataclass(frozen=True)
class DemoConsultation:
    consult_id: str
    opinions: int
    hidden: int
    explanation: list[str]


def candidate_for(region_path: Path) -> Path | None:
    """The shipped candidate policy lowering the deductibles of this region, if there is one."""
    path = EXAMPLES_DIR / f"{region_path.stem}-lower-deductible.yaml"
    return path if path.is_file() else None


def publish_demo_consultation(
    url: str, data_dir: Path, region_path: Path, now: dt.datetime | None = None
) -> DemoConsultation | None:
    """Publish the demo consultation on the (migrated, logins seeded) database at ``url``; None when the
    region has no candidate policy to simulate."""
    candidate = candidate_for(region_path)
    if candidate is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=10)
    sa_url = parse_url(url)[2]
    users = ServiceStore(sa_url)
    try:
        logins = {u.username: u for u in users.list_users()}
        staff = logins["admin"].user_id
    finally:
        users.close()
    engine = sa.create_engine(sa_url)
    try:
        store = ConsultStore(engine, core.load_params())
        baseline = PolicyBook.from_file(region_path)
        impact = simulate_impact(baseline, PolicyBook.from_file(candidate), data_dir)
        c = store.create_draft(
            title=TITLE,
            summary=SUMMARY,
            body=BODY,
            actor_id=staff,
            now=start - dt.timedelta(days=2),
            impact=impact,
            impact_note="本统筹区理赔数据按候选政策重新结算 the region's claims settled again under the candidate policy",
        )
        last_day = core.beijing_day(start) + dt.timedelta(days=30)
        store.publish(c.consult_id, last_day=last_day, short_reason="", actor_id=staff, now=start)
        ids: list[tuple[int, int | None]] = []
        hidden = 0
        for k, (login, anonymous, about, text, theme, reason) in enumerate(OPINIONS):
            user = logins[login]
            op = store.add_opinion(
                c.consult_id,
                author_id=user.user_id,
                author_role=user.role,
                display_name=user.display_name,
                anonymous=anonymous,
                about=about,
                body=text,
                now=start + dt.timedelta(days=1 + k, hours=3),
            )
            if reason:
                store.hide(
                    c.consult_id, op.id, reason=reason, actor_id=staff, now=start + dt.timedelta(days=2 + k)
                )
                hidden += 1
            ids.append((op.id, theme))
        store.record_hearing(
            c.consult_id,
            held_on=core.beijing_day(now - dt.timedelta(days=3)),
            place="市医疗保障局三楼听证室",
            participants=[
                "王＊＊ 参保人代表（退休职工家属）",
                "李＊ 参保人代表（慢性病患者）",
                "张＊＊ 三级医院医保办代表",
                "陈＊ 基层医疗机构代表",
                "刘＊＊ 医保政策专家",
            ],
            observers=["赵＊", "钱＊＊", "孙＊"],
            summary=(
                "参保人代表支持降低起付线，希望大病保险同步调整；三级医院代表建议明确跨年度住院的执行口径；"
                "基层医疗机构代表建议一级医院降幅更大，以引导群众基层就医。医保部门介绍了政策模拟测算结果，"
                "表示将在征求意见结束后逐类答复。"
            ),
            actor_id=staff,
            now=now - dt.timedelta(days=3),
        )
        for t, title in enumerate(THEMES):
            store.add_theme(
                c.consult_id,
                title=title,
                opinion_ids=[oid for oid, theme in ids if theme == t],
                actor_id=staff,
                now=now - dt.timedelta(days=1),
            )
        return DemoConsultation(c.consult_id, len(OPINIONS), hidden, explain(impact)["zh"])
    finally:
        engine.dispose()
