"""The visit lifecycle of the national interface, pure: a visit (outpatient 2201 or inpatient 2401), its
states, its fee lines uploaded in batches (2204 / 2301) with their split at upload, and the settlement
visit built from the lines when the hospital settles (2206/2207 by ``mdtrt_id`` + ``chrg_bchno``,
2303/2304 by ``mdtrt_id``).  No I/O: :mod:`yibao.encounter.store` keeps the records,
:mod:`yibao.usecases.encounter` runs the transactions.

States (《定点医药机构接口规范》 2201–2208, 2301–2305, 2401–2405):

* outpatient: ``registered`` → ``cancelled`` (2202, only while nothing is uploaded or settled);
  each charge batch settles on its own (lines carry their ``setl_id``).
* inpatient: ``admitted`` → ``discharged`` (2402) → back to ``admitted`` (2405, only when no settlement
  of the stay is in force); ``admitted`` → ``cancelled`` (2404, only with no live lines and no
  settlement).  Lines upload while admitted; the stay settles (2304) once discharged, or mid-stay
  (``mid_setl_flag`` 1, 中途结算) over the lines uploaded so far.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from yibao.errors import FieldError
from yibao.fields import InputError, parse_flag
from yibao.money import fen_to_yuan, ratio_to_decimal
from yibao.policy.catalogue import CatalogueItem
from yibao.settlement.engine import split_line
from yibao.settlement.model import Line, Visit

OUTPATIENT, INPATIENT = "outpatient", "inpatient"
REGISTERED, ADMITTED, DISCHARGED, CANCELLED = "registered", "admitted", "discharged", "cancelled"
LIVE = "live"
ALL_BATCHES = "0000"  # 2205 chrg_bchno / 2302 feedetl_sn "0000": every unsettled line

# 医疗收费项目类别 (med_chrgitm_type) and 目录类别 (list_type) of a catalogue item's kind, for the 2204/5204
# answers (national code tables 医疗收费项目类别 and 目录类别).
LIST_TYPE_OF_KIND = {"drug": "101", "service": "201", "material": "301"}


class EncounterError(FieldError):
    """A transaction the visit's state (or its records) does not allow; the field and the reason named."""


@dataclass(frozen=True)
class VisitRecord:
    """One visit or stay as stored."""

    mdtrt_id: str
    fixmedins_code: str
    psn_no: str
    insutype: str
    kind: str
    med_type: str
    ipt_otp_no: str
    hosp_lv: str
    mdtrt_cert_type: str
    begntime: str  # yyyy-MM-dd HH:mm:ss
    endtime: str | None
    status: str
    diagnoses: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def begin_date(self) -> dt.date:
        return dt.date.fromisoformat(self.begntime[:10])

    @property
    def end_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.endtime[:10]) if self.endtime else None


@dataclass(frozen=True)
class FeeLine:
    """An uploaded fee line with its split at upload (fen; ``qty`` is cnt × 10000)."""

    mdtrt_id: str
    feedetl_sn: str
    chrg_bchno: str
    med_list_codg: str
    medins_list_codg: str
    qty: int
    pric: int
    amount: int
    fee_ocur_time: str
    fulamt_ownpay_amt: int = 0
    overlmt_amt: int = 0
    preselfpay_amt: int = 0
    inscp_scp_amt: int = 0
    status: str = LIVE
    setl_id: str | None = None
    msgid: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def unsettled(self) -> bool:
        return self.status == LIVE and self.setl_id is None


def need(cond: bool, fld: str, zh: str, en: str, code: str = "state") -> None:
    """Raise :class:`EncounterError` unless ``cond``."""
    if not cond:
        raise EncounterError(fld, f"{zh} {en}", code)


