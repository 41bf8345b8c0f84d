"""Edges of the settlement capability: visit JSON in, 2207-shaped JSON out.

Input amounts are 元 with at most two decimals (the national ``16,2``), given as JSON numbers or
strings; they are parsed as ``Decimal`` (never float) and held as fen.  ``cnt`` has at most four
decimals.  Every problem raises :class:`SettlementError` naming the field path.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from yibao import fields
from yibao.errors import FieldError
from yibao.money import QTY_ONE, fen_to_yuan, price_times_qty, ratio_to_decimal
from yibao.policy import diagnoses as dx
from yibao.settlement.model import (
    MONEY_FIELDS,
    Line,
    LineSplit,
    Settlement,
    SettlementError,
    Visit,
)

LOCALITY_VALUES = ("local", "remote_longterm", "remote_filed", "remote_unfiled")
# ICD-10 (医保版 / WHO / -CM): a letter, two digits, then up to five more characters, with or without the dot
ICD10 = dx.ICD10


def loads(text: str) -> Any:
    """JSON with decimals kept exact."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SettlementError(
            "<json>", f"JSON 格式错误 not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except ValueError as exc:  # an integer of thousands of digits (Python refuses to convert it)
        raise SettlementError(
            "<json>", f"数值过长 a number is too long ({str(exc)[:60]})", "too_wide"
        ) from exc
    except RecursionError as exc:
        raise SettlementError("<json>", "JSON 嵌套过深 nested too deeply", "too_deep") from exc


def _req(d: dict[str, Any], key: str, path: str) -> Any:
    if key not in d or d[key] is None or d[key] == "":
        raise SettlementError(f"{path}{key}", "必填 is required", "missing")
    return d[key]


def _strict(exc: fields.InputError) -> SettlementError:
    """The field parsers' refusal as this module's error (same field, reason and code)."""
    return SettlementError(exc.field, exc.reason, exc.code)


def _text(
    d: dict[str, Any], key: str, path: str, required: bool = True, default: str = "", max_len: int = 30
) -> str:
    try:
        return fields.parse_text(
            d.get(key), f"{path}{key}", max_len=max_len, required=required, default=default
        )
    except fields.InputError as exc:
        raise _strict(exc) from None


def _date(d: dict[str, Any], key: str, path: str) -> dt.date:
    try:
        return fields.parse_date(d.get(key), f"{path}{key}")
    except fields.InputError as exc:
        raise _strict(exc) from None


def _money(d: dict[str, Any], key: str, path: str) -> int:
    try:
        return fields.parse_money(d.get(key), f"{path}{key}")
    except fields.InputError as exc:
        raise _strict(exc) from None


def _flag(d: dict[str, Any], key: str, default: bool) -> bool:
    try:
        return fields.parse_flag(d.get(key), key, default=default)
    except fields.InputError as exc:
        raise _strict(exc) from None


def _qty(d: dict[str, Any], key: str, path: str) -> int:
    try:
        return int(
            fields.parse_decimal(d.get(key), f"{path}{key}", digits=16, scale=4, positive=True) * QTY_ONE
        )
    except fields.InputError as exc:
        raise _strict(exc) from None


def _prd_days(d: dict[str, Any], path: str) -> int | None:
    """``prd_days`` (days the prescription is written for): optional; a whole number of days (``7``,
    ``"7"``, ``"7.00"``) from 0 to 3660.  0 means not stated, as an empty value does."""
    raw = d.get("prd_days")
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    try:
        days = Decimal(str(raw).strip())
    except InvalidOperation:
        raise SettlementError(f"{path}prd_days", f"天数须为数字 {raw!r} is not a number of days") from None
    if not days.is_finite() or days != days.to_integral_value():
        raise SettlementError(f"{path}prd_days", f"天数须为整数 {raw!r} is not a whole number of days")
    if days < 0 or days > 3_660:
        raise SettlementError(f"{path}prd_days", f"天数须在 0 到 3660 之间 {raw!r} is outside 0..3660 days")
    return int(days) or None


