"""Check a message against the spec field by field, and a settlement result against its identities.

Pure functions: a message (already parsed JSON; numbers may be ``Decimal``, ``int`` or numeric strings)
goes in, a list of :class:`Problem` comes out — empty means the message conforms. Each problem names
the path of the field (``output.setlinfo.medfee_sumamt``, ``input.feedetail[2].cnt``) and the reason,
Chinese first then English.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hissim.spec import CodeTable, Field, Node, Spec

_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_STAMP17 = re.compile(r"^\d{17}$")

# 2208 in the spec tables (S1, S3) spells the cash field pdn_cash_pay; accept it for psn_cash_pay.
ALIASES: dict[str, tuple[str, ...]] = {"psn_cash_pay": ("pdn_cash_pay",)}

# Fund lines of a settlement result (setlinfo); fund_pay_sumamt is their sum.
FUND_FIELDS = (
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "hifdm_pay",
)


@dataclass(frozen=True)
class Problem:
    """One way a message departs from the spec."""

    path: str
    reason: str
    code: str  # missing | type | length | scale | code_table | format | identity | shape

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def to_decimal(value: Any) -> Decimal | None:
    """``value`` as a Decimal if it is a JSON number or a plain numeric string, else None (bool is not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        try:
            return Decimal(repr(value))
        except InvalidOperation:
            return None
    if isinstance(value, str) and _NUMERIC.match(value.strip()):
        return Decimal(value.strip())
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _check_num(f: Field, value: Any, path: str) -> list[Problem]:
    d = to_decimal(value)
    if d is None:
        return [Problem(path, f"应为数值型，收到 {value!r} expected a number", "type")]
    out: list[Problem] = []
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    decimals = max(0, -exp)
    if decimals > f.scale:
        # trailing zeros beyond the scale ("12.300" for 16,2) are harmless: compare the normalised value
        norm = d.normalize()
        nexp = norm.as_tuple().exponent
        assert isinstance(nexp, int)
        if max(0, -nexp) > f.scale:
            out.append(
                Problem(path, f"小数位数超过 {f.scale} 位: {value} more than {f.scale} decimals", "scale")
            )
    if f.length is not None:
        int_digits = len(str(abs(d).to_integral_value(rounding="ROUND_DOWN")).lstrip("0")) or 1
        allowed = f.length - f.scale
        if int_digits > allowed:
            out.append(
                Problem(
                    path, f"整数位数超过 {allowed} 位 ({f.length_text()}): {value} too many digits", "length"
                )
            )
    return out


def _valid_stamp(value: str, pattern: str) -> bool:
    """Whether ``value`` is a real date/time in one of the three layouts used here (faster than strptime)."""
    try:
        if pattern == "%Y-%m-%d %H:%M:%S":
            datetime(
                int(value[0:4]),
                int(value[5:7]),
                int(value[8:10]),
                int(value[11:13]),
                int(value[14:16]),
                int(value[17:19]),
            )
        elif pattern == "%Y-%m-%d":
            datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        elif pattern == "%Y%m%d%H%M%S":
            datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[8:10]),
                int(value[10:12]),
                int(value[12:14]),
            )
        else:
            datetime.strptime(value, pattern)
    except ValueError:
        return False
    return True


def _check_time(f: Field, value: Any, path: str) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(path, f"应为字符串形式的日期时间，收到 {value!r} expected a date string", "type")]
    if f.fmt == "yyyyMMddHHmmssSSS":
        ok = bool(_STAMP17.match(value)) and _valid_stamp(value[:14], "%Y%m%d%H%M%S")
        want = "yyyyMMddHHmmssSSS"
    elif f.type == "date":
        ok = bool(_DATE.match(value)) and _valid_stamp(value, "%Y-%m-%d")
        want = "yyyy-MM-dd"
    else:
        ok = bool(_DATETIME.match(value)) and _valid_stamp(value, "%Y-%m-%d %H:%M:%S")
        want = "yyyy-MM-dd HH:mm:ss"
    if ok:
        return []
    return [Problem(path, f"格式应为 {want}，收到 {value!r} expected {want}", "format")]


