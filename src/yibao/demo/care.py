"""The internet-care scenes as a demo the Quickstart can call: :func:`run_care_demo` makes a small ledger,
runs each scene through the same use cases as the HTTP API and returns one summary row per scene.

    yibao care demo                 # prints the table
    from yibao.demo.care import run_care_demo   # ./yb demo may call it with its own database
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from yibao.care.online import RxLine
from yibao.care.store import CareService
from yibao.ledger import Ledger, PersonRecord
from yibao.money import QTY_ONE, fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.model import Line, Visit
from yibao.voucher.core import VoucherError
from yibao.voucher.store import VoucherStore

IH, PHARMACY, CLINIC, HOSPITAL, OUTSIDE = (
    "IH61000000001",
    "D61000000001",
    "C61000000011",
    "H61000000001",
    "H61000000099",
)
PERSONS = [
    PersonRecord("CARE00000001", "王秀兰", "610101195203041228", "F", dt.date(1952, 3, 4), "310", "21", "610100", 80_000, [], ["CARE00000002"]),
    PersonRecord("CARE00000002", "王磊", "610101198008081231", "M", dt.date(1980, 8, 8), "310", "11", "610100", 20_000, [], []),
    PersonRecord("CARE00000003", "李建国", "610101196511111219", "M", dt.date(1965, 11, 11), "390", "31", "610100", 0, [], []),
]  # fmt: skip
DRUGS = [RxLine("XA10BAA049A001010198648", 60, 4, 30), RxLine("XA10BHA052A001010141309", 30, 210, 30)]


def run_care_demo(
    db_url: str, *, region: str = "xian", day: dt.date = dt.date(2025, 5, 6)
) -> list[tuple[str, str]]:
    """Run every scene on ``db_url`` (migrated here; the demo persons are added when missing) for ``day``;
    returns (scene, outcome) rows."""
    now = dt.datetime.combine(day, dt.time(2), dt.UTC)
    rows: list[tuple[str, str]] = []
    with Ledger.open(db_url) as led:
        led.migrate()
        known = {p.psn_no for p in PERSONS if _exists(led, p.psn_no, day)}
        led.add_persons([p for p in PERSONS if p.psn_no not in known])
        book = PolicyBook.from_file(example_path(region))
        svc = CareService.open(led.sa_url)
        mum, son, farmer = (p.psn_no for p in PERSONS)

        vs = VoucherStore.open(led.sa_url)
        vs.ensure_key(now)
        v = vs.issue(psn_no=mum, holder=son, issued_by="demo", now=now)
        c = vs.verify(v.token, now=now, fixmedins_code=HOSPITAL)
        try:
            vs.verify(v.token, now=now, fixmedins_code=PHARMACY)
            again = "再次出示竟然通过 (unexpected)"
        except VoucherError as exc:
            again = f"再次出示被拒：{exc.reason}"
        rows.append(("医保电子凭证 voucher", f"儿子代母亲出示，密钥 {c.kid} 核验通过；{again}"))

        svc.register_condition(mum, "E11.9", day - dt.timedelta(days=90), HOSPITAL)
        svc.add_cover(
            psn_no=mum,
            product="DM-ONLINE",
            valid_from=dt.date(day.year, 1, 1),
            valid_to=dt.date(day.year, 12, 31),
        )
        f = svc.request_followup(
            psn_no=mum,
            internet_hospital=IH,
            diagnosis="E11.9",
            requested_by="son",
            address="西安市灞桥区",
            now=now,
        )
        rx = svc.prescribe(
            followup_id=f["followup_id"],
            internet_hospital=IH,
            prescriber="D610100001",
            lines=DRUGS,
            target=PHARMACY,
            today=day,
            now=now,
        )
        paid = svc.pay_followup(led, book, followup_id=f["followup_id"], pay_mode="cash", today=day, now=now)
        svc.dispense(rx_id=rx["rx_id"], pharmacy=PHARMACY, today=day, now=now)
        svc.deliver(rx_id=rx["rx_id"], pharmacy=PHARMACY, on=day, now=now)
        b, st1 = paid.bill, paid.settlement
        rows.append(
            (
                "线上复诊→处方流转→配送 follow-up",
                f"医疗费 {fmt_yuan(st1.medfee_sumamt)}：统筹 {fmt_yuan(st1.hifp_pay)}，"
                f"个人负担 {fmt_yuan(st1.psn_part_amt)}；已送达",
            )
        )
        rows.append(
            (
                "医保+商保一单制 one settlement",
                f"同一结算内商保“{svc.params.products[st1.commercial_product or ''].name}”付 "
                f"{fmt_yuan(st1.commercial_pay)}，"
                f"个人现金 {fmt_yuan(st1.psn_cash_pay)}（占医疗费 {st1.psn_cash_pay * 100 // max(st1.medfee_sumamt, 1)}%）"
                f"+ 配送费 {fmt_yuan(b['extras'])} = 一张账单 {fmt_yuan(b['patient_pay'])}",
            )
        )

        f2 = svc.request_followup(
            psn_no=mum,
            internet_hospital=IH,
            diagnosis="E11.9",
            requested_by="son",
            address="西安市灞桥区",
            now=now,
        )
        rx2 = svc.prescribe(
            followup_id=f2["followup_id"],
            internet_hospital=IH,
            prescriber="D610100001",
            lines=DRUGS,
            target=PHARMACY,
            today=day,
            now=now,
        )
        p2 = svc.pay_followup(led, book, followup_id=f2["followup_id"], pay_mode="credit", today=day, now=now)
        svc.dispense(rx_id=rx2["rx_id"], pharmacy=PHARMACY, today=day, now=now)
        svc.deliver(rx_id=rx2["rx_id"], pharmacy=PHARMACY, on=day, now=now)
        owed = p2.bill["patient_pay"]
        if owed:
            svc.repay(
                bill_id=p2.bill["bill_id"],
                amount=owed,
                by_user="son",
                today=day + dt.timedelta(days=3),
                now=now,
            )
        rows.append(("先诊疗后付费 credit pay", f"送达后记账 {fmt_yuan(owed)}，第3天还清"))

        cons = svc.request_consult(
            psn_no=farmer, requester=CLINIC, consultant=HOSPITAL, reason="胸痛待查", now=now
        )
        svc.answer_consult(
            consult_id=cons["consult_id"],
            consultant=HOSPITAL,
            advice="B超",
            ordered=["002202010010000"],
            now=now,
        )
        svc.settle_consult(
            led,
            book,
            consult_id=cons["consult_id"],
            requester=CLINIC,
            test_lines=[("002202010010000", 1, 4000)],
            today=day,
            now=now,
        )
        rows.append(
            (
                "远程会诊 remote consultation",
                f"会诊费 {fmt_yuan(cons['fee'])}：上级医院 {fmt_yuan(cons['consultant_share'])}，卫生院 {fmt_yuan(cons['requester_share'])}；检查在基层结算",
            )
        )

        start = day.replace(day=1)
        package_paid = ""
        for psn, pkg, payer in ((mum, "chronic-online", "account"), (farmer, "basic", "fund")):
            if not svc.contracts(psn_nos=[psn]):
                signed = svc.sign_contract(
                    led,
                    book,
                    psn_no=psn,
                    fixmedins_code=CLINIC,
                    doctor="家医团队1",
                    package=pkg,
                    payer=payer,
                    start=start,
                    now=now,
                )
                if signed["bill_id"]:
                    pb = svc.bill(signed["bill_id"])
                    package_paid = (
                        f"；{svc.params.packages[pkg].name}费 {fmt_yuan(pb['medfee_sumamt'])} 由个人账户付 "
                        f"{fmt_yuan(pb['acct_pay'])}"
                    )
        referral = Visit(
            f"CAREDEMO{day:%Y%m%d}",
            farmer,
            "21",
            OUTSIDE,
            "3",
            day,
            day + dt.timedelta(days=3),
            (
                Line("1", "001109000010000", 3 * QTY_ONE, 3000, 9000),
                Line("2", "001104000010000", 3 * QTY_ONE, 1500, 4500),
                Line("3", "XB01ADA043B002010114132", QTY_ONE, 298000, 298000),  # alteplase, class B
            ),
            diagnoses=("I21.0",),
        )
        led.settle(book, referral, f"CAREDEMOREF{day:%Y%m%d}")
        svc.record_outcome(psn_no=mum, month=f"{start:%Y-%m}", measure="glucose", controlled=True, by="demo")
        cap = svc.compute_capitation(led, consortium="YLT-XA-01", month_first=start, now=now)
        rows.append(
            (
                "家庭医生按人头付费 capitation",
                f"{cap['members']} 人，预算 {fmt_yuan(cap['budget'])}，转外扣减 {fmt_yuan(cap['withheld'])}，"
                f"结果奖励 {fmt_yuan(cap['bonus'])}，应付 {fmt_yuan(cap['payable'])}{package_paid}",
            )
        )

        st = svc.make_statement(led, insurer="INS-01", period_from=start, period_to=day, now=now)
        rec = svc.reconcile_statement(
            statement_id=st["statement_id"], theirs={cid: amt for cid, amt in st["lines"]}
        )
        rows.append(
            (
                "医保+商保一单制 insurer clearing",
                f"清算单 {st['claims']} 笔 {fmt_yuan(st['paid'])}，对账 {rec['status']}",
            )
        )
        fig = svc.figures(led, day)
        rows.append(
            (
                "局端指标 bureau figures",
                f"线上复诊占比 {fig['online_share'] / 100:.2f}%，信用违约率 {fig['credit']['default_rate'] / 100:.2f}%",
            )
        )
    return rows


def _exists(led: Ledger, psn_no: str, day: dt.date) -> bool:
    try:
        led.get_person(psn_no, day)
    except ValueError:
        return False
    return True


def demo_db(path: Path) -> str:
    """A fresh SQLite URL at ``path`` (the file is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return f"sqlite:///{path}"
