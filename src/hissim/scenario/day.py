"""A day of a hospital: sign in, outpatient and inpatient flows, corrections, cancellations, a reversal
after a lost answer, end-of-day reconciliation against the simulator's own books, sign out.

Every answer is validated against the spec (by :class:`~hissim.scenario.session.Session`) and against
what the hospital expects (the 2207 total equals the uploaded lines, a cancelled settlement leaves the
3201 totals, …). Failures are collected, never raised; only a request that breaks the spec raises
(:class:`~hissim.scenario.session.SimulatorBug`), because that is the simulator's own fault.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hissim.client import HttpClient, PaasAuth
from hissim.envelope import Institution, Operator, Signer, Sm2Signer, Sm3Signer
from hissim.scenario.books import Books, Line, Settlement, Totals, Visit, fen_to_yuan, yuan_to_fen
from hissim.scenario.data import Item, Person, partition
from hissim.scenario.plan import HospitalPlan, InpatientStay, OutpatientVisit, PlannedLine, Rates, make_plan
from hissim.scenario.session import Failure, Session, file_bytes, unzip_text, zip_text
from hissim.spec import Spec, load_spec
from hissim.validate import check_fields, to_decimal

# (code, name) — ICD-10 医保 2.0 style codes used as example diagnoses.
OUTPATIENT_DIAGNOSES = (
    ("J06.900", "急性上呼吸道感染"),
    ("I10.x00", "原发性高血压"),
    ("E11.900", "2型糖尿病"),
    ("K29.700", "胃炎"),
    ("M54.500", "腰痛"),
)
INPATIENT_DIAGNOSES = (("J18.900", "肺炎"), ("I63.900", "脑梗死"), ("K35.800", "急性阑尾炎"))
DEPARTMENTS = (("NK01", "内科", "A03"), ("WK01", "外科", "A04"), ("EK01", "儿科", "A07"))
SPLIT_FIELDS = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
SETL_SPLIT = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
SETL_AMOUNTS = (
    "medfee_sumamt",
    *SETL_SPLIT,
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
)


@dataclass(frozen=True)
class DayConfig:
    """Everything a simulated day needs; picklable so hospitals can run in processes."""

    url: str
    institutions: tuple[Institution, ...]
    persons: tuple[Person, ...]
    items: tuple[Item, ...]
    visits: int = 200
    seed: int = 1
    business_date: date = field(default_factory=date.today)
    run_id: str = "000000"
    path: str = "/fsi/api/{infno}"
    timeout: float = 30.0
    transport: str = "httpx"  # httpx | stdlib
    check_every: int = 1  # validate every n-th answer field by field (benchmarks may sample)
    numbers: str = "string"
    headers: tuple[tuple[str, str], ...] = ()
    login: tuple[str, str, str] | None = None  # (path, username, password)
    paas: tuple[str, str] | None = None  # (paas_id, paas_token)
    signtype: str = ""  # "" | SM3 | SM2
    sm2_keys: tuple[str, str] | None = None  # (private, public)
    infver: str = "V1.0"
    outpatient_med_type: str = "11"
    pharmacy_med_type: str = "11"
    inpatient_med_type: str = "21"
    rates: Rates = field(default_factory=Rates)
    reconcile: bool = True
    clearing: bool = False
    treatment_check: bool = False  # 2001 人员待遇享受检查 before each admission
    refd_setl_flag: str | None = None  # send refd_setl_flag in 3201/3202 (later editions)
    codes_overlay: Mapping[str, Any] | None = None


def default_config(
    url: str,
    hospitals: int = 8,
    visits: int = 200,
    seed: int = 1,
    persons: Sequence[Person] | None = None,
    admvs: str = "610100",
    **options: Any,
) -> DayConfig:
    """A day with stand-in hospitals, the example catalogue and the given (or synthetic) persons.

    The entry point for other programs (e.g. a ``bench his`` command): ``run_day(default_config(url))``.
    ``options`` are further :class:`DayConfig` fields (``path``, ``login``, ``business_date`` …).
    """
    from hissim.scenario.data import default_institutions, load_items, synthetic_persons

    people = (
        tuple(persons)
        if persons is not None
        else tuple(synthetic_persons(max(hospitals * 25, 50), seed, admvs))
    )
    return DayConfig(
        url=url,
        institutions=tuple(default_institutions(hospitals, admvs)),
        persons=people,
        items=tuple(load_items()),
        visits=visits,
        seed=seed,
        **options,
    )


@dataclass
class HospitalResult:
    """What one hospital's day produced."""

    index: int
    fixmedins_code: str
    visits_planned: int = 0
    visits_done: int = 0
    settlements: int = 0
    sent: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # the simulator's own CPU time for this hospital (its thread)
    failures: list[Failure] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class DayResult:
    """All hospitals together."""

    hospitals: list[HospitalResult]
    wall_s: float

    @property
    def failures(self) -> list[Failure]:
        """Every failure of every hospital."""
        return [f for h in self.hospitals for f in h.failures]

    @property
    def visits_done(self) -> int:
        """Visits and stays whose whole sequence ran."""
        return sum(h.visits_done for h in self.hospitals)

    def latencies(self) -> dict[str, list[float]]:
        """Latencies per infno over all hospitals."""
        out: dict[str, list[float]] = {}
        for h in self.hospitals:
            for k, v in h.latencies.items():
                out.setdefault(k, []).extend(v)
        return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0–1) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def bench_lines(result: DayResult, cfg: DayConfig) -> list[dict[str, Any]]:
    """The JSON lines of ``yibao bench his`` / ``hissim day``: throughput, p99 per transaction, failures."""
    common = {"hospitals": len(result.hospitals), "visits": cfg.visits, "seed": cfg.seed}
    out: list[dict[str, Any]] = [
        {
            "bench": "his.day",
            "metric": "throughput",
            "value": round(result.visits_done / result.wall_s, 2) if result.wall_s > 0 else 0.0,
            "unit": "visits/s",
            **common,
            "visits_done": result.visits_done,
            "wall_s": round(result.wall_s, 3),
            "client_cpu_ms_per_visit": round(
                1000 * sum(h.cpu_s for h in result.hospitals) / max(1, result.visits_done), 2
            ),
        }
    ]
    for infno, values in sorted(result.latencies().items()):
        out.append(
            {
                "bench": "his.day",
                "metric": "p99",
                "infno": infno,
                "value": round(percentile(values, 0.99), 2),
                "unit": "ms",
                "p50": round(percentile(values, 0.50), 2),
                "n": len(values),
            }
        )
    out.append(
        {"bench": "his.day", "metric": "failures", "value": len(result.failures), "unit": "count", **common}
    )
    return out