def _check_str(f: Field, value: Any, path: str, codes: Mapping[str, CodeTable]) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(path, f"应为字符型，收到 {type(value).__name__} {value!r} expected a string", "type")]
    out: list[Problem] = []
    if f.length is not None and len(value) > f.length:
        out.append(Problem(path, f"长度 {len(value)} 超过 {f.length} length exceeds {f.length}", "length"))
    if f.fmt == "yyyyMMddHHmmssSSS":
        out.extend(_check_time(f, value, path))
    if f.code:
        table = codes[f.code]
        if not table.accepts(value):
            kind = "码表" if table.closed else "码表格式"
            out.append(
                Problem(
                    path,
                    f"{value!r} 不在{kind} {f.code}（{table.zh}）中 not a valid {f.code} code",
                    "code_table",
                )
            )
    return out


def _check_bytes(value: Any, path: str) -> list[Problem]:
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
        return []
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return [Problem(path, "字节数组应为 base64 字符串 bytes must be base64", "format")]
        return []
    return [Problem(path, "应为字节数组（base64 字符串或字节列表） expected bytes", "type")]


def check_value(f: Field, value: Any, path: str, codes: Mapping[str, CodeTable]) -> list[Problem]:
    """Problems of one field value (presence is checked by the caller)."""
    if f.type == "num":
        problems = _check_num(f, value, path)
        d = to_decimal(value)
        if f.code and d is not None and not problems and not codes[f.code].accepts(str(d.normalize())):
            problems.append(
                Problem(path, f"{value!r} 不在码表 {f.code} 中 not a valid {f.code} code", "code_table")
            )
        return problems
    if f.type in ("date", "datetime"):
        return _check_time(f, value, path)
    if f.type == "bytes":
        return _check_bytes(value, path)
    if f.type == "object":
        if isinstance(value, (dict, list)):
            return []
        return [Problem(path, f"应为对象，收到 {type(value).__name__} expected an object", "type")]
    return _check_str(f, value, path, codes)