def check_owner(v: VisitRecord, psn_no: str, fixmedins_code: str) -> None:
    """The visit named must be this person's and this institution's."""
    need(
        v.fixmedins_code == fixmedins_code,
        "input.data.mdtrt_id",
        f"就诊 {v.mdtrt_id} 不是本机构的就诊",
        "the visit is not at this institution",
        "not_found",
    )
    need(
        not psn_no or v.psn_no == psn_no,
        "input.data.psn_no",
        f"人员编号 {psn_no} 与就诊 {v.mdtrt_id} 的人员不符",
        "the person is not the visit's",
        "mismatch",
    )


def split(lines: Iterable[FeeLine], catalogue: dict[str, CatalogueItem]) -> list[FeeLine]:
    """Each line with its split at upload (the engine's own line rule); an unknown code is refused."""
    out = []
    for i, ln in enumerate(lines):
        item = catalogue.get(ln.med_list_codg)
        need(
            item is not None,
            f"input.feedetail[{i}].med_list_codg",
            f"医保目录中没有该项目编码 {ln.med_list_codg}",
            "unknown item code",
            "unknown_item",
        )
        assert item is not None
        full, over, pre, ins = split_line(item, ln.pric, ln.qty, ln.amount)
        out.append(
            replace(ln, fulamt_ownpay_amt=full, overlmt_amt=over, preselfpay_amt=pre, inscp_scp_amt=ins)
        )
    return out