def _signer(cfg: DayConfig) -> Signer | None:
    if cfg.signtype == "SM3":
        return Sm3Signer()
    if cfg.signtype == "SM2":
        if cfg.sm2_keys is None:
            raise ValueError("SM2 签名需要密钥 SM2 needs a key pair")
        return Sm2Signer(*cfg.sm2_keys)
    return None


def _same_certno(answered: Any, certno: str) -> bool:
    """The answered ID number is the person's: absent, in full, or masked (``*`` hides characters, the
    national interface masks it in answers to hospitals) with every shown character matching."""
    if answered in (None, ""):
        return True
    text = str(answered)
    return len(text) == len(certno) and all(a in ("*", c) for a, c in zip(text, certno, strict=True))


def _t(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M:%S")


def _amt(value: Any) -> Decimal | None:
    return to_decimal(value)


class Hospital:
    """Plays one hospital's plan through a :class:`Session` and keeps its books."""

    def __init__(self, cfg: DayConfig, index: int, persons: Sequence[Person], spec: Spec) -> None:
        self.cfg = cfg
        self.index = index
        self.inst = cfg.institutions[index]
        self.persons = list(persons)
        self.items = list(cfg.items)
        client = HttpClient(
            cfg.url,
            path=cfg.path,
            timeout=cfg.timeout,
            numbers="number" if cfg.numbers == "number" else "string",
            headers=dict(cfg.headers),
            paas=PaasAuth(*cfg.paas) if cfg.paas else None,
            transport="stdlib" if cfg.transport == "stdlib" else "httpx",
        )
        self.sess = Session(
            spec,
            client,
            self.inst,
            Operator(opter=f"{index + 1:04d}", opter_name=f"收费员{index + 1:02d}"),
            signer=_signer(cfg),
            infver=cfg.infver,
            check_every=max(1, cfg.check_every),
        )
        self.books = Books()
        self.result = HospitalResult(index, self.inst.fixmedins_code)
        self.day0 = datetime.combine(cfg.business_date, datetime.min.time())
        self._cpu0 = 0.0

    # -- helpers -------------------------------------------------------------------------------
    def _no(self, kind: str, seq: int) -> str:
        return f"{kind}{self.cfg.run_id}{self.index:02d}{seq:05d}"

    def _person_info(self, person: Person, credential: int) -> dict[str, Any] | None:
        """1101: present one of the person's credentials; returns what the visit needs."""
        creds = person.credentials()
        cert_type, cert_no, card_sn = creds[credential % len(creds)]
        payload = {
            "data": {
                "mdtrt_cert_type": cert_type,
                "mdtrt_cert_no": cert_no,
                "card_sn": card_sn,
                "begntime": "",
                "psn_cert_type": person.psn_cert_type,
                "certno": person.certno,
                "psn_name": person.psn_name,
            }
        }
        ex = self.sess.send("1101", payload)
        if not ex.ok or not isinstance(ex.output, Mapping):
            return None
        base = ex.output.get("baseinfo") or {}
        insus = [i for i in ex.output.get("insuinfo") or [] if isinstance(i, Mapping)]
        s = self.sess
        s.expect(
            bool(base.get("psn_no")), "1101", "output.baseinfo.psn_no", "未返回人员编号 no psn_no", ex.msgid
        )
        s.expect(
            _same_certno(base.get("certno"), person.certno),
            "1101",
            "output.baseinfo.certno",
            f"证件号码与凭证不符 {base.get('certno')!r} ≠ {person.certno!r}",
            ex.msgid,
        )
        s.expect(
            base.get("psn_name") in (None, "", person.psn_name),
            "1101",
            "output.baseinfo.psn_name",
            f"姓名不符 {base.get('psn_name')!r} ≠ {person.psn_name!r}",
            ex.msgid,
        )
        if not s.expect(bool(insus), "1101", "output.insuinfo", "无参保信息 no insuinfo", ex.msgid):
            return None
        chosen = next((i for i in insus if person.insutype and i.get("insutype") == person.insutype), None)
        chosen = chosen or next((i for i in insus if str(i.get("psn_insu_stas", "1")) == "1"), insus[0])
        if not base.get("psn_no"):
            return None
        return {
            "psn_no": str(base["psn_no"]),
            "insutype": str(chosen.get("insutype", "")),
            "insuplc_admdvs": str(chosen.get("insuplc_admdvs", "")),
            "mdtrt_cert_type": cert_type,
            "mdtrt_cert_no": cert_no,
        }

    def _fee_row(
        self,
        ln: PlannedLine,
        mdtrt_id: str,
        psn_no: str,
        when: datetime,
        chrg_bchno: str | None,
        med_type: str,
    ) -> dict[str, Any]:
        item = self.items[ln.item]
        dept = DEPARTMENTS[self.index % len(DEPARTMENTS)]
        row: dict[str, Any] = {
            "feedetl_sn": f"{ln.n:04d}",
            "mdtrt_id": mdtrt_id,
            "psn_no": psn_no,
            "fee_ocur_time": _t(when),
            "med_list_codg": item.med_list_codg,
            "medins_list_codg": item.medins_list_codg,
            "det_item_fee_sumamt": ln.amount,
            "cnt": ln.cnt,
            "pric": ln.pric,
            "bilg_dept_codg": dept[0],
            "bilg_dept_name": dept[1],
            "bilg_dr_codg": f"D{self.index:02d}0001",
            "bilg_dr_name": "李医生",
            "hosp_appr_flag": "1",
        }
        if chrg_bchno is not None:  # 2204
            row.update(chrg_bchno=chrg_bchno, rx_circ_flag="0", rxno=f"RX{mdtrt_id[-12:]}")
            if item.kind == "drug":
                row.update(
                    sin_dos_dscr="1片", used_frqu_dscr="每日三次", prd_days=Decimal(3), medc_way_dscr="口服"
                )
        else:  # 2301
            row.update(med_type=med_type, drord_no=f"YZ{ln.n:06d}")
        return row

    def _check_fee_result(
        self,
        infno: str,
        ex_output: Any,
        sent: Sequence[dict[str, Any]],
        splits: dict[str, dict[str, Decimal]],
    ) -> None:
        s = self.sess
        rows = ex_output.get("result") if isinstance(ex_output, Mapping) else None
        if not s.expect(isinstance(rows, list), infno, "output.result", "未返回明细拆分结果 no result list"):
            return
        assert isinstance(rows, list)
        by_sn = {str(r.get("feedetl_sn")): r for r in rows if isinstance(r, Mapping)}
        want = {str(r["feedetl_sn"]): r for r in sent}
        s.expect(
            set(by_sn) == set(want),
            infno,
            "output.result[].feedetl_sn",
            f"返回的明细流水号 {sorted(by_sn)} 与上传的 {sorted(want)} 不一致 lines returned ≠ lines sent",
        )
        for sn, row in by_sn.items():
            if sn not in want:
                continue
            for name in ("det_item_fee_sumamt", "cnt", "pric"):
                got, exp = _amt(row.get(name)), want[sn][name]
                s.expect(
                    got == exp,
                    infno,
                    f"output.result[{sn}].{name}",
                    f"与上传值不符 {got} ≠ {exp} differs from the uploaded value",
                )
            parts = {n: _amt(row.get(n)) for n in SPLIT_FIELDS}
            if all(v is not None for v in parts.values()):
                splits[sn] = {n: v for n, v in parts.items() if v is not None}

    def _check_settle(
        self,
        infno: str,
        output: Any,
        msgid: str,
        expected_fen: int,
        mdtrt_id: str,
        psn_no: str,
        split_sums: dict[str, Decimal] | None,
        final: bool,
    ) -> dict[str, Any] | None:
        s = self.sess
        info = output.get("setlinfo") if isinstance(output, Mapping) else None
        if not s.expect(
            isinstance(info, Mapping), infno, "output.setlinfo", "未返回结算信息 no setlinfo", msgid
        ):
            return None
        assert isinstance(info, Mapping)
        total = _amt(info.get("medfee_sumamt"))
        s.expect(
            total is not None and yuan_to_fen(total) == expected_fen,
            infno,
            "output.setlinfo.medfee_sumamt",
            f"医疗费总额 {total} ≠ 已上传明细之和 {fen_to_yuan(expected_fen)} total ≠ uploaded lines",
            msgid,
        )
        s.expect(info.get("mdtrt_id") == mdtrt_id, infno, "output.setlinfo.mdtrt_id", "就诊ID不符", msgid)
        s.expect(info.get("psn_no") == psn_no, infno, "output.setlinfo.psn_no", "人员编号不符", msgid)
        if split_sums is not None:
            for mine, theirs in zip(SPLIT_FIELDS, SETL_SPLIT, strict=True):
                got = _amt(info.get(theirs))
                s.expect(
                    got == split_sums[mine],
                    infno,
                    f"output.setlinfo.{theirs}",
                    f"{got} ≠ 明细拆分之和 {split_sums[mine]} ≠ Σ of the lines' {mine}",
                    msgid,
                )
        if final:
            s.expect(
                bool(info.get("setl_id")), infno, "output.setlinfo.setl_id", "未返回结算ID no setl_id", msgid
            )
            s.expect(
                info.get("medins_setl_id") == msgid,
                infno,
                "output.setlinfo.medins_setl_id",
                f"医药机构结算ID应为发送方报文ID {msgid} must echo the msgid",
                msgid,
            )
        return dict(info)

    def _same_amounts(self, infno: str, pre: Mapping[str, Any], final: Mapping[str, Any], msgid: str) -> None:
        for name in SETL_AMOUNTS:
            a, b = _amt(pre.get(name)), _amt(final.get(name))
            if a is not None and b is not None:
                self.sess.expect(
                    a == b,
                    infno,
                    f"output.setlinfo.{name}",
                    f"结算 {b} 与预结算 {a} 不一致 settlement differs from the pre-settlement",
                    msgid,
                )

    def _record(self, infno: str, info: Mapping[str, Any], msgid: str, insutype: str) -> Settlement | None:
        try:
            setl_day = datetime.strptime(str(info.get("setl_time", ""))[:10], "%Y-%m-%d").date()
        except ValueError:
            setl_day = self.cfg.business_date

        def fen(name: str) -> int:
            d = _amt(info.get(name))
            return yuan_to_fen(d) if d is not None else 0

        st = Settlement(
            setl_id=str(info.get("setl_id", "")),
            mdtrt_id=str(info.get("mdtrt_id", "")),
            psn_no=str(info.get("psn_no", "")),
            insutype=str(info.get("insutype") or insutype),
            clr_type=str(info.get("clr_type", "")),
            msgid=msgid,
            infno=infno,
            medfee_fen=fen("medfee_sumamt"),
            fund_fen=fen("fund_pay_sumamt"),
            acct_fen=fen("acct_pay"),
            cash_fen=fen("psn_cash_pay"),
            setl_date=setl_day,
            amounts={n: v for n in SETL_AMOUNTS if (v := _amt(info.get(n))) is not None},
        )
        if not st.setl_id:
            return None
        try:
            self.books.add(st)
        except ValueError as exc:
            self.sess.fail(infno, "output.setlinfo.setl_id", str(exc), msgid)
            return None
        self.result.settlements += 1
        return st

    def _check_cancel(self, infno: str, output: Any, original: Settlement, msgid: str) -> None:
        s = self.sess
        info = output.get("setlinfo") if isinstance(output, Mapping) else None
        if not s.expect(isinstance(info, Mapping), infno, "output.setlinfo", "撤销未返回结算信息", msgid):
            return
        assert isinstance(info, Mapping)
        for name, want in (("medfee_sumamt", original.medfee_fen), ("fund_pay_sumamt", original.fund_fen)):
            got = _amt(info.get(name))
            s.expect(
                got is not None and abs(yuan_to_fen(got)) == want,
                infno,
                f"output.setlinfo.{name}",
                f"撤销金额 {got} 与原结算 {fen_to_yuan(want)} 不符 cancel amount ≠ original",
                msgid,
            )

    def _query_settlement(self, st: Settlement, visit: Visit) -> None:
        """5203 and 5204 for a settled visit: the server's records must match the HIS's."""
        s = self.sess
        ex = s.send("5203", {"data": {"psn_no": st.psn_no, "setl_id": st.setl_id, "mdtrt_id": st.mdtrt_id}})
        if ex.ok and isinstance(ex.output, Mapping):
            info = ex.output.get("setlinfo") or {}
            for name, want in (
                ("medfee_sumamt", st.medfee_fen),
                ("fund_pay_sumamt", st.fund_fen),
                ("acct_pay", st.acct_fen),
            ):
                got = _amt(info.get(name)) if isinstance(info, Mapping) else None
                s.expect(
                    got is not None and yuan_to_fen(got) == want,
                    "5203",
                    f"output.setlinfo.{name}",
                    f"查询结果 {got} 与结算时 {fen_to_yuan(want)} 不符 query ≠ settlement",
                    ex.msgid,
                )
        ex = s.send("5204", {"data": {"psn_no": st.psn_no, "setl_id": st.setl_id, "mdtrt_id": st.mdtrt_id}})
        if ex.ok:
            rows = ex.output if isinstance(ex.output, list) else []
            got_sns = {str(r.get("feedetl_sn")) for r in rows if isinstance(r, Mapping)}
            s.expect(
                got_sns == set(visit.lines),
                "5204",
                "output[].feedetl_sn",
                f"查询到的明细 {sorted(got_sns)} ≠ 结算的明细 {sorted(visit.lines)} details ≠ settled lines",
                ex.msgid,
            )

    # -- outpatient ------------------------------------------------------------------------------
    def outpatient(self, v: OutpatientVisit) -> bool:
        """One outpatient/pharmacy visit; True when its whole sequence ran."""
        s, cfg = self.sess, self.cfg
        s.context = f"门诊#{v.seq}"
        person = self.persons[v.person]
        who = self._person_info(person, v.credential)
        if who is None:
            return False
        psn_no, insutype, insuplc = who["psn_no"], who["insutype"], who["insuplc_admdvs"]
        start = self.day0 + timedelta(minutes=480 + (v.seq * 7) % 600)
        dept = DEPARTMENTS[(self.index + v.seq) % len(DEPARTMENTS)]
        ipt_otp_no = self._no("MZ", v.seq)
        med_type = cfg.pharmacy_med_type if v.pharmacy else cfg.outpatient_med_type
        ex = s.send(
            "2201",
            {
                "data": {
                    "psn_no": psn_no,
                    "insutype": insutype,
                    "begntime": _t(start),
                    "mdtrt_cert_type": who["mdtrt_cert_type"],
                    "mdtrt_cert_no": who["mdtrt_cert_no"],
                    "ipt_otp_no": ipt_otp_no,
                    "atddr_no": f"D{self.index:02d}0001",
                    "dr_name": "李医生",
                    "dept_code": dept[0],
                    "dept_name": dept[1],
                    "caty": dept[2],
                }
            },
            insuplc,
        )
        out = ex.output.get("data") if ex.ok and isinstance(ex.output, Mapping) else None
        mdtrt_id = str(out.get("mdtrt_id") or "") if isinstance(out, Mapping) else ""
        if not s.expect(bool(mdtrt_id), "2201", "output.data.mdtrt_id", "未返回就诊ID no mdtrt_id", ex.msgid):
            return False
        assert isinstance(out, Mapping)
        s.expect(out.get("psn_no") == psn_no, "2201", "output.data.psn_no", "人员编号不符", ex.msgid)
        s.expect(
            out.get("ipt_otp_no") == ipt_otp_no, "2201", "output.data.ipt_otp_no", "门诊号不符", ex.msgid
        )
        if v.register_cancel:
            ex = s.send(
                "2202", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": ipt_otp_no}}, insuplc
            )
            return ex.ok
        code, name = OUTPATIENT_DIAGNOSES[v.diagnosis % len(OUTPATIENT_DIAGNOSES)]
        ex = s.send(
            "2203",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                    "med_type": med_type,
                    "begntime": _t(start),
                    "main_cond_dscr": name,
                },
                "diseinfo": [
                    {
                        "diag_type": "1",
                        "diag_srt_no": 1,
                        "diag_code": code,
                        "diag_name": name,
                        "diag_dept": dept[1],
                        "dise_dor_no": f"D{self.index:02d}0001",
                        "dise_dor_name": "李医生",
                        "diag_time": _t(start + timedelta(minutes=5)),
                        "vali_flag": "1",
                    }
                ],
            },
            insuplc,
        )
        visit = Visit(mdtrt_id, psn_no, "outpatient")
        splits: dict[str, dict[str, Decimal]] = {}
        when = start + timedelta(minutes=10)
        if v.wrong_batch:
            wrong_no = f"{ipt_otp_no}W"
            rows = [self._fee_row(ln, mdtrt_id, psn_no, when, wrong_no, med_type) for ln in v.wrong_batch]
            ex = s.send("2204", {"feedetail": rows}, insuplc)
            if ex.ok:
                self._check_fee_result("2204", ex.output, rows, splits)
                for ln, row in zip(v.wrong_batch, rows, strict=True):
                    visit.add(
                        Line(
                            row["feedetl_sn"],
                            wrong_no,
                            row["med_list_codg"],
                            ln.cnt,
                            ln.pric,
                            yuan_to_fen(ln.amount),
                        )
                    )
            ex = s.send(
                "2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": wrong_no, "psn_no": psn_no}}, insuplc
            )
            if ex.ok:
                visit.cancel_batch(wrong_no)
                for ln in v.wrong_batch:
                    splits.pop(f"{ln.n:04d}", None)
        chrg_bchno = f"{ipt_otp_no}B"
        for batch in v.batches:
            rows = [self._fee_row(ln, mdtrt_id, psn_no, when, chrg_bchno, med_type) for ln in batch]
            ex = s.send("2204", {"feedetail": rows}, insuplc)
            if not ex.ok:
                return False
            self._check_fee_result("2204", ex.output, rows, splits)
            for ln, row in zip(batch, rows, strict=True):
                visit.add(
                    Line(
                        row["feedetl_sn"],
                        chrg_bchno,
                        row["med_list_codg"],
                        ln.cnt,
                        ln.pric,
                        yuan_to_fen(ln.amount),
                    )
                )
        expected = visit.total_fen(chrg_bchno)
        split_sums = self._split_sums(visit, splits)
        base = {
            "psn_no": psn_no,
            "mdtrt_cert_type": who["mdtrt_cert_type"],
            "mdtrt_cert_no": who["mdtrt_cert_no"],
            "med_type": med_type,
            "medfee_sumamt": fen_to_yuan(expected),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": chrg_bchno,
            "insutype": insutype,
            "acct_used_flag": "1" if v.use_account else "0",
        }
        ex = s.send("2206", {"data": base}, insuplc)
        if not ex.ok:
            return False
        pre = self._check_settle(
            "2206", ex.output, ex.msgid, expected, mdtrt_id, psn_no, split_sums, final=False
        )
        if pre is None:
            return False
        settle_in = dict(base, invono="")
        for name in SETL_SPLIT:
            settle_in[name] = _amt(pre.get(name)) or Decimal("0.00")
        if v.reverse_after_timeout:
            lost = s.send("2207", {"data": settle_in}, insuplc)  # the answer is treated as lost (timeout)
            rev = s.send(
                "2601", {"data": {"psn_no": psn_no, "omsgid": lost.msgid, "oinfno": "2207"}}, insuplc
            )
            s.expect(rev.ok, "2601", "infcode", "冲正失败 the reversal failed", rev.msgid)
        ex = s.send("2207", {"data": settle_in}, insuplc)
        if not ex.ok:
            return False
        info = self._check_settle(
            "2207", ex.output, ex.msgid, expected, mdtrt_id, psn_no, split_sums, final=True
        )
        if info is None:
            return False
        self._same_amounts("2207", pre, info, ex.msgid)
        st = self._record("2207", info, ex.msgid, insutype)
        if st is not None and v.seq % 10 == 3:
            self._query_settlement(st, visit)
        if st is not None and v.cancel_settlement:
            cx = s.send(
                "2208", {"data": {"setl_id": st.setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}, insuplc
            )
            if cx.ok:
                self._check_cancel("2208", cx.output, st, cx.msgid)
                self.books.mark(st.setl_id, "cancelled")
        return True

    def _split_sums(
        self, visit: Visit, splits: Mapping[str, Mapping[str, Decimal]]
    ) -> dict[str, Decimal] | None:
        """Σ of the per-line splits over the live lines, or None when some line came back without one."""
        if not visit.lines or any(sn not in splits for sn in visit.lines):
            return None
        return {n: sum((splits[sn][n] for sn in visit.lines), Decimal("0.00")) for n in SPLIT_FIELDS}

    # -- inpatient -------------------------------------------------------------------------------
    def inpatient(self, st_plan: InpatientStay) -> bool:
        """One inpatient stay; True when its whole sequence ran."""
        s, cfg = self.sess, self.cfg
        s.context = f"住院#{st_plan.seq}"
        person = self.persons[st_plan.person]
        who = self._person_info(person, st_plan.credential)
        if who is None:
            return False
        psn_no, insutype, insuplc = who["psn_no"], who["insutype"], who["insuplc_admdvs"]
        admit = self.day0 - timedelta(days=st_plan.days) + timedelta(hours=9, minutes=st_plan.seq % 50)
        discharge = self.day0 + timedelta(hours=10, minutes=st_plan.seq % 50)
        dept = DEPARTMENTS[(self.index + st_plan.seq) % len(DEPARTMENTS)]
        code, name = INPATIENT_DIAGNOSES[st_plan.diagnosis % len(INPATIENT_DIAGNOSES)]
        ipt_no = self._no("ZY", st_plan.seq)
        med_type = cfg.inpatient_med_type
        doctor = (f"D{self.index:02d}0002", "王医生")

        def diseinfo(mdtrt_id: str | None, when: datetime) -> list[dict[str, Any]]:
            row: dict[str, Any] = {
                "psn_no": psn_no,
                "diag_type": "1",
                "maindiag_flag": "1",
                "diag_srt_no": 1,
                "diag_code": code,
                "diag_name": name,
                "diag_dept": dept[1],
                "dise_dor_no": doctor[0],
                "dise_dor_name": doctor[1],
                "diag_time": _t(when),
            }
            if mdtrt_id is not None:
                row["mdtrt_id"] = mdtrt_id
            return [row]

        admission = {
            "psn_no": psn_no,
            "insutype": insutype,
            "begntime": _t(admit),
            "mdtrt_cert_type": who["mdtrt_cert_type"],
            "mdtrt_cert_no": who["mdtrt_cert_no"],
            "med_type": med_type,
            "ipt_no": ipt_no,
            "atddr_no": doctor[0],
            "chfpdr_name": doctor[1],
            "adm_diag_dscr": name,
            "adm_dept_codg": dept[0],
            "adm_dept_name": dept[1],
            "adm_bed": f"{st_plan.seq % 40 + 1}床",
            "dscg_maindiag_code": code,
            "dscg_maindiag_name": name,
        }
        if cfg.treatment_check:
            chk = s.send(
                "2001",
                {
                    "data": {
                        "psn_no": psn_no,
                        "insutype": insutype,
                        "fixmedins_code": self.inst.fixmedins_code,
                        "med_type": med_type,
                        "begntime": _t(admit),
                    }
                },
                insuplc,
            )
            rows = chk.output.get("trtinfo") if chk.ok and isinstance(chk.output, Mapping) else None
            s.expect(
                isinstance(rows, list), "2001", "output.trtinfo", "未返回待遇检查结果 no trtinfo", chk.msgid
            )
        ex = s.send("2401", {"mdtrtinfo": admission, "diseinfo": diseinfo(None, admit)}, insuplc)
        out = ex.output.get("result") if ex.ok and isinstance(ex.output, Mapping) else None
        mdtrt_id = str(out.get("mdtrt_id") or "") if isinstance(out, Mapping) else ""
        if not s.expect(
            bool(mdtrt_id), "2401", "output.result.mdtrt_id", "未返回就诊ID no mdtrt_id", ex.msgid
        ):
            return False
        if st_plan.admit_cancel:
            ex = s.send("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}, insuplc)
            return ex.ok
        change = {k: v for k, v in admission.items() if k not in ("insutype", "mdtrt_cert_no", "ipt_no")}
        change.update(mdtrt_id=mdtrt_id, ipt_otp_no=ipt_no, adm_bed=f"{st_plan.seq % 40 + 41}床")
        s.send(
            "2403", {"adminfo": change, "diseinfo": diseinfo(mdtrt_id, admit + timedelta(hours=2))}, insuplc
        )
        visit = Visit(mdtrt_id, psn_no, "inpatient")
        splits: dict[str, dict[str, Decimal]] = {}
        for day, batch in enumerate(st_plan.uploads):
            when = admit + timedelta(days=day, hours=1)
            rows = [self._fee_row(ln, mdtrt_id, psn_no, when, None, med_type) for ln in batch]
            ex = s.send("2301", {"feedetail": rows}, insuplc)
            if not ex.ok:
                return False
            self._check_fee_result("2301", ex.output, rows, splits)
            for ln, row in zip(batch, rows, strict=True):
                visit.add(
                    Line(row["feedetl_sn"], "", row["med_list_codg"], ln.cnt, ln.pric, yuan_to_fen(ln.amount))
                )
        if st_plan.correction:
            sn = f"{st_plan.correction:04d}"
            ex = s.send("2302", {"data": {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}, insuplc)
            if ex.ok:
                visit.cancel_line(sn)
                splits.pop(sn, None)
        discharge_in = {
            "mdtrt_id": mdtrt_id,
            "psn_no": psn_no,
            "insutype": insutype,
            "endtime": _t(discharge),
            "dscg_dept_codg": dept[0],
            "dscg_dept_name": dept[1],
            "dscg_way": "1",
        }
        ex = s.send("2402", {"dscginfo": discharge_in, "diseinfo": diseinfo(None, discharge)}, insuplc)
        if not ex.ok:
            return False
        if st_plan.discharge_cancel and st_plan.late_line is not None:
            ex = s.send("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}, insuplc)
            if ex.ok:
                ln = st_plan.late_line
                rows = [
                    self._fee_row(ln, mdtrt_id, psn_no, discharge - timedelta(minutes=30), None, med_type)
                ]
                ex = s.send("2301", {"feedetail": rows}, insuplc)
                if ex.ok:
                    self._check_fee_result("2301", ex.output, rows, splits)
                    visit.add(
                        Line(
                            rows[0]["feedetl_sn"],
                            "",
                            rows[0]["med_list_codg"],
                            ln.cnt,
                            ln.pric,
                            yuan_to_fen(ln.amount),
                        )
                    )
                ex = s.send(
                    "2402", {"dscginfo": discharge_in, "diseinfo": diseinfo(None, discharge)}, insuplc
                )
                if not ex.ok:
                    return False
        expected = visit.total_fen()
        split_sums = self._split_sums(visit, splits)
        zero = Decimal("0.00")
        settle_in = {
            "psn_no": psn_no,
            "mdtrt_cert_type": who["mdtrt_cert_type"],
            "mdtrt_cert_no": who["mdtrt_cert_no"],
            "medfee_sumamt": fen_to_yuan(expected),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "insutype": insutype,
            "acct_used_flag": "1" if st_plan.use_account else "0",
            "invono": "",
            "mid_setl_flag": "0",
            "fulamt_ownpay_amt": split_sums["fulamt_ownpay_amt"] if split_sums else zero,
            "overlmt_selfpay": split_sums["overlmt_amt"] if split_sums else zero,
            "preselfpay_amt": split_sums["preselfpay_amt"] if split_sums else zero,
            "inscp_scp_amt": split_sums["inscp_scp_amt"] if split_sums else zero,
            "dscg_time": cfg.business_date.isoformat(),
        }
        ex = s.send("2303", {"data": settle_in}, insuplc)
        if not ex.ok:
            return False
        pre = self._check_settle(
            "2303", ex.output, ex.msgid, expected, mdtrt_id, psn_no, split_sums, final=False
        )
        ex = s.send("2304", {"data": settle_in}, insuplc)
        if not ex.ok:
            return False
        info = self._check_settle(
            "2304", ex.output, ex.msgid, expected, mdtrt_id, psn_no, split_sums, final=True
        )
        if info is None:
            return False
        if pre is not None:
            self._same_amounts("2304", pre, info, ex.msgid)
        st = self._record("2304", info, ex.msgid, insutype)
        if st is not None and st_plan.seq % 3 == 0:
            self._query_settlement(st, visit)
        if st is not None and st_plan.settle_cancel:
            cx = s.send(
                "2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": st.setl_id, "psn_no": psn_no}}, insuplc
            )
            if cx.ok:
                self._check_cancel("2305", cx.output, st, cx.msgid)
                self.books.mark(st.setl_id, "cancelled")
        return True

    # -- end of day ------------------------------------------------------------------------------
    def reconcile(self) -> None:
        """3201 per 险种 × 清算类别 (and a deliberately wrong one), 3202 through 9101/9102, optional 3203."""
        s, cfg = self.sess, self.cfg
        s.context = "日终"
        period = self.books.period()
        if period is None:
            return
        begin, end = (d.isoformat() for d in period)
        groups = self.books.totals()
        for (insutype, clr_type), tot in sorted(groups.items()):
            rslt = self._stmt_3201(insutype, clr_type, begin, end, tot)
            s.expect(
                rslt == "0",
                "3201",
                "output.stmtinfo.stmt_rslt",
                f"{insutype}/{clr_type} 对总账不平 ({rslt}) totals do not match",
            )
        if groups:
            (insutype, clr_type), tot = sorted(groups.items())[0]
            wrong = Totals(tot.medfee_fen, tot.fund_fen, tot.acct_fen, tot.cash_fen, tot.count + 1)
            rslt = self._stmt_3201(insutype, clr_type, begin, end, wrong)
            s.expect(
                rslt == "1",
                "3201",
                "output.stmtinfo.stmt_rslt",
                f"笔数多报 1 笔仍对平 ({rslt}) a wrong count must not reconcile",
            )
        by_clr = self.books.totals(("clr_type",))
        for (clr_type,), tot in sorted(by_clr.items()):
            self._detail_3202(clr_type, begin, end, tot)
        if cfg.clearing:
            self._clearing_3203(begin, end)

    def _stmt_3201(self, insutype: str, clr_type: str, begin: str, end: str, tot: Totals) -> str | None:
        data: dict[str, Any] = {
            "insutype": insutype,
            "clr_type": clr_type,
            "setl_optins": self.inst.optins,
            "stmt_begndate": begin,
            "stmt_enddate": end,
            "medfee_sumamt": fen_to_yuan(tot.medfee_fen),
            "fund_pay_sumamt": fen_to_yuan(tot.fund_fen),
            "acct_pay": fen_to_yuan(tot.acct_fen),
            "fixmedins_setl_cnt": tot.count,
        }
        if self.cfg.refd_setl_flag is not None:
            data["refd_setl_flag"] = self.cfg.refd_setl_flag
        ex = self.sess.send("3201", {"data": data})
        info = ex.output.get("stmtinfo") if ex.ok and isinstance(ex.output, Mapping) else None
        return str(info.get("stmt_rslt")) if isinstance(info, Mapping) else None

    def _detail_3202(self, clr_type: str, begin: str, end: str, tot: Totals) -> None:
        s = self.sess
        rows = self.books.detail_rows(clr_type)
        stem = f"{self.inst.fixmedins_code}_{self.cfg.run_id}_{clr_type}_3202"
        data = zip_text(f"{stem}.txt", "".join("\t".join(r) + "\n" for r in rows))
        ex = s.send(
            "9101",
            {
                "fsUploadIn": {
                    "in": base64.b64encode(data).decode("ascii"),
                    "filename": f"{stem}.zip",
                    "fixmedins_code": self.inst.fixmedins_code,
                }
            },
        )
        qury = str(ex.output.get("file_qury_no") or "") if ex.ok and isinstance(ex.output, Mapping) else ""
        if not s.expect(
            bool(qury), "9101", "output.file_qury_no", "上传未返回文件查询号 no file_qury_no", ex.msgid
        ):
            return
        detail: dict[str, Any] = {
            "setl_optins": self.inst.optins,
            "file_qury_no": qury,
            "stmt_begndate": begin,
            "stmt_enddate": end,
            "medfee_sumamt": fen_to_yuan(tot.medfee_fen),
            "fund_pay_sumamt": fen_to_yuan(tot.fund_fen),
            "cash_payamt": fen_to_yuan(tot.cash_fen),
            "fixmedins_setl_cnt": tot.count,
            "clr_type": clr_type,
        }
        if self.cfg.refd_setl_flag is not None:
            detail["refd_setl_flag"] = self.cfg.refd_setl_flag
        ex = s.send("3202", {"data": detail})
        info = ex.output.get("fileinfo") if ex.ok and isinstance(ex.output, Mapping) else None
        if not isinstance(info, Mapping) or not info.get("file_qury_no"):
            return
        dl = s.send(
            "9102",
            {
                "fsDownloadIn": {
                    "file_qury_no": str(info["file_qury_no"]),
                    "filename": str(info.get("filename") or ""),
                    "fixmedins_code": self.inst.fixmedins_code,
                }
            },
        )
        if not dl.ok:
            return
        raw = file_bytes(dl.output)
        if not s.expect(raw is not None, "9102", "output", "无法取得对账结果文件 no result file", dl.msgid):
            return
        assert raw is not None
        self._check_result_file(unzip_text(raw), {r[0] for r in rows}, dl.msgid)

    def _check_result_file(self, text: str, known: set[str], msgid: str) -> None:
        s = self.sess
        tx = s.spec.tx("3202")
        node = tx.files["result_row"]
        names = [f.name for f in node.fields]
        for i, line in enumerate(ln for ln in text.splitlines() if ln.strip()):
            cells = line.split("\t") if "\t" in line else line.split(",")
            if cells[0].strip() == "psn_no":
                continue  # header row
            row = dict(zip(names, (c.strip() for c in cells), strict=False))
            for p in check_fields(node.fields, row, f"3202.result[{i}]", s.spec.codes):
                s.fail("3202", p.path, p.reason, msgid)
            s.expect(
                row.get("stmt_rslt") == "0", "3202", f"3202.result[{i}].stmt_rslt", f"明细不平: {line}", msgid
            )
            setl_id = row.get("setl_id", "")
            s.expect(
                not setl_id or setl_id in known,
                "3202",
                f"3202.result[{i}].setl_id",
                f"结果文件中有本机构不认识的结算 {setl_id} unknown settlement in the result",
                msgid,
            )

    def _clearing_3203(self, begin: str, end: str) -> None:
        for (clr_type,), tot in sorted(self.books.totals(("clr_type",)).items()):
            active = [st for st in self.books.active() if st.clr_type == clr_type]
            own = sum(
                yuan_to_fen(st.amounts.get("fulamt_ownpay_amt", Decimal(0)))
                + yuan_to_fen(st.amounts.get("overlmt_selfpay", Decimal(0)))
                for st in active
            )
            ex = self.sess.send(
                "3203",
                {
                    "data": {
                        "clr_type": clr_type,
                        "clr_way": "1",
                        "setlym": begin[:4] + begin[5:7],
                        "psntime": tot.count,
                        "medfee_sumamt": fen_to_yuan(tot.medfee_fen),
                        "med_sumfee": fen_to_yuan(tot.medfee_fen - own),
                        "fund_appy_sum": fen_to_yuan(tot.fund_fen),
                        "cash_payamt": fen_to_yuan(tot.cash_fen),
                        "acct_pay": fen_to_yuan(tot.acct_fen),
                        "begndate": begin,
                        "enddate": end,
                    }
                },
            )
            res = ex.output.get("result") if ex.ok and isinstance(ex.output, Mapping) else None
            self.sess.expect(
                isinstance(res, Mapping) and bool(res.get("clr_appy_evt_id")),
                "3203",
                "output.result.clr_appy_evt_id",
                "清算申请未返回事件ID no clr_appy_evt_id",
                ex.msgid,
            )

    # -- the day ---------------------------------------------------------------------------------
    def run(self, plan: HospitalPlan) -> HospitalResult:
        """Play the plan: 9001, visits, stays, 5206, reconciliation, 9002."""
        s, r = self.sess, self.result
        t0 = time.perf_counter()
        self._cpu0 = time.thread_time()
        r.visits_planned = len(plan.outpatients) + len(plan.inpatients)
        try:
            if self.cfg.login is not None:
                path, user, password = self.cfg.login
                # one login per hospital: "{fixmedins_code}" in the user name is this hospital's code
                s.client.login(path, user.replace("{fixmedins_code}", self.inst.fixmedins_code), password)
            s.context = "签到"
            ex = s.send(
                "9001", {"signIn": {"opter_no": s.operator.opter, "mac": s.operator.mac, "ip": s.operator.ip}}
            )
            sign = ex.output.get("signinoutb") if ex.ok and isinstance(ex.output, Mapping) else None
            if not isinstance(sign, Mapping) or not sign.get("sign_no"):
                s.fail("9001", "output.signinoutb.sign_no", "签到失败，当日业务无法进行 sign-in failed")
                return self._finish(t0)
            s.sign_no = str(sign["sign_no"])
            for v in plan.outpatients:
                r.visits_done += self._guard(self.outpatient, v)
            for st in plan.inpatients:
                r.visits_done += self._guard(self.inpatient, st)
            if self.books.active():
                s.context = "查询"
                first = self.books.active()[0]
                ex = s.send(
                    "5206", {"data": {"psn_no": first.psn_no, "cum_ym": first.setl_date.strftime("%Y%m")}}
                )
            if self.cfg.reconcile:
                self.reconcile()
            s.context = "签退"
            s.send("9002", {"signOut": {"sign_no": s.sign_no, "opter_no": s.operator.opter}})
        finally:
            s.client.close()
        return self._finish(t0)

    def _guard(self, fn: Any, item: Any) -> int:
        try:
            return 1 if fn(item) else 0
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a malformed answer
            self.sess.fail("-", "exception", f"处理应答时出错 {type(exc).__name__}: {exc}")
            return 0

    def _finish(self, t0: float) -> HospitalResult:
        r, s = self.result, self.sess
        r.elapsed_s = time.perf_counter() - t0
        r.cpu_s = time.thread_time() - self._cpu0
        r.failures, r.latencies, r.sent = list(s.failures), dict(s.latencies), s.sent
        return r


def run_hospital(cfg: DayConfig, index: int) -> HospitalResult:
    """Plan and play hospital ``index`` of the day (the unit a thread or process runs)."""
    spec = load_spec()
    if cfg.codes_overlay:
        spec = spec.with_codes(cfg.codes_overlay)
    persons = partition(cfg.persons, len(cfg.institutions))[index] or list(cfg.persons)
    plan = make_plan(
        cfg.seed,
        index,
        cfg.visits,
        len(persons),
        cfg.items,
        [len(p.credentials()) for p in persons],
        cfg.rates,
        diagnoses=len(OUTPATIENT_DIAGNOSES) * len(INPATIENT_DIAGNOSES),
    )
    return Hospital(cfg, index, persons, spec).run(plan)


def run_day(cfg: DayConfig, mode: str = "thread") -> DayResult:
    """All hospitals in parallel (threads or processes); wall time covers the whole day."""
    n = len(cfg.institutions)
    t0 = time.perf_counter()
    pool: Any = ProcessPoolExecutor(max_workers=n) if mode == "process" else ThreadPoolExecutor(max_workers=n)
    with pool:
        results = list(pool.map(run_hospital, [cfg] * n, range(n)))
    return DayResult(results, time.perf_counter() - t0)