def _lookup(obj: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    if name in obj:
        return True, obj[name]
    for alias in ALIASES.get(name, ()):
        if alias in obj:
            return True, obj[alias]
    return False, None


def check_fields(
    fields: Sequence[Field], obj: Any, path: str, codes: Mapping[str, CodeTable]
) -> list[Problem]:
    """Check one object against a field table: required, type, length, scale, format, code table."""
    if not isinstance(obj, Mapping):
        return [Problem(path, f"应为对象，收到 {type(obj).__name__} expected an object", "shape")]
    out: list[Problem] = []
    for f in fields:
        present, value = _lookup(obj, f.name)
        if not present or _blank(value):
            if f.required:
                out.append(
                    Problem(f"{path}.{f.name}", f"必填字段缺失（{f.zh}） required field missing", "missing")
                )
            continue
        if not _plainly_valid(f, value, codes):
            out.extend(check_value(f, value, f"{path}.{f.name}", codes))
    return out


def _plainly_valid(f: Field, value: Any, codes: Mapping[str, CodeTable]) -> bool:
    """True when :func:`check_value` would find nothing, decided on the commonest shapes without building
    the field's path or a Decimal: a string within its length (no time layout; its code table accepts it)
    and an integer within its digits (no code table).  False means "check in full", not "invalid"."""
    if f.type == "str":
        return (
            isinstance(value, str)
            and (f.length is None or len(value) <= f.length)
            and f.fmt != "yyyyMMddHHmmssSSS"
            and (not f.code or codes[f.code].accepts(value))
        )
    if f.type == "num" and type(value) is int and not f.code:
        return f.length is None or (len(str(abs(value)).lstrip("0")) or 1) <= f.length - f.scale
    return False


def check_node(node: Node, container: Any, base: str, codes: Mapping[str, CodeTable]) -> list[Problem]:
    """Check one node (object or list of objects) found in ``container`` (or the container itself for ``_root``)."""
    if node.name == "_root":
        value, path, present = container, base, container is not None
    else:
        if not isinstance(container, Mapping):
            return [Problem(base, "应为对象 expected an object", "shape")]
        present = node.name in container and container[node.name] is not None
        value, path = container.get(node.name), f"{base}.{node.name}"
    if not present:
        if any(f.required for f in node.fields):
            return [Problem(path, "节点缺失 node missing", "missing")]
        return []
    if node.kind == "object":
        return check_fields(node.fields, value, path, codes)
    if not isinstance(value, list):
        return [Problem(path, f"应为列表，收到 {type(value).__name__} expected a list", "shape")]
    out: list[Problem] = []
    for i, row in enumerate(value):
        out.extend(check_fields(node.fields, row, f"{path}[{i}]", codes))
    return out


def validate_request(spec: Spec, envelope: Mapping[str, Any]) -> list[Problem]:
    """Check a request envelope and its ``input`` against the transaction named by ``infno``."""
    out = check_fields(spec.request_envelope, envelope, "envelope", spec.codes)
    infno = envelope.get("infno")
    if not isinstance(infno, str) or infno not in spec.transactions:
        out.append(Problem("envelope.infno", f"未知交易编号 {infno!r} unknown transaction", "code_table"))
        return out
    msgid, code = envelope.get("msgid"), envelope.get("fixmedins_code")
    if isinstance(msgid, str) and isinstance(code, str):
        out.extend(check_msgid(msgid, code))
    tx = spec.tx(infno)
    payload = envelope.get("input")
    for node in tx.input:
        out.extend(check_node(node, payload, "input", spec.codes))
    return out


def check_msgid(msgid: str, fixmedins_code: str) -> list[Problem]:
    """msgid = 定点医药机构编号(12) + yyyyMMddHHmmss(14) + 顺序号(4)."""
    problems: list[Problem] = []
    if len(msgid) != 30:
        problems.append(
            Problem("envelope.msgid", f"长度应为 30，实为 {len(msgid)} must be 30 characters", "length")
        )
        return problems
    if msgid[:12] != fixmedins_code[:12]:
        problems.append(
            Problem("envelope.msgid", "前 12 位应为定点医药机构编号 must start with fixmedins_code", "format")
        )
    if not (msgid[12:26].isdigit() and _valid_stamp(msgid[12:26], "%Y%m%d%H%M%S")):
        problems.append(
            Problem("envelope.msgid", "第 13–26 位应为 yyyyMMddHHmmss must hold a time", "format")
        )
    if not msgid[26:].isdigit():
        problems.append(
            Problem("envelope.msgid", "末 4 位应为顺序号 must end with a 4-digit serial", "format")
        )
    return problems


def validate_response(spec: Spec, infno: str, envelope: Any) -> list[Problem]:
    """Check an answer: the response envelope always, the output nodes and identities when infcode is 0."""
    if not isinstance(envelope, Mapping):
        return [Problem("response", "应答不是 JSON 对象 answer is not a JSON object", "shape")]
    out = check_fields(spec.response_envelope, envelope, "response", spec.codes)
    infcode = to_decimal(envelope.get("infcode"))
    if isinstance(envelope.get("infcode"), str):
        out.append(
            Problem("response.infcode", "交易状态码应为数值型而非字符串 infcode must be a number", "type")
        )
    if infcode != 0:
        if _blank(envelope.get("err_msg")):
            out.append(
                Problem("response.err_msg", "失败应答须给出错误信息 a failed answer needs err_msg", "missing")
            )
        return out
    tx = spec.tx(infno)
    output = envelope.get("output")
    for node in tx.output:
        out.extend(check_node(node, output, "output", spec.codes))
    out.extend(output_identities(spec, infno, output))
    return out


def output_identities(spec: Spec, infno: str, output: Any) -> list[Problem]:
    """The cross-field identities of a transaction's output (settlements and fee-line splits)."""
    if not isinstance(output, Mapping):
        return []
    account_types = spec.codes["fund_pay_type"].account_types if "fund_pay_type" in spec.codes else ()
    if infno in ("2206", "2207", "2208", "2303", "2304", "2305", "5203"):
        setlinfo = output.get("setlinfo")
        detail = output.get("setldetail")
        if isinstance(setlinfo, Mapping):
            return settlement_identities(
                setlinfo, detail if isinstance(detail, list) else [], account_types, "output.setlinfo"
            )
    if infno in ("2204", "2301"):
        rows = output.get("result")
        if isinstance(rows, list):
            return fee_line_identities(rows, "output.result")
    return []


def _amount(obj: Mapping[str, Any], name: str) -> Decimal | None:
    present, value = _lookup(obj, name)
    return to_decimal(value) if present else None


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal(0))