def parse_visit(raw: Any) -> Visit:
    """Build a :class:`Visit` from its JSON form (see examples/visit-inpatient.json)."""
    if not isinstance(raw, dict):
        raise SettlementError("<visit>", "须为 JSON 对象 must be a JSON object")
    lines_raw = _req(raw, "feedetail", "")
    if not isinstance(lines_raw, list) or not lines_raw:
        raise SettlementError("feedetail", "费用明细须为非空列表 must be a non-empty list of fee lines")
    lines: list[Line] = []
    seen: set[str] = set()
    for i, lr in enumerate(lines_raw):
        lp = f"feedetail[{i}]."
        if not isinstance(lr, dict):
            raise SettlementError(f"feedetail[{i}]", "费用明细须为对象 must be an object")
        sn = _text(lr, "feedetl_sn", lp, required=False, default=str(i + 1))
        if sn in seen:
            raise SettlementError(f"{lp}feedetl_sn", f"费用明细流水号重复 duplicate fee line serial {sn!r}")
        seen.add(sn)
        qty = _qty(lr, "cnt", lp)
        price = _money(lr, "pric", lp)
        amount = _money(lr, "det_item_fee_sumamt", lp)
        expected = price_times_qty(price, qty)
        if abs(expected - amount) > 1:
            raise SettlementError(
                f"{lp}det_item_fee_sumamt",
                f"明细金额不等于单价 × 数量 {fen_to_yuan(amount)} ≠ pric × cnt ({fen_to_yuan(expected)})",
                "bad_amount",
            )
        lines.append(
            Line(
                sn,
                _text(lr, "med_list_codg", lp, max_len=50),
                qty,
                price,
                amount,
                _prd_days(lr, lp),
                _text(lr, "bilg_dr_codg", lp, required=False) or None,
                # the day the item was given (2204 fee_ocur_time): per-day items (bed, nursing) are billed
                # once a day, and the audit tells a duplicate from the next day's line by it
                _date(lr, "fee_ocur_time", lp) if lr.get("fee_ocur_time") else None,
            )
        )
    begin = _date(raw, "begntime", "")
    end = _date(raw, "endtime", "") if raw.get("endtime") else begin
    if end < begin:
        raise SettlementError("endtime", f"结束时间早于开始时间 {end} is before begntime {begin}")
    for i, ln in enumerate(lines):  # a service day outside the visit would dodge the per-day audit rules
        if ln.fee_ocur_time is not None and not begin <= ln.fee_ocur_time <= end:
            raise SettlementError(
                f"feedetail[{i}].fee_ocur_time",
                f"费用发生日期 {ln.fee_ocur_time} 不在就诊期间 {begin}…{end} is outside the visit",
                "range",
            )
    locality = _text(raw, "locality", "", required=False, default="local")
    if locality not in LOCALITY_VALUES:
        raise SettlementError(
            "locality", f"就医地类型无效 {locality!r} is not one of {', '.join(LOCALITY_VALUES)}"
        )
    diagnoses = raw.get("diagnoses") or []
    if not isinstance(diagnoses, list) or not all(isinstance(x, str) for x in diagnoses):
        raise SettlementError("diagnoses", "应为 ICD-10 编码列表 must be a list of ICD-10 code strings")
    for k, code in enumerate(diagnoses):
        if not ICD10.fullmatch(code):
            raise SettlementError(
                f"diagnoses[{k}]", f"{code[:20]!r} 不是 ICD-10 编码 is not an ICD-10 code", "bad_code"
            )
        try:
            dx.check(code, f"diagnoses[{k}]")
        except FieldError as exc:
            raise SettlementError(exc.field, exc.reason, exc.code) from None
    return Visit(
        mdtrt_id=_text(raw, "mdtrt_id", ""),
        psn_no=_text(raw, "psn_no", ""),
        med_type=_text(raw, "med_type", ""),
        fixmedins_code=_text(raw, "fixmedins_code", ""),
        hosp_lv=_text(raw, "hosp_lv", ""),
        begin_date=begin,
        end_date=end,
        lines=tuple(lines),
        locality=locality,
        emergency=_flag(raw, "emergency", False),
        diagnoses=tuple(diagnoses),
        use_account=_flag(raw, "acct_used_flag", True),
        account_psn_no=_text(raw, "acct_psn_no", "", required=False) or None,
        bilg_dr_codg=_text(raw, "bilg_dr_codg", "", required=False) or None,
        accounting_date=_accounting_date(raw, begin, end),
    )


def _accounting_date(raw: dict[str, Any], begin: dt.date, end: dt.date) -> dt.date | None:
    """``accounting_date`` (a yibao extension the visit flow fills for a stay: the discharge day, whose year
    a region that settles by discharge counts the stay in): optional, within the visit."""
    if not raw.get("accounting_date"):
        return None
    day = _date(raw, "accounting_date", "")
    if not begin <= day <= end:
        raise SettlementError(
            "accounting_date", f"结算计入日期 {day} 不在就诊期间 {begin}…{end} is outside the visit", "range"
        )
    return day


