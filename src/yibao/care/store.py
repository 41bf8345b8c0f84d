"""Adapter and use cases: the internet-care scenes on the shared database (care tables through SQLAlchemy
Core) and the ledger (every insured settlement goes through :meth:`yibao.ledger.Ledger.settle`).

One use case per business act; every face (HTTP, pages, CLI, demo) calls these.  A settlement is sent with a
msgid derived from the care record (``CARE…``), so a retry after a failure between the ledger write and the
care write returns the stored first settlement instead of settling twice."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from yibao.care import capitation as capmod
from yibao.care import commercial, consult, credit, online
from yibao.care.figures import commercial_summary, credit_summary, online_share
from yibao.care.policy import CareError, CareParams, Package, Product, parse_params
from yibao.care.schema import (
    care_bill,
    care_capitation,
    care_claim,
    care_condition,
    care_consult,
    care_contract,
    care_cover,
    care_credit,
    care_credit_payment,
    care_delivery,
    care_followup,
    care_outcome,
    care_rx,
    care_statement,
)
from yibao.db import make_engine
from yibao.ledger import Ledger
from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.settlement.io import ICD10
from yibao.settlement.model import AuditHook, Line, Settlement, Visit

PARAMS_FILE = Path(__file__).with_name("params.yaml")


def load_params(path: Path = PARAMS_FILE) -> CareParams:
    """The care parameters from ``path`` (default: the shipped ``params.yaml``)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise CareError(str(path), "不是 YAML 映射 is not a YAML mapping")
    return parse_params(data)


def _id() -> str:
    return uuid.uuid4().hex[:16]


def _ts(now: dt.datetime) -> str:
    return now.isoformat(timespec="seconds")


def _msgid(kind: str, ref: str) -> str:
    return f"CARE{kind}{ref}"[:40]


@dataclass(frozen=True)
class Paid:
    """What a payment produced: the bill (一单制), the ledger settlement, the credit bill if any."""

    bill: dict[str, Any]
    setl_id: str
    settlement: Settlement