def _qty_text(qty: int) -> str:
    return str(Decimal(qty) / 10_000) if qty % 10_000 else str(qty // 10_000)


def fee_result(ln: FeeLine, item: CatalogueItem | None) -> dict[str, Any]:
    """One row of the 2204/2301 ``result`` (and of 5204): the class (甲乙丙 chrgitm_lv), the price cap
    (pric_uplmt_amt), the pay-first share (selfpay_prop) and the split of the line."""
    y = fen_to_yuan
    cap = item.price_cap if item is not None else None
    return {
        "feedetl_sn": ln.feedetl_sn,
        "det_item_fee_sumamt": str(y(ln.amount)),
        "cnt": _qty_text(ln.qty),
        "pric": str(y(ln.pric)),
        "pric_uplmt_amt": str(y(cap if cap is not None else ln.pric)),
        "selfpay_prop": str(ratio_to_decimal(item.selfpay_prop)) if item is not None else "1.0000",
        "fulamt_ownpay_amt": str(y(ln.fulamt_ownpay_amt)),
        "overlmt_amt": str(y(ln.overlmt_amt)),
        "preselfpay_amt": str(y(ln.preselfpay_amt)),
        "inscp_scp_amt": str(y(ln.inscp_scp_amt)),
        "chrgitm_lv": item.cls if item is not None else "03",
        "med_chrgitm_type": item.category if item is not None else "",
        "lmt_used_flag": "1" if item is not None and item.indications else "0",
        "memo": "",
    }


def settle_lines(
    v: VisitRecord, lines: Sequence[FeeLine], chrg_bchno: str | None, *, mid_stay: bool = False
) -> list[FeeLine]:
    """The unsettled live lines a settlement takes: one charge batch (outpatient) or the whole stay so
    far (inpatient).  The visit's state must allow settling."""
    need(v.status != CANCELLED, "input.data.mdtrt_id", f"就诊 {v.mdtrt_id} 已撤销", "the visit was cancelled")
    if v.kind == INPATIENT:
        need(
            v.status == DISCHARGED or mid_stay,
            "input.data.mdtrt_id",
            f"住院 {v.mdtrt_id} 尚未办理出院（中途结算请传 mid_setl_flag=1）",
            "the stay is not discharged (mid-stay settlement: mid_setl_flag 1)",
        )
        take = [ln for ln in lines if ln.unsettled]
    else:
        take = [ln for ln in lines if ln.unsettled and ln.chrg_bchno == chrg_bchno]
    need(
        bool(take),
        "input.data.chrg_bchno" if v.kind == OUTPATIENT else "input.data.mdtrt_id",
        "没有可结算的费用明细（未上传或已结算）",
        "no unsettled fee lines to settle",
        "no_lines",
    )
    return take


def check_total(declared: int, lines: Sequence[FeeLine]) -> None:
    """``medfee_sumamt`` must equal the uploaded lines (医疗费总额与明细之和一致)."""
    total = sum(ln.amount for ln in lines)
    need(
        declared == total,
        "input.data.medfee_sumamt",
        f"医疗费总额 {fen_to_yuan(declared)} 与已上传明细之和 {fen_to_yuan(total)} 不一致",
        "medfee_sumamt differs from the uploaded lines",
        "mismatch",
    )


def emergency_flag(info: dict[str, Any], path: str = "input.data.emergency") -> bool:
    """异地急诊抢救 as the 2201 / 2401 said it (``emergency``, a 标志): kept with the visit, so that its
    settlement is treated as filed as the inline 2207's is."""
    try:
        return parse_flag(info.get("emergency"), path, default=False)
    except InputError as exc:
        raise EncounterError(exc.field, exc.reason, exc.code) from None


def to_visit(
    v: VisitRecord,
    lines: Sequence[FeeLine],
    *,
    use_account: bool,
    end: dt.date | None = None,
) -> Visit:
    """The settlement engine's visit for ``lines`` of ``v``.  An inpatient stay counts in the year of its
    discharge (``end``; 跨年度住院以出院日期所在年度结算)."""
    begin = v.begin_date
    last = end or v.end_date or begin
    last = max(last, begin)
    return Visit(
        mdtrt_id=v.mdtrt_id,
        psn_no=v.psn_no,
        med_type=v.med_type,
        fixmedins_code=v.fixmedins_code,
        hosp_lv=v.hosp_lv,
        begin_date=begin,
        end_date=last,
        lines=tuple(
            Line(
                ln.feedetl_sn,
                ln.med_list_codg,
                ln.qty,
                ln.pric,
                ln.amount,
                None,
                str(ln.info.get("bilg_dr_codg") or "") or None,
                _service_day(ln.fee_ocur_time),
            )
            for ln in lines
        ),
        diagnoses=v.diagnoses,
        use_account=use_account,
        accounting_date=last if v.kind == INPATIENT else None,
        emergency=emergency_flag(v.info),
    )


def clr_type(med_type: str) -> str:
    """清算类别 of a settlement by its 医疗类别: 21 住院 (2x, 52 生育住院), 41 定点药店购药, else 11 门诊
    (national 清算类别 and 医疗类别 code tables)."""
    if med_type[:1] == "2" or med_type == "52":
        return "21"
    return "41" if med_type == "41" else "11"


def _service_day(fee_ocur_time: str) -> dt.date | None:
    """The day of an uploaded line's ``fee_ocur_time`` (``yyyy-MM-dd HH:mm:ss``, checked at upload)."""
    try:
        return dt.date.fromisoformat(fee_ocur_time[:10]) if fee_ocur_time else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------- reconciliation
RECON_FIGURES = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")


@dataclass(frozen=True)
class Figures:
    """What a reconciliation compares: 医疗费总额, 基金支付, 个人账户支付 (fen) and 结算笔数."""

    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    fixmedins_setl_cnt: int


@dataclass(frozen=True)
class Reconciliation:
    """One 3201 (总账对账) or 3202 (明细对账) outcome: the institution's figures against the ledger's over
    [begndate, enddate] (Beijing dates) for one 险种 and 清算类别 ("" = all), and, for 3202, the
    settlements whose rows did not match (either side) among ``rows_checked``."""

    infno: str
    msgid: str
    fixmedins_code: str
    begndate: str
    enddate: str
    insutype: str
    clr_type: str
    setl_optins: str
    hospital: Figures
    ledger: Figures
    rows_checked: int = 0
    unmatched: tuple[str, ...] = ()

    @property
    def differing(self) -> tuple[str, ...]:
        """The figures that differ (names of :data:`RECON_FIGURES`)."""
        return tuple(f for f in RECON_FIGURES if getattr(self.hospital, f) != getattr(self.ledger, f))

    @property
    def agreed(self) -> bool:
        """对账平: every figure equal and (3202) every row matched."""
        return not self.differing and not self.unmatched