def visit_to_json(v: Visit) -> dict[str, Any]:
    """The JSON form :func:`parse_visit` reads back to ``v`` (how a care region sends a visitor's visit,
    built from its uploaded lines, to the insured region)."""
    out: dict[str, Any] = {
        "mdtrt_id": v.mdtrt_id,
        "psn_no": v.psn_no,
        "med_type": v.med_type,
        "fixmedins_code": v.fixmedins_code,
        "hosp_lv": v.hosp_lv,
        "begntime": v.begin_date.isoformat(),
        "endtime": v.end_date.isoformat(),
        "locality": v.locality,
        "emergency": "1" if v.emergency else "0",
        "diagnoses": list(v.diagnoses),
        "acct_used_flag": "1" if v.use_account else "0",
        "feedetail": [
            {
                "feedetl_sn": ln.feedetl_sn,
                "med_list_codg": ln.code,
                "cnt": str(Decimal(ln.qty) / QTY_ONE),
                "pric": str(fen_to_yuan(ln.price)),
                "det_item_fee_sumamt": str(fen_to_yuan(ln.amount)),
                **({"prd_days": str(ln.prd_days)} if ln.prd_days is not None else {}),
                **({"bilg_dr_codg": ln.bilg_dr_codg} if ln.bilg_dr_codg else {}),
                **({"fee_ocur_time": ln.fee_ocur_time.isoformat()} if ln.fee_ocur_time else {}),
            }
            for ln in v.lines
        ],
    }
    if v.account_psn_no:
        out["acct_psn_no"] = v.account_psn_no
    if v.bilg_dr_codg:
        out["bilg_dr_codg"] = v.bilg_dr_codg
    if v.accounting_date is not None:
        out["accounting_date"] = v.accounting_date.isoformat()
    return out


def setlinfo(s: Settlement, setl_id: str | None = None) -> dict[str, Any]:
    """The national ``setlinfo`` object: money as 2-decimal yuan strings, the ratio as 4-decimal."""
    out: dict[str, Any] = {
        "setl_id": setl_id,
        "mdtrt_id": s.mdtrt_id,
        "psn_no": s.psn_no,
        "insutype": s.insutype,
        "psn_type": s.psn_type,
        "med_type": s.med_type,
        "insuplc_admdvs": s.admdvs,
        "policy_version": s.policy_version,
    }
    for f in MONEY_FIELDS:
        out[f] = str(fen_to_yuan(getattr(s, f)))
    out["pool_prop_selfpay"] = str(ratio_to_decimal(s.pool_prop_selfpay))
    out["acct_psn_no"] = s.account_psn_no
    if s.commercial_product is not None:  # yibao's own fields (一单制): not in the national 2207 output
        out["commercial_pay"] = str(fen_to_yuan(s.commercial_pay))
        out["commercial_product"] = s.commercial_product
    return out


def setldetail(s: Settlement) -> list[dict[str, Any]]:
    return [
        {
            "fund_pay_type": d.fund_pay_type,
            "fund_pay_type_name": d.fund_pay_type_name,
            "inscp_scp_amt": str(fen_to_yuan(d.inscp_scp_amt)),
            "crt_payb_lmt_amt": None if d.crt_payb_lmt_amt is None else str(fen_to_yuan(d.crt_payb_lmt_amt)),
            "fund_payamt": str(fen_to_yuan(d.fund_payamt)),
            "setl_proc_info": d.setl_proc_info,
        }
        for d in s.setldetail
    ]


def line_rows(splits: list[LineSplit]) -> list[dict[str, Any]]:
    y = fen_to_yuan
    return [
        {
            "feedetl_sn": sp.feedetl_sn,
            "med_list_codg": sp.code,
            "det_item_fee_sumamt": str(y(sp.amount)),
            "fulamt_ownpay_amt": str(y(sp.fulamt_ownpay_amt)),
            "overlmt_selfpay": str(y(sp.overlmt_selfpay)),
            "preselfpay_amt": str(y(sp.preselfpay_amt)),
            "inscp_scp_amt": str(y(sp.inscp_scp_amt)),
            "act_pay_dedc": str(y(sp.act_pay_dedc)),
            "fund_pay": {k: str(y(v)) for k, v in sp.fund_pay.items()},
            "acct_pay": str(y(sp.acct_pay)),
            "psn_cash_pay": str(y(sp.psn_cash_pay)),
            **({"commercial_pay": str(y(sp.commercial_pay))} if sp.commercial_pay else {}),
        }
        for sp in splits
    ]
