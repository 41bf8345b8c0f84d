"""The demo's enrolment: the synthetic region's enrolment histories loaded into the demo database (so the
service started afterwards checks every visit), the statuses compiled once for settling the year, and the
scene of a late enrolee (国办发〔2024〕38号): a visit in the waiting period is not paid by the funds, the same
visit after it is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from yibao.enrolment.check import by_psn, check
from yibao.enrolment.policy import policy_for_region
from yibao.enrolment.store import EnrolmentStore
from yibao.ledger import Ledger, LedgerError
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import LoadedRegion
from yibao.settlement.model import Settlement, Visit
from yibao.settlement.trace import NotEntitled
from yibao.synth import read_visits_as_engine_inputs
from yibao.usecases import settlement as usecase
from yibao.usecases.eligibility import BenefitRefused, MemoryEligibility


def load_enrolment(url: str, loaded: LoadedRegion, data_dir: Path) -> MemoryEligibility | None:
    """Load the generated enrolment files into the database and compile every status; None when the region
    has no enrolment file or the generator wrote none."""
    policy = policy_for_region(loaded)
    if policy is None or not (data_dir / "enrol_events.parquet").exists():
        return None
    with EnrolmentStore(url, policy, migrate=False) as store:
        store.load_synth(data_dir)
        statuses = by_psn(store.statuses())
    return MemoryEligibility(dict(statuses))


@dataclass(frozen=True)
class WaitingScene:
    psn_no: str
    waiting_from: dt.date
    covered_from: dt.date
    before: Settlement | None  # None: refused outright
    before_reason: str
    after: Settlement


def waiting_scene(
    ledger: Ledger, book: PolicyBook, source: MemoryEligibility, data_dir: Path, year: int
) -> WaitingScene | None:
    """A person of the ledger in a waiting period during ``year`` that ends within it; one of the year's
    stays (or visits) settled for them on a day in the waiting period and again on the first covered day."""
    template: Visit | None = None
    for _p, v in read_visits_as_engine_inputs(data_dir, limit=5_000):
        if v.med_type == "21" and v.account_psn_no is None and v.lines:
            template = v
            break
    if template is None:
        return None
    for psn_no, st in sorted(source.statuses.items()):
        for first, last, d, _a in st.intervals():
            if d.reason_code != "waiting_period" or first.year != year or last is None or last.year != year:
                continue
            try:
                person = ledger.get_person(psn_no, first)
            except LedgerError:  # a person the ledger does not hold
                continue
            nxt = last + dt.timedelta(days=1)
            if not check(st, nxt, "21").covered:
                continue
            mid = first + (last - first) // 2
            during = replace(
                template,
                mdtrt_id=f"WAIT{psn_no}A"[:30],
                psn_no=person.psn_no,
                begin_date=mid,
                end_date=mid,
            )
            after = replace(during, mdtrt_id=f"WAIT{psn_no}B"[:30], begin_date=nxt, end_date=nxt)
            before: Settlement | None = None
            try:
                before = usecase.settle(
                    ledger, book, during, f"WAITA{psn_no}"[:30], audit=None, eligibility=source
                ).settlement
                reason = next((s.reason_zh for s in before.steps if isinstance(s, NotEntitled)), d.reason_zh)
            except BenefitRefused as exc:
                reason = exc.reason
            out = usecase.settle(ledger, book, after, f"WAITB{psn_no}"[:30], audit=None, eligibility=source)
            return WaitingScene(psn_no, first, nxt, before, reason, out.settlement)
    return None


def scene_lines(scene: WaitingScene) -> list[tuple[str, str]]:
    """(Chinese, English) lines telling the scene."""
    y = fmt_yuan
    out = [
        (
            f"参保人 {scene.psn_no} 未在集中征缴期参保，{scene.waiting_from} 起处于待遇等待期，{scene.covered_from} 起享受待遇。",
            f"Person {scene.psn_no} enrolled late: waiting period from {scene.waiting_from}, covered from "
            f"{scene.covered_from}.",
        )
    ]
    if scene.before is None:
        out.append(
            (f"等待期内就诊被拒绝：{scene.before_reason}", "A visit in the waiting period is refused.")
        )
    else:
        b = scene.before
        out.append(
            (
                f"等待期内住院：总费用 {y(b.medfee_sumamt)} 元，基金支付 {y(b.fund_pay_sumamt)} 元，个人负担 "
                f"{y(b.psn_part_amt)} 元（{scene.before_reason}）",
                f"A stay in the waiting period: {y(b.medfee_sumamt)} billed, funds {y(b.fund_pay_sumamt)}, "
                f"the person {y(b.psn_part_amt)} (settled fully self-paid).",
            )
        )
    a = scene.after
    out.append(
        (
            f"等待期满后同样的住院：基金支付 {y(a.fund_pay_sumamt)} 元，个人负担 {y(a.psn_part_amt)} 元。",
            f"The same stay after the waiting period: funds {y(a.fund_pay_sumamt)}, the person "
            f"{y(a.psn_part_amt)}.",
        )
    )
    return out