def settlement_identities(
    setlinfo: Mapping[str, Any],
    setldetail: Sequence[Any],
    account_types: Sequence[str] = ("310200",),
    path: str = "setlinfo",
) -> list[Problem]:
    """Identities every settlement result must satisfy (DOMAIN §1.8, the 2207 field meanings).

    - medfee_sumamt = fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt
    - fund_pay_sumamt = Σ fund lines (hifp, cvlserv, hifes, hifmi, hifob, maf, oth, hifdm)
    - psn_part_amt = acct_pay + psn_cash_pay   (5203: psn_pay = acct_pay + cash_payamt)
    - medfee_sumamt = fund_pay_sumamt + psn_part_amt + hosp_part_amt
    - Σ setldetail.fund_payamt (fund types, accounts excluded) = fund_pay_sumamt
    - 0 ≤ pool_prop_selfpay ≤ 1
    """
    out: list[Problem] = []

    def g(name: str) -> Decimal | None:
        return _amount(setlinfo, name)

    total = g("medfee_sumamt")
    parts = [g(n) for n in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")]
    if total is not None and all(p is not None for p in parts) and _sum(parts) != total:
        out.append(
            Problem(
                f"{path}.medfee_sumamt",
                f"医疗费总额 {total} ≠ 全自费+超限价+先行自付+符合范围 {_sum(parts)} "
                "medfee_sumamt must equal fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt",
                "identity",
            )
        )
    fund = g("fund_pay_sumamt")
    funds = [g(n) for n in FUND_FIELDS]
    if fund is not None and _sum(funds) != fund:
        out.append(
            Problem(
                f"{path}.fund_pay_sumamt",
                f"基金支付总额 {fund} ≠ 各基金支出之和 {_sum(funds)} fund_pay_sumamt must equal the sum of fund payments",
                "identity",
            )
        )
    psn_name, cash_name = (
        ("psn_part_amt", "psn_cash_pay") if "psn_pay" not in setlinfo else ("psn_pay", "cash_payamt")
    )
    psn, acct, cash = g(psn_name), g("acct_pay"), g(cash_name)
    if psn is not None and acct is not None and cash is not None and acct + cash != psn:
        out.append(
            Problem(
                f"{path}.{psn_name}",
                f"个人负担 {psn} ≠ 个人账户支出 {acct} + 个人现金支出 {cash} {psn_name} must equal acct_pay + {cash_name}",
                "identity",
            )
        )
    hosp = g("hosp_part_amt")
    if total is not None and fund is not None and psn is not None:
        if fund + psn + (hosp or Decimal(0)) != total:
            out.append(
                Problem(
                    f"{path}.{psn_name}",
                    f"医疗费总额 {total} ≠ 基金 {fund} + 个人负担 {psn} + 医院负担 {hosp or 0} "
                    "medfee_sumamt must equal fund + personal + hospital parts",
                    "identity",
                )
            )
    if fund is not None and setldetail:
        rows = [r for r in setldetail if isinstance(r, Mapping)]
        fund_rows = [r for r in rows if str(r.get("fund_pay_type", "")) not in account_types]
        detail_sum = _sum(to_decimal(r.get("fund_payamt")) for r in fund_rows)
        if detail_sum != fund:
            out.append(
                Problem(
                    f"{path.rsplit('.', 1)[0]}.setldetail" if "." in path else "setldetail",
                    f"基金分项之和 {detail_sum} ≠ 基金支付总额 {fund} the fund lines must add up to fund_pay_sumamt",
                    "identity",
                )
            )
    ratio = g("pool_prop_selfpay")
    if ratio is not None and not (Decimal(0) <= ratio <= Decimal(1)):
        out.append(
            Problem(
                f"{path}.pool_prop_selfpay", f"支付比例 {ratio} 应在 0–1 之间 must be within 0..1", "identity"
            )
        )
    return out


def fee_line_identities(rows: Sequence[Any], path: str = "result") -> list[Problem]:
    """Per line: det_item_fee_sumamt = fulamt_ownpay_amt + overlmt_amt + preselfpay_amt + inscp_scp_amt."""
    out: list[Problem] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            continue
        total = to_decimal(row.get("det_item_fee_sumamt"))
        parts = [
            to_decimal(row.get(n))
            for n in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
        ]
        if total is None or any(p is None for p in parts):
            continue
        if _sum(parts) != total:
            out.append(
                Problem(
                    f"{path}[{i}].det_item_fee_sumamt",
                    f"明细总额 {total} ≠ 全自费+超限价+先行自付+符合范围 {_sum(parts)} the line's split must add up",
                    "identity",
                )
            )
        ratio = to_decimal(row.get("selfpay_prop"))
        if ratio is not None and not (Decimal(0) <= ratio <= Decimal(1)):
            out.append(Problem(f"{path}[{i}].selfpay_prop", f"自付比例 {ratio} 应在 0–1 之间", "identity"))
    return out
