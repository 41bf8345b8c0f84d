"""The pure parts of 报销进度 and 政策说明: stages from a case's recorded changes, the other claim kinds, the
manual-reimbursement moves and clock, the refusal's text, and the rules read from the compiled policy."""

from __future__ import annotations

import datetime as dt

from yibao.feedback import core
from yibao.feedback.store import Case, CaseEvent
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.model import Line, Person, Visit
from yibao.web.portal.progress_pages import case_item, claim_item, policy_rules
from yibao.web.refusals import refusal_detail, visit_total


def a_case(status: str) -> Case:
    return Case(
        "c1",
        "reimburse",
        "P1",
        "u1",
        "H1",
        "说明",
        status,
        "2026-03-02T01:00:00+00:00",
        dt.date(2026, 3, 2),
        20,
        dt.date(2026, 3, 30),
        None,
    )


def test_a_reimbursement_is_accepted_reviewed_then_paid_or_sent_back_by_staff_only() -> None:
    assert core.allowed_moves("reimburse", "submitted", "auditor") == {"accepted", "rejected"}
    assert core.allowed_moves("reimburse", "accepted", "auditor") == {"in_progress", "resolved", "rejected"}
    assert core.allowed_moves("reimburse", "in_progress", "auditor") == {"resolved", "rejected"}
    assert core.allowed_moves("reimburse", "submitted", "insured") == {"withdrawn"}
    assert core.allowed_moves("reimburse", "resolved", "auditor") == frozenset()


def test_the_reimbursement_clock_runs_until_paid_or_sent_back_not_at_acceptance() -> None:
    assert not core.stops_clock("reimburse", "accepted")
    assert not core.stops_clock("reimburse", "in_progress")
    assert core.stops_clock("reimburse", "resolved") and core.stops_clock("reimburse", "rejected")
    assert core.load_params().sla["reimburse"].days > 0


def test_stages_are_the_recorded_changes_and_the_handler_is_the_office_once_staff_acted() -> None:
    waiting = case_item(
        a_case("submitted"), [CaseEvent("2026-03-02T01:00:00+00:00", "submitted", "insured", "")]
    )
    assert [s.name[0] for s in waiting.stages] == ["提交"] and waiting.handler[0] == "待经办机构受理"
    assert not waiting.closed and waiting.amount is None
    events = [
        CaseEvent("2026-03-02T01:00:00+00:00", "submitted", "insured", ""),
        CaseEvent("2026-03-03T02:00:00+00:00", "accepted", "auditor", "材料齐全"),
        CaseEvent("2026-03-05T02:00:00+00:00", "in_progress", "auditor", ""),
        CaseEvent("2026-03-09T02:00:00+00:00", "rejected", "auditor", "缺发票原件"),
    ]
    done = case_item(a_case("rejected"), events)
    assert [s.name[0] for s in done.stages] == ["提交", "受理", "审核", "退回"]
    assert [s.at for s in done.stages] == [e.at for e in events]
    assert done.stages[-1].note == "缺发票原件" and done.state[0] == "已退回"
    assert done.handler[0] == "医保经办机构" and done.closed and done.link == "/me/cases/c1"


def test_a_commercial_claim_shows_only_the_stages_it_has() -> None:
    row = {
        "product": "惠民保",
        "paid": 12_345,
        "claimed_on": "2026-04-01",
        "statement_id": None,
        "status": "claimed",
    }
    item = claim_item(row, ("某保险公司", "An insurer"))
    assert [s.name[0] for s in item.stages] == ["提交"] and item.amount == 12_345
    void = claim_item({**row, "statement_id": "S1", "status": "void"}, ("某保险公司", "An insurer"))
    assert [s.name[0] for s in void.stages] == ["提交", "对账清算", "作废"] and void.state[0] == "已作废"


def test_the_refusal_text_keeps_the_chinese_reason_the_bill_and_the_message() -> None:
    lines = [Line("1", "A", 2, 1_000, 2_000), Line("2", "B", 1, 505, 505)]
    visit = Visit("M1", "P1", "21", "H1", "3", dt.date(2026, 5, 3), dt.date(2026, 5, 9), tuple(lines))
    assert visit_total(visit) == 2_505
    text = refusal_detail(
        "西安市不为异地未备案人员直接结算住院，请回参保地手工报销 Xi'an does not settle", visit, "M9"
    )
    assert text.startswith("西安市不为异地未备案人员直接结算住院，请回参保地手工报销。")
    assert "Xi'an" not in text and "25.05 元" in text and "2026-05-03" in text and text.endswith("msgid M9）")


def test_the_rules_are_the_persons_own_figures_with_their_documents() -> None:
    book = PolicyBook.from_file(example_path("xian"))
    day = dt.date(2025, 6, 30)
    policy, version = book.for_date(day), book.loaded.version_for(day)
    retired = Person("P1", "甲", "1", "M", dt.date(1950, 1, 1), "310", "21")
    rules = policy_rules(book, policy, version, retired, "zh")
    text = "\n".join(line for r in rules for line in r.lines)
    ip = next(b for (s, vt), b in policy.benefits.items() if s == "310" and vt == "21")
    for lv, names in policy.levels.items():
        assert f"{names[0]}：起付线每次住院{fmt_yuan(ip.deductible[(lv, '21')])} 元" in text
        assert f"{names[0]}：统筹基金支付{ip.ratio[(lv, '21', 'local')] / 100:g}%" in text
    assert f"年度最高支付限额：{fmt_yuan(ip.cap_by_person_type.get('21', ip.cap))} 元" in text
    titles = {r.source for r in rules}
    assert book.loaded.region.sources["xa-emp-ip"].title in titles
    # a resident sees the resident scheme, not the employee one
    resident = Person("P2", "乙", "2", "F", dt.date(1980, 1, 1), "390", "31")
    names = {r.title[0] for r in policy_rules(book, policy, version, resident, "zh")}
    assert "职工大额医疗费用补助" not in names and "职工大额医疗费用补助" in {r.title[0] for r in rules}