class CareService:
    """The scenes.  ``engine`` is a SQLAlchemy engine on the migrated shared database; methods that settle
    take the :class:`Ledger` and :class:`PolicyBook` (the service holds one ledger per process)."""

    def __init__(self, engine: sa.Engine, params: CareParams) -> None:
        self.engine, self.params = engine, params

    @staticmethod
    def open(sa_url: str, params: CareParams | None = None) -> CareService:
        return CareService(make_engine(sa_url), params or load_params())

    def _one(self, table: sa.Table, key: str, value: str, what: str) -> dict[str, Any]:
        with self.engine.connect() as c:
            r = c.execute(sa.select(table).where(table.c[key] == value)).first()
        if r is None:
            raise CareError(key, f"{what}不存在 unknown {key} {value!r}", "not_found")
        return dict(r._mapping)

    def _rows(self, q: sa.Select[Any]) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    # ------------------------------------------------------------------ conditions
    def register_condition(self, psn_no: str, diagnosis: str, on: dt.date, fixmedins_code: str) -> str:
        """Register a chronic condition diagnosed at an offline visit (idempotent); returns its code."""
        cond = self.params.condition_for(diagnosis)
        if cond is None:
            raise CareError(
                "diagnosis", f"非登记慢病 {diagnosis!r} is not a registrable condition", "not_chronic"
            )
        with self.engine.begin() as c:
            exists = c.execute(
                sa.select(care_condition.c.code).where(
                    care_condition.c.psn_no == psn_no, care_condition.c.code == cond.code
                )
            ).first()
            if exists is None:
                c.execute(
                    care_condition.insert().values(
                        psn_no=psn_no,
                        code=cond.code,
                        registered_on=on.isoformat(),
                        fixmedins_code=fixmedins_code,
                    )
                )
        return cond.code

    def conditions(self, psn_no: str) -> set[str]:
        q = sa.select(care_condition.c.code).where(care_condition.c.psn_no == psn_no)
        return {r["code"] for r in self._rows(q)}

    # ------------------------------------------------------------------ follow-up → rx → pay → delivery
    def request_followup(
        self,
        *,
        psn_no: str,
        internet_hospital: str,
        diagnosis: str,
        requested_by: str,
        address: str,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """A patient (or the family member acting for them) asks for an online follow-up."""
        online.check_followup(self.params, internet_hospital, diagnosis, self.conditions(psn_no))
        if not address.strip():
            raise CareError("address", "请填写配送地址 a delivery address is required", "missing")
        fid = _id()
        with self.engine.begin() as c:
            c.execute(
                care_followup.insert().values(
                    followup_id=fid,
                    psn_no=psn_no,
                    requested_by=requested_by,
                    internet_hospital=internet_hospital,
                    diagnosis=diagnosis,
                    status="requested",
                    created=_ts(now),
                    updated=_ts(now),
                    note=address.strip()[:500],
                )
            )
        return self.followup(fid)

    def followup(self, followup_id: str) -> dict[str, Any]:
        return self._one(care_followup, "followup_id", followup_id, "复诊申请")

    def followups(
        self, *, psn_nos: list[str] | None = None, internet_hospital: str | None = None
    ) -> list[dict[str, Any]]:
        q = sa.select(care_followup).order_by(care_followup.c.created.desc())
        if psn_nos is not None:
            q = q.where(care_followup.c.psn_no.in_(psn_nos))
        if internet_hospital is not None:
            q = q.where(care_followup.c.internet_hospital == internet_hospital)
        return self._rows(q.limit(500))

    def _move(
        self, c: sa.Connection, followup_id: str, current: str, new: str, now: dt.datetime, **values: Any
    ) -> None:
        online.check_move(current, new)
        res = c.execute(
            care_followup.update()
            .where(care_followup.c.followup_id == followup_id, care_followup.c.status == current)
            .values(status=new, updated=_ts(now), **values)
        )
        if res.rowcount != 1:
            raise CareError("status", "状态已被他人更改 changed by someone else; reload", "conflict")

    def prescribe(
        self,
        *,
        followup_id: str,
        internet_hospital: str,
        prescriber: str,
        lines: list[online.RxLine],
        target: str,
        today: dt.date,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """The internet hospital's physician issues the e-prescription; it is checked before it is stored."""
        f = self.followup(followup_id)
        if f["internet_hospital"] != internet_hospital:
            raise CareError(
                "followup_id", "不是本院的复诊申请 not a request to this internet hospital", "forbidden"
            )
        ih = online.internet_hospital(self.params, internet_hospital)
        if target != ih.attached_to and target not in self.params.pharmacies:
            raise CareError("target", f"未知药房 unknown pharmacy {target!r}", "unknown_pharmacy")
        rx = online.Prescription(
            _id(), f["psn_no"], internet_hospital, prescriber, today, f["diagnosis"], tuple(lines), target
        )
        online.refuse_findings(online.check_prescription(self.params, rx, today))
        with self.engine.begin() as c:
            self._move(c, followup_id, f["status"], "prescribed", now, rx_id=rx.rx_id)
            c.execute(
                care_rx.insert().values(
                    rx_id=rx.rx_id,
                    followup_id=followup_id,
                    psn_no=rx.psn_no,
                    internet_hospital=internet_hospital,
                    prescriber=prescriber,
                    issued_on=today.isoformat(),
                    diagnosis=rx.diagnosis,
                    target=target,
                    lines=json.dumps([[ln.code, ln.units, ln.price, ln.days] for ln in lines]),
                    status="issued",
                )
            )
        return self.rx(rx.rx_id)

    def rx(self, rx_id: str) -> dict[str, Any]:
        row = self._one(care_rx, "rx_id", rx_id, "处方")
        row["lines"] = [
            dict(zip(("code", "units", "price", "days"), ln, strict=True)) for ln in json.loads(row["lines"])
        ]
        with self.engine.connect() as c:
            d = c.execute(sa.select(care_delivery).where(care_delivery.c.rx_id == rx_id)).first()
        row["delivery"] = dict(d._mapping) if d else None
        return row

    def _prescription(self, row: dict[str, Any]) -> online.Prescription:
        return online.Prescription(
            row["rx_id"],
            row["psn_no"],
            row["internet_hospital"],
            row["prescriber"],
            dt.date.fromisoformat(row["issued_on"]),
            row["diagnosis"],
            tuple(online.RxLine(ln["code"], ln["units"], ln["price"], ln["days"]) for ln in row["lines"]),
            row["target"],
        )

    def prescriptions(
        self, *, psn_nos: list[str] | None = None, target: str | None = None
    ) -> list[dict[str, Any]]:
        q = sa.select(care_rx.c.rx_id).order_by(care_rx.c.issued_on.desc())
        if psn_nos is not None:
            q = q.where(care_rx.c.psn_no.in_(psn_nos))
        if target is not None:
            q = q.where(care_rx.c.target == target)
        return [self.rx(r["rx_id"]) for r in self._rows(q.limit(200))]

    def pay_followup(
        self,
        led: Ledger,
        book: PolicyBook,
        *,
        followup_id: str,
        pay_mode: str,
        today: dt.date,
        now: dt.datetime,
        audit: AuditHook | None = None,
        use_account: bool = False,
    ) -> Paid:
        """Settle the follow-up (consultation + drugs) through insurance as offline, with the person's
        commercial cover paying in the same settlement (一单制) and the personal account after it when
        ``use_account``, and either take the patient's part now (``cash``) or bill it on credit (``credit``)."""
        if pay_mode not in ("cash", "credit"):
            raise CareError(
                "pay_mode", "支付方式须为 cash 或 credit pay_mode must be cash or credit", "bad_mode"
            )
        f = self.followup(followup_id)
        if f["status"] != "prescribed":
            raise CareError(
                "status", f"当前状态 {f['status']} 不能支付 cannot pay in status {f['status']}", "bad_move"
            )
        rxrow = self.rx(f["rx_id"])
        rx = self._prescription(rxrow)
        registered = self.conditions(f["psn_no"])
        visit = online.online_visit(
            self.params,
            rx,
            f"CAREMD{followup_id}",
            registered,
            use_account,
            on=today,
            dispensed_before=int(rxrow["status"] == "dispensed"),
        )
        extras = online.delivery_charge(self.params, delivered=True)
        paid = self._settle_bill(
            led,
            book,
            visit,
            kind="followup",
            ref=followup_id,
            scene="online_followup",
            extras=extras,
            pay_mode=pay_mode,
            today=today,
            now=now,
            audit=audit,
        )
        with self.engine.begin() as c:
            self._move(
                c, followup_id, "prescribed", "paid", now, pay_mode=pay_mode, bill_id=paid.bill["bill_id"]
            )
            c.execute(
                care_delivery.insert().values(
                    rx_id=rx.rx_id, psn_no=rx.psn_no, address=f["note"], fee=extras, status="pending"
                )
            )
        return paid

    def _settle_bill(
        self,
        led: Ledger,
        book: PolicyBook,
        visit: Visit,
        *,
        kind: str,
        ref: str,
        scene: str,
        extras: int,
        pay_mode: str,
        today: dt.date,
        now: dt.datetime,
        audit: AuditHook | None,
        covers: tuple[Product, ...] | None = None,
    ) -> Paid:
        psn = visit.psn_no
        if covers is None:
            covers = self.covers_of(psn, visit.begin_date)
        if (
            pay_mode == "credit"
        ):  # refuse before anything is written; the amount is checked on a pre-settlement
            pre = led.settle(book, visit, "PRESETTLE", pre=True, audit=audit, covers=covers).settlement
            credit.check_credit(
                self.params, self.credit_history(psn, today), pre.psn_cash_pay + extras, today
            )
        # one settlement: the funds, then the commercial product, then the account (一单制)
        out = led.settle(book, visit, _msgid(kind, ref), audit=audit, covers=covers)
        s = out.settlement
        step = commercial.claim_of(s)
        insurer = step.insurer if step is not None else ""
        bill = commercial.one_bill(s, extras, insurer)
        bill_id = _id()
        with self.engine.begin() as c:
            c.execute(
                care_bill.insert().values(
                    bill_id=bill_id,
                    kind=kind,
                    ref_id=ref,
                    psn_no=psn,
                    fixmedins_code=visit.fixmedins_code,
                    setl_id=out.setl_id,
                    medfee_sumamt=bill.medfee_sumamt,
                    extras=extras,
                    hifp_pay=bill.hifp_pay,
                    other_funds=bill.other_funds,
                    commercial_pay=bill.commercial_pay,
                    insurer=insurer,
                    acct_pay=bill.acct_pay,
                    patient_pay=bill.patient_pay,
                    pay_mode=pay_mode,
                    created=_ts(now),
                )
            )
            if step is not None and step.paid > 0:
                c.execute(
                    care_claim.insert().values(
                        claim_id=_id(),
                        product=step.product,
                        insurer=step.insurer,
                        psn_no=psn,
                        bill_id=bill_id,
                        year=visit.counts_on.year,
                        base=step.base,
                        deductible=step.deductible_paid,
                        paid=step.paid,
                        claimed_on=today.isoformat(),
                        setl_id=out.setl_id,
                        status="claimed",
                    )
                )
            if pay_mode == "credit" and bill.patient_pay > 0:
                c.execute(
                    care_credit.insert().values(
                        bill_id=bill_id,
                        psn_no=psn,
                        amount=bill.patient_pay,
                        paid=0,
                        created_on=today.isoformat(),
                        due_on=None
                        if kind == "followup"
                        else credit.due_date(self.params, today).isoformat(),
                        status="pending" if kind == "followup" else "open",
                    )
                )
        return Paid({"bill_id": bill_id, **bill.as_dict(), "pay_mode": pay_mode}, out.setl_id, s)

    def covers_of(self, psn_no: str, day: dt.date) -> tuple[Product, ...]:
        """The commercial products ``psn_no`` holds on ``day`` (the insurer's enrolment), in product order:
        the engine pays the first that covers the visit."""
        iso = day.isoformat()
        q = sa.select(care_cover.c.product).where(
            care_cover.c.psn_no == psn_no, care_cover.c.valid_from <= iso, care_cover.c.valid_to >= iso
        )
        found = (self.params.products.get(r["product"]) for r in self._rows(q.order_by(care_cover.c.product)))
        return tuple(p for p in found if p is not None)

    def dispense(self, *, rx_id: str, pharmacy: str, today: dt.date, now: dt.datetime) -> dict[str, Any]:
        """The pharmacy (or the hospital's own) dispenses a paid prescription once, checked again on the day."""
        row = self.rx(rx_id)
        if row["target"] != pharmacy:
            raise CareError(
                "rx_id", "处方未流转至本药房 prescription not routed to this pharmacy", "forbidden"
            )
        f = self.followup(row["followup_id"])
        if f["status"] != "paid" and row["status"] != "dispensed":
            raise CareError("status", "处方尚未支付 prescription not paid yet", "not_paid")
        rx = self._prescription(row)
        once = int(row["status"] == "dispensed")
        online.refuse_findings(online.check_prescription(self.params, rx, today, dispensed_before=once))
        with self.engine.begin() as c:
            res = c.execute(
                care_rx.update()
                .where(care_rx.c.rx_id == rx_id, care_rx.c.status == "issued")
                .values(status="dispensed", dispensed_at=_ts(now), dispensed_by=pharmacy)
            )
            if res.rowcount != 1:  # dispensed meanwhile: the one-dispensing rule's own reason
                online.refuse_findings(online.check_prescription(self.params, rx, today, dispensed_before=1))
                raise CareError("rx_id", "处方已调剂 prescription already dispensed", "conflict")
            self._move(c, f["followup_id"], "paid", "dispensed", now)
            c.execute(
                care_delivery.update()
                .where(care_delivery.c.rx_id == rx_id)
                .values(status="shipped", shipped_at=_ts(now))
            )
        return self.rx(rx_id)

    def deliver(self, *, rx_id: str, pharmacy: str, on: dt.date, now: dt.datetime) -> dict[str, Any]:
        """The drugs arrived: the follow-up is done and a credit bill's repayment window starts."""
        row = self.rx(rx_id)
        if row["target"] != pharmacy:
            raise CareError(
                "rx_id", "处方未流转至本药房 prescription not routed to this pharmacy", "forbidden"
            )
        f = self.followup(row["followup_id"])
        with self.engine.begin() as c:
            self._move(c, f["followup_id"], "dispensed", "delivered", now)
            c.execute(
                care_delivery.update()
                .where(care_delivery.c.rx_id == rx_id)
                .values(status="delivered", delivered_on=on.isoformat())
            )
            c.execute(
                care_credit.update()
                .where(care_credit.c.bill_id == f["bill_id"], care_credit.c.status == "pending")
                .values(due_on=credit.due_date(self.params, on).isoformat(), status="open")
            )
        return self.rx(rx_id)

    def bill(self, bill_id: str) -> dict[str, Any]:
        return self._one(care_bill, "bill_id", bill_id, "账单")

    def bills(self, psn_nos: list[str]) -> list[dict[str, Any]]:
        return self._rows(
            sa.select(care_bill).where(care_bill.c.psn_no.in_(psn_nos)).order_by(care_bill.c.created.desc())
        )

    # ------------------------------------------------------------------ credit
    def credit_history(self, psn_no: str, today: dt.date) -> credit.CreditHistory:
        """What decides whether ``psn_no`` may use credit today (statuses refreshed first)."""
        self.refresh_credit(today)
        paid_followups = len(
            self._rows(
                sa.select(care_followup.c.followup_id).where(
                    care_followup.c.psn_no == psn_no,
                    care_followup.c.status.in_(["paid", "dispensed", "delivered"]),
                )
            )
        )
        bills = self._rows(sa.select(care_credit).where(care_credit.c.psn_no == psn_no))
        year = str(today.year)
        year_used = sum(b["amount"] for b in bills if b["created_on"].startswith(year))
        overdue = sum(1 for b in bills if b["status"] in ("overdue", "default", "written_off"))
        until = None
        for b in bills:
            if b["status"] in ("default", "written_off") and b["due_on"]:
                u = credit.suspended_until(self.params, dt.date.fromisoformat(b["due_on"]))
                until = u if until is None or u > until else until
        return credit.CreditHistory(paid_followups, year_used, overdue, until)

    def refresh_credit(self, today: dt.date) -> int:
        """Move every unpaid credit bill to its status on ``today``; returns how many changed."""
        changed = 0
        with self.engine.begin() as c:
            rows = list(
                c.execute(
                    sa.select(care_credit).where(care_credit.c.status.in_(["open", "overdue", "default"]))
                )
            )
            for b in rows:
                due = dt.date.fromisoformat(b.due_on) if b.due_on else None
                new = credit.bill_status(self.params, due, b.amount, b.paid, today)
                # statuses only move forward: a report run for a later day is not undone by an earlier one
                if credit.BILL_STATES.index(new) > credit.BILL_STATES.index(b.status):
                    c.execute(
                        care_credit.update().where(care_credit.c.bill_id == b.bill_id).values(status=new)
                    )
                    changed += 1
        return changed

    def credit_bills(self, psn_nos: list[str] | None, today: dt.date) -> list[dict[str, Any]]:
        self.refresh_credit(today)
        q = sa.select(care_credit).order_by(care_credit.c.created_on.desc())
        if psn_nos is not None:
            q = q.where(care_credit.c.psn_no.in_(psn_nos))
        return self._rows(q)

    def repay(
        self, *, bill_id: str, amount: int, by_user: str, today: dt.date, now: dt.datetime
    ) -> dict[str, Any]:
        """The patient (or their proxy) repays part or all of a credit bill from the portal."""
        with self.engine.begin() as c:
            b = c.execute(sa.select(care_credit).where(care_credit.c.bill_id == bill_id)).first()
            if b is None:
                raise CareError("bill_id", "账单不存在 unknown bill", "not_found")
            if b.status == "written_off":
                raise CareError(
                    "bill_id",
                    "账单已核销，请联系经办机构 bill written off; contact the agency",
                    "written_off",
                )
            credit.check_repayment(b.amount, b.paid, amount)
            paid = b.paid + amount
            due = dt.date.fromisoformat(b.due_on) if b.due_on else None
            status = credit.bill_status(self.params, due, b.amount, paid, today)
            res = c.execute(
                care_credit.update()
                .where(care_credit.c.bill_id == bill_id, care_credit.c.paid == b.paid)
                .values(paid=paid, status=status, closed_on=today.isoformat() if status == "paid" else None)
            )
            if res.rowcount != 1:
                raise CareError("bill_id", "账单已被更改，请重试 bill changed; retry", "conflict")
            c.execute(
                care_credit_payment.insert().values(
                    bill_id=bill_id, amount=amount, at=_ts(now), by_user=by_user
                )
            )
        return self._one(care_credit, "bill_id", bill_id, "账单")

    # ------------------------------------------------------------------ remote consultation
    def request_consult(
        self, *, psn_no: str, requester: str, consultant: str, reason: str, now: dt.datetime
    ) -> dict[str, Any]:
        """A grass-roots clinic asks a higher-level hospital for a remote consultation."""
        req, con = self.params.hospitals.get(requester), self.params.hospitals.get(consultant)
        if req is None or con is None:
            raise CareError(
                "consultant" if req else "requester",
                "未登记的医疗机构 unknown institution",
                "unknown_institution",
            )
        if con.level <= req.level:
            raise CareError(
                "consultant",
                "会诊方须为上级医院 the consultant must be a higher-level hospital",
                "not_higher",
            )
        fee = consult.consult_fee(self.params, con.level)
        c_share, r_share = consult.split_fee(self.params, fee)
        cid = _id()
        with self.engine.begin() as c:
            c.execute(
                care_consult.insert().values(
                    consult_id=cid,
                    psn_no=psn_no,
                    requester=requester,
                    consultant=consultant,
                    reason=reason[:2000],
                    status="requested",
                    fee=fee,
                    consultant_share=c_share,
                    requester_share=r_share,
                    created=_ts(now),
                    updated=_ts(now),
                )
            )
        return self.consult(cid)

    def consult(self, consult_id: str) -> dict[str, Any]:
        row = self._one(care_consult, "consult_id", consult_id, "会诊")
        row["ordered"] = json.loads(row["ordered"]) if row["ordered"] else []
        return row

    def consults(
        self, institution: str | None = None, psn_nos: list[str] | None = None
    ) -> list[dict[str, Any]]:
        q = sa.select(care_consult.c.consult_id).order_by(care_consult.c.created.desc())
        if institution is not None:
            q = q.where(
                sa.or_(care_consult.c.requester == institution, care_consult.c.consultant == institution)
            )
        if psn_nos is not None:
            q = q.where(care_consult.c.psn_no.in_(psn_nos))
        return [self.consult(r["consult_id"]) for r in self._rows(q.limit(200))]

    def answer_consult(
        self, *, consult_id: str, consultant: str, advice: str, ordered: list[str], now: dt.datetime
    ) -> dict[str, Any]:
        """The consultant gives advice and orders tests, to be done and settled at the requesting clinic."""
        row = self.consult(consult_id)
        if row["consultant"] != consultant:
            raise CareError(
                "consult_id", "不是发给本院的会诊 not a consultation for this hospital", "forbidden"
            )
        if row["status"] != "requested":
            raise CareError("status", "会诊已答复 already answered", "bad_move")
        with self.engine.begin() as c:
            c.execute(
                care_consult.update()
                .where(care_consult.c.consult_id == consult_id, care_consult.c.status == "requested")
                .values(
                    status="answered", advice=advice[:4000], ordered=json.dumps(ordered), updated=_ts(now)
                )
            )
        return self.consult(consult_id)

    def settle_consult(
        self,
        led: Ledger,
        book: PolicyBook,
        *,
        consult_id: str,
        requester: str,
        test_lines: list[tuple[str, int, int]],
        today: dt.date,
        now: dt.datetime,
        audit: AuditHook | None = None,
        diagnoses: tuple[str, ...] = (),
    ) -> Paid:
        """Settle one visit at the requesting clinic: the consultation fee (the 会诊 item at the policy fee)
        and the tests the consultant ordered, done locally, in the ``remote_consult`` scene (a commercial
        product covering it pays in the same settlement).  ``test_lines``: (code, units, unit price fen);
        ``diagnoses``: the visit's ICD-10 codes."""
        for k, code in enumerate(diagnoses):
            if not ICD10.fullmatch(code):
                raise CareError(
                    f"diagnoses[{k}]", f"{code[:20]!r} 不是 ICD-10 编码 is not an ICD-10 code", "bad_code"
                )
        row = self.consult(consult_id)
        if row["requester"] != requester:
            raise CareError(
                "consult_id", "不是本院发起的会诊 not a consultation this clinic asked for", "forbidden"
            )
        if row["status"] != "answered":
            raise CareError("status", "会诊尚未答复或已结算 not answered yet or already settled", "bad_move")
        unordered = [code for code, _, _ in test_lines if code not in row["ordered"]]
        if unordered:
            raise CareError(
                "test_lines", f"未经会诊医嘱的项目 not ordered by the consultant: {unordered}", "not_ordered"
            )
        lines = [Line("1", self.params.remote_item, QTY_ONE, row["fee"], row["fee"])]
        for i, (code, units, price) in enumerate(test_lines, start=2):
            lines.append(Line(str(i), code, units * QTY_ONE, price, units * price))
        level = self.params.hospitals[requester].level
        visit = Visit(
            f"CAREMD{consult_id}",
            row["psn_no"],
            "11",
            requester,
            level,
            today,
            today,
            tuple(lines),
            diagnoses=tuple(diagnoses),
            scene="remote_consult",
        )
        paid = self._settle_bill(
            led,
            book,
            visit,
            kind="consult",
            ref=consult_id,
            scene="remote_consult",
            extras=0,
            pay_mode="cash",
            today=today,
            now=now,
            audit=audit,
        )
        with self.engine.begin() as c:
            c.execute(
                care_consult.update()
                .where(care_consult.c.consult_id == consult_id)
                .values(
                    status="settled", mdtrt_id=visit.mdtrt_id, bill_id=paid.bill["bill_id"], updated=_ts(now)
                )
            )
        return paid

    # ------------------------------------------------------------------ family doctor and capitation
    def sign_contract(
        self,
        led: Ledger,
        book: PolicyBook,
        *,
        psn_no: str,
        fixmedins_code: str,
        doctor: str,
        package: str,
        payer: str,
        start: dt.date,
        now: dt.datetime,
        audit: AuditHook | None = None,
    ) -> dict[str, Any]:
        """Sign a one-year family-doctor contract with a package paid by one of the payers it allows.

        A package with a fee is settled through the ledger at the clinic, as one visit with the fee on the
        catalogue's 家庭医生签约服务费（个人支付部分） item (fully self-paid, so no fund pays): ``account`` — the
        personal account pays it (refused when the account cannot pay it all); ``commercial`` — a product the
        person holds that covers the ``family_doctor`` scene pays in the same settlement (refused when none
        does), the rest in cash; ``self`` — cash.  ``fund`` packages carry no fee."""
        pkg = self.params.packages.get(package)
        if pkg is None:
            raise CareError("package", f"未知服务包 unknown package {package!r}", "unknown_package")
        capmod.check_package_payment(pkg, payer)
        cons = self.params.consortium_of(fixmedins_code)
        if not cons:
            raise CareError(
                "fixmedins_code",
                "签约机构须属于医联体 the clinic must belong to a consortium",
                "no_consortium",
            )
        active = self._rows(
            sa.select(care_contract.c.contract_id).where(
                care_contract.c.psn_no == psn_no,
                care_contract.c.status == "active",
                care_contract.c.end_on >= start.isoformat(),
            )
        )
        if active:
            raise CareError("psn_no", "已有有效签约 already under an active contract", "already_signed")
        cid = _id()
        end = start.replace(year=start.year + 1) - dt.timedelta(days=1)
        bill_id = None
        if pkg.fee > 0 and payer != "fund":
            bill_id = self._pay_package(
                led,
                book,
                pkg,
                payer,
                psn_no=psn_no,
                clinic=fixmedins_code,
                cid=cid,
                start=start,
                now=now,
                audit=audit,
            )
        with self.engine.begin() as c:
            c.execute(
                care_contract.insert().values(
                    contract_id=cid,
                    psn_no=psn_no,
                    fixmedins_code=fixmedins_code,
                    doctor=doctor,
                    consortium=cons,
                    package=package,
                    fee=pkg.fee,
                    payer=payer,
                    start_on=start.isoformat(),
                    end_on=end.isoformat(),
                    status="active",
                    created=_ts(now),
                    bill_id=bill_id,
                )
            )
        return self._one(care_contract, "contract_id", cid, "签约")

    def _pay_package(
        self,
        led: Ledger,
        book: PolicyBook,
        pkg: Package,
        payer: str,
        *,
        psn_no: str,
        clinic: str,
        cid: str,
        start: dt.date,
        now: dt.datetime,
        audit: AuditHook | None,
    ) -> str:
        """Settle a package fee (see :meth:`sign_contract`); returns the bill id."""
        hosp = self.params.hospitals.get(clinic)
        if hosp is None:
            raise CareError("fixmedins_code", "未登记的医疗机构 unknown institution", "unknown_institution")
        item = self.params.package_item
        visit = Visit(
            f"CAREFD{cid}",
            psn_no,
            self.params.other_med_type,
            clinic,
            hosp.level,
            start,
            start,
            (Line("1", item, QTY_ONE, pkg.fee, pkg.fee),),
            diagnoses=tuple(sorted(self.conditions(psn_no))),
            use_account=payer == "account",
            scene="family_doctor",
        )
        covers = self.covers_of(psn_no, start) if payer == "commercial" else ()
        # refuse before anything is written, on a pre-settlement (2206)
        pre = led.settle(book, visit, "PRESETTLE", pre=True, audit=audit, covers=covers).settlement
        if payer == "account" and pre.acct_pay < pre.medfee_sumamt:
            raise CareError(
                "payer",
                f"个人账户不能支付全部服务包费用（可付 {pre.acct_pay} 分） the personal account cannot pay the whole fee",
                "account_short",
            )
        if payer == "commercial" and not pre.commercial_pay:
            raise CareError(
                "payer",
                "没有可支付该服务包的商业保险 no commercial product of this person pays for the package",
                "no_cover",
            )
        paid = self._settle_bill(
            led,
            book,
            visit,
            kind="contract",
            ref=cid,
            scene="family_doctor",
            extras=0,
            pay_mode="cash",
            today=start,
            now=now,
            audit=audit,
            covers=covers,
        )
        return str(paid.bill["bill_id"])

    def contracts(
        self, *, psn_nos: list[str] | None = None, consortium: str | None = None
    ) -> list[dict[str, Any]]:
        q = sa.select(care_contract).order_by(care_contract.c.created.desc())
        if psn_nos is not None:
            q = q.where(care_contract.c.psn_no.in_(psn_nos))
        if consortium is not None:
            q = q.where(care_contract.c.consortium == consortium)
        return self._rows(q)

    def record_outcome(self, *, psn_no: str, month: str, measure: str, controlled: bool, by: str) -> None:
        """Record whether a contracted chronic patient's blood pressure / glucose was under control."""
        if measure not in self.params.capitation.targets:
            raise CareError("measure", f"未知指标 unknown measure {measure!r}", "unknown_measure")
        with self.engine.begin() as c:
            c.execute(
                care_outcome.delete().where(
                    care_outcome.c.psn_no == psn_no,
                    care_outcome.c.month == month,
                    care_outcome.c.measure == measure,
                )
            )
            c.execute(
                care_outcome.insert().values(
                    psn_no=psn_no, month=month, measure=measure, controlled=int(controlled), recorded_by=by
                )
            )

    def compute_capitation(
        self, led: Ledger, *, consortium: str, month_first: dt.date, now: dt.datetime
    ) -> dict[str, Any]:
        """The consortium's capitation month from its active contracts, the fund paid for its members outside
        it (from the ledger's settlements) and the recorded outcomes; stored (recomputing replaces it)."""
        if consortium not in self.params.consortia:
            raise CareError(
                "consortium", f"未知医联体 unknown consortium {consortium!r}", "unknown_consortium"
            )
        if month_first.day != 1:
            raise CareError("month", "须为月初日期 must be the first day of a month", "bad_month")
        nxt = (month_first + dt.timedelta(days=32)).replace(day=1)
        day = month_first.isoformat()
        rows = self._rows(
            sa.select(care_contract.c.psn_no).where(
                care_contract.c.consortium == consortium,
                care_contract.c.status == "active",
                care_contract.c.start_on <= day,
                care_contract.c.end_on >= day,
            )
        )
        inside = self.params.consortia[consortium].members
        members: list[capmod.Member] = []
        outside = 0
        for r in rows:
            p = led.get_person(r["psn_no"], month_first)
            members.append(
                capmod.Member(p.psn_no, p.gender, p.birth_date, tuple(sorted(self.conditions(p.psn_no))))
            )
            for st in led.list_settlements(p.psn_no, limit=1000):
                v = st.visit
                if st.active and month_first <= v.begin_date < nxt and v.fixmedins_code not in inside:
                    outside += st.settlement.fund_pay_sumamt
        month = f"{month_first:%Y-%m}"
        outs = self._rows(sa.select(care_outcome).where(care_outcome.c.month == month))
        member_ids = {m.psn_no for m in members}
        outcomes = []
        for measure in self.params.capitation.targets:
            got = [o for o in outs if o["measure"] == measure and o["psn_no"] in member_ids]
            outcomes.append(capmod.Outcome(measure, sum(o["controlled"] for o in got), len(got)))
        result = capmod.capitation_month(self.params, consortium, month_first, members, outside, outcomes)
        detail = {**result.as_dict(), "outside_fund_paid": outside, "per_member": dict(result.per_member)}
        with self.engine.begin() as c:
            c.execute(
                care_capitation.delete().where(
                    care_capitation.c.consortium == consortium, care_capitation.c.month == month
                )
            )
            c.execute(
                care_capitation.insert().values(
                    consortium=consortium,
                    month=month,
                    members=result.members,
                    budget=result.budget,
                    pool=result.pool,
                    withheld=result.withheld,
                    bonus=result.bonus,
                    payable=result.payable,
                    detail=json.dumps(detail),
                    computed_at=_ts(now),
                )
            )
        return detail

    def capitation_months(self) -> list[dict[str, Any]]:
        return self._rows(sa.select(care_capitation).order_by(care_capitation.c.month.desc()))

    # ------------------------------------------------------------------ commercial cover and the insurer
    def add_cover(self, *, psn_no: str, product: str, valid_from: dt.date, valid_to: dt.date) -> None:
        """Record that ``psn_no`` holds ``product`` (the insurer's enrolment, 商保参保)."""
        if product not in self.params.products:
            raise CareError("product", f"未知商保产品 unknown product {product!r}", "unknown_product")
        with self.engine.begin() as c:
            c.execute(
                care_cover.delete().where(care_cover.c.psn_no == psn_no, care_cover.c.product == product)
            )
            c.execute(
                care_cover.insert().values(
                    psn_no=psn_no,
                    product=product,
                    valid_from=valid_from.isoformat(),
                    valid_to=valid_to.isoformat(),
                )
            )

    def claims(self, insurer: str | None = None, psn_nos: list[str] | None = None) -> list[dict[str, Any]]:
        q = sa.select(care_claim).order_by(care_claim.c.claimed_on, care_claim.c.claim_id)
        if insurer is not None:
            q = q.where(care_claim.c.insurer == insurer)
        if psn_nos is not None:
            q = q.where(care_claim.c.psn_no.in_(psn_nos))
        return self._rows(q)

    def make_statement(
        self, led: Ledger, *, insurer: str, period_from: dt.date, period_to: dt.date, now: dt.datetime
    ) -> dict[str, Any]:
        """The statement of the insurer's claims in the period not yet on a statement (清算单), each checked
        against the ledger: a claim whose settlement was cancelled (2208) is void and left off; a claim whose
        amount differs from the settlement's ``commercial_pay`` refuses the statement (nothing written)."""
        if insurer not in self.params.insurers:
            raise CareError("insurer", f"未知保险公司 unknown insurer {insurer!r}", "unknown_insurer")
        sid = _id()
        with self.engine.begin() as c:
            found = list(
                c.execute(
                    sa.select(
                        care_claim.c.claim_id, care_claim.c.base, care_claim.c.paid, care_claim.c.setl_id
                    ).where(
                        care_claim.c.insurer == insurer,
                        care_claim.c.statement_id.is_(None),
                        care_claim.c.status == "claimed",
                        care_claim.c.claimed_on >= period_from.isoformat(),
                        care_claim.c.claimed_on <= period_to.isoformat(),
                    )
                )
            )
            rows, void = [], []
            for claim_id, base, paid, setl_id in found:
                if setl_id is not None:
                    stored = led.get_settlement(setl_id)
                    if stored.status != "active":
                        void.append(claim_id)
                        continue
                    if stored.settlement.commercial_pay != paid:
                        raise CareError(
                            "claims",
                            f"理赔 {claim_id} 金额 {paid} 与结算 {setl_id} 的商保支付 "
                            f"{stored.settlement.commercial_pay} 不符 claim differs from its settlement",
                            "ledger_mismatch",
                        )
                rows.append((claim_id, base, paid))
            st = commercial.statement(insurer, period_from.isoformat(), period_to.isoformat(), rows)
            c.execute(
                care_statement.insert().values(
                    statement_id=sid,
                    insurer=insurer,
                    period_from=st.period_from,
                    period_to=st.period_to,
                    claims=st.claims,
                    base=st.base,
                    paid=st.paid,
                    status="sent",
                    result="",
                    created=_ts(now),
                )
            )
            if rows:
                c.execute(
                    care_claim.update()
                    .where(care_claim.c.claim_id.in_([r[0] for r in rows]))
                    .values(statement_id=sid)
                )
            if void:
                c.execute(care_claim.update().where(care_claim.c.claim_id.in_(void)).values(status="void"))
        return {
            **self._one(care_statement, "statement_id", sid, "清算单"),
            "lines": [list(x) for x in st.lines],
            "void": sorted(void),
        }

    def statements(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest statements to insurers, with their status."""
        return self._rows(sa.select(care_statement).order_by(care_statement.c.created.desc()).limit(limit))

    def reconcile_statement(self, *, statement_id: str, theirs: dict[str, int]) -> dict[str, Any]:
        """Compare the insurer's returned amounts with the statement's claims; ``reconciled`` or ``disputed``."""
        st = self._one(care_statement, "statement_id", statement_id, "清算单")
        ours = {
            r["claim_id"]: r["paid"]
            for r in self._rows(sa.select(care_claim).where(care_claim.c.statement_id == statement_id))
        }
        rec = commercial.reconcile(ours, theirs)
        result = {
            "matched": rec.matched,
            "missing_at_insurer": list(rec.missing_at_insurer),
            "unknown_to_us": list(rec.unknown_to_us),
            "amount_differs": [list(x) for x in rec.amount_differs],
            "ours_total": rec.ours_total,
            "theirs_total": rec.theirs_total,
            "balanced": rec.balanced,
        }
        with self.engine.begin() as c:
            c.execute(
                care_statement.update()
                .where(care_statement.c.statement_id == statement_id)
                .values(status="reconciled" if rec.balanced else "disputed", result=json.dumps(result))
            )
        return {**st, "status": "reconciled" if rec.balanced else "disputed", "result": result}

    # ------------------------------------------------------------------ bureau figures
    def figures(self, led: Ledger, today: dt.date) -> dict[str, Any]:
        """Online share of visits, capitation budgets, credit defaults, commercial cover paid."""
        online_n = len(self._rows(sa.select(care_bill.c.bill_id).where(care_bill.c.kind == "followup")))
        share = online_share(online_n, led.row_counts().get("settlement", 0))
        caps = self.capitation_months()
        return {
            "online_visits": share.part,
            "all_visits": share.whole,
            "online_share": share.ratio,
            "capitation": [{k: v for k, v in r.items() if k != "detail"} for r in caps],
            "credit": credit_summary(self.credit_bills(None, today)),
            "commercial": commercial_summary(c for c in self.claims() if c["status"] != "void"),
        }


class CoverLookup:
    """The commercial products a person holds on a day, for every settle path — the counter's 2207 and
    2304 as well as the online scenes (医保+商保一单制).  Remembered per (person, day) for ``ttl`` seconds in
    this worker, so that a settlement costs one query a person a minute rather than one each: an insurer's
    new enrolment reaches the counter within ``ttl``.  The database is opened at the first lookup."""

    def __init__(self, sa_url: str, ttl: float = 60.0, care: CareService | None = None) -> None:
        self.sa_url, self.ttl = sa_url, ttl
        self._care = care
        self._seen: dict[tuple[str, dt.date], tuple[float, tuple[Product, ...]]] = {}
        self._lock = threading.Lock()

    def __call__(self, psn_no: str, day: dt.date) -> tuple[Product, ...]:
        now = time.monotonic()
        hit = self._seen.get((psn_no, day))
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._lock:
            if self._care is None:
                self._care = CareService.open(self.sa_url)
            care = self._care
        found = care.covers_of(psn_no, day)
        if len(self._seen) > 100_000:  # a worker's memory stays bounded on a long day
            self._seen.clear()
        self._seen[(psn_no, day)] = (now + self.ttl, found)
        return found

    def close(self) -> None:
        if self._care is not None:
            self._care.engine.dispose()
