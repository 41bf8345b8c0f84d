"""Pure core of the national-style transactions (《医疗保障信息平台 定点医药机构接口规范》): the envelope, the output shapes of
1101 / 2206 / 2207 / 2208 / 2601 / 3201, and the 3201 comparison.  No I/O here."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from yibao.errors import FieldError
from yibao.ledger import ReversalOutcome, SettleOutcome
from yibao.money import fen_to_yuan
from yibao.settlement import io as sio
from yibao.settlement.model import Person

TRANSACTIONS = {
    "1101": "人员信息获取 person info",
    "2001": "人员待遇享受检查 benefit check",
    "2206": "门诊预结算 pre-settlement",
    "2207": "门诊结算 settlement",
    "2208": "门诊结算撤销 settlement cancel",
    "2601": "冲正交易 reversal",
    "3201": "医药机构费用结算对总账 reconciliation totals",
}
MDTRT_CERT_TYPES = {
    "01": "电子凭证 e-voucher",
    "02": "居民身份证 ID card",
    "03": "社会保障卡 social-security card",
}


class EnvelopeError(FieldError):
    """A malformed envelope or ``input``; answered with ``infcode`` −1 and the field named."""


# a control character other than tab / newline / carriage return, or a lone UTF-16 surrogate
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class Envelope(BaseModel):
    """Request envelope (接口规范 报文头).  Only ``infno``, ``msgid`` and ``input`` are required here;
    the rest are carried for the record."""

    model_config = ConfigDict(extra="allow")
    infno: str = Field(min_length=4, max_length=6, description="交易编号 transaction code")
    msgid: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[\x21-\x7e]+$",
        description="报文ID: 定点机构编号(12)+时间(14)+流水号(4) (visible ASCII only)",
    )
    mdtrtarea_admvs: str = Field("", max_length=12, description="就医地医保区划")
    insuplc_admdvs: str = Field("", max_length=12, description="参保地医保区划")
    recer_sys_code: str = Field("YBXT", max_length=10, description="接收方系统代码")
    dev_no: str = Field("", max_length=100)
    dev_safe_info: str = Field("", max_length=2000)
    cainfo: str = Field("", max_length=2000)
    signtype: str = Field("", max_length=10)
    infver: str = Field("V1.0", max_length=10, description="接口版本号")
    opter_type: str = Field("1", max_length=3, description="经办人类别: 1 经办人 2 自助终端 3 移动终端")
    opter: str = Field("", max_length=30)
    opter_name: str = Field("", max_length=50)
    inf_time: str = Field("", max_length=19)
    fixmedins_code: str = Field("", max_length=30, description="定点医药机构编号")
    fixmedins_name: str = Field("", max_length=200)
    sign_no: str = Field("", max_length=30)
    input: dict[str, Any] = Field(default_factory=dict, description="交易输入 (usually {'data': {...}})")

    @model_validator(mode="after")
    def _printable(self) -> Envelope:
        """No control characters (NUL …) or unpaired surrogates in any header field: the database
        cannot store them and no national code contains them."""
        for name in type(self).model_fields:
            v = getattr(self, name)
            if isinstance(v, str) and _UNPRINTABLE.search(v):
                raise ValueError(f"{name}: 含有控制字符或无效字符 contains control or invalid characters")
        return self


class EnvelopeResponse(BaseModel):
    infcode: int = Field(description="0 成功; -1 失败 (system-level errors need a 2601 冲正)")
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str | None = None
    warn_msg: str | None = Field(None, description="警告信息")
    err_field: str | None = Field(None, description="yibao extension: the offending input")
    err_code: str | None = Field(None, description="yibao extension: stable machine-readable reason")
    output: dict[str, Any] | list[Any] | None = None


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d%H%M%S")


ERR_MSG_MAX = 200  # err_msg / warn_msg: 字符型 200 in the response envelope table


def err_msg(error: FieldError) -> str:
    """The message a HIS shows its clerk: the reason (Chinese first), then the field, within 200 characters."""
    text = f"{error.reason}（{error.field}）"
    return text if len(text) <= ERR_MSG_MAX else text[: ERR_MSG_MAX - 1] + "…"


def response(
    admvs: str,
    output: Mapping[str, Any] | list[Any] | None,
    received: dt.datetime,
    *,
    error: FieldError | None = None,
    warn_msg: str | None = None,
) -> dict[str, Any]:
    """The response envelope; ``inf_refmsgid`` = region (6) + time (14) + serial (10); ``infcode``,
    ``err_msg``, ``warn_msg``, ``refmsg_time`` and ``respond_time`` are in every answer."""
    now = dt.datetime.now(dt.UTC)
    serial = f"{uuid.uuid4().int % 10**10:010d}"
    out: dict[str, Any] = {
        "infcode": 0 if error is None else -1,
        "inf_refmsgid": f"{(admvs or '000000')[:6]:0<6}{_stamp(now)}{serial}",
        "refmsg_time": received.strftime("%Y%m%d%H%M%S%f")[:17],
        "respond_time": now.strftime("%Y%m%d%H%M%S%f")[:17],
        "err_msg": None,
        "warn_msg": warn_msg,
        "output": dict(output) if isinstance(output, Mapping) else output,
    }
    if error is not None:
        out.update(err_msg=err_msg(error), err_field=error.field, err_code=error.code)
    return out


# what a HIS is told when the database, not its request, stopped the work (HTTP 503 with Retry-After)
DATABASE_REFUSALS = {
    "storage_full": "数据库存储空间已满，本笔交易结果未确认，请稍后用同一报文编号重发（重发不会重复结算） "
    "the database is out of storage space; send the same msgid again later (a retry never settles twice)",
    "database_unavailable": "数据库暂时不可用，本笔交易结果未确认，请稍后用同一报文编号重发（重发不会重复结算） "
    "the database cannot be reached just now; send the same msgid again later (a retry never settles twice)",
}
RETRY_AFTER_SECONDS = 2


def database_refusal(kind: str) -> FieldError:
    """The error of a transaction the database could not carry out (``kind`` from
    :func:`yibao.db.connection.refusal_kind`); it names ``msgid``, the field to send again unchanged."""
    return FieldError("msgid", DATABASE_REFUSALS[kind], kind)


def data_of(env: Envelope) -> dict[str, Any]:
    """``input.data`` (the national nesting) or ``input`` itself when it is already flat."""
    data = env.input.get("data", env.input)
    if not isinstance(data, dict):
        raise EnvelopeError("input.data", "应为对象 must be a JSON object")
    return data


def text_field(data: Mapping[str, Any], key: str, *, required: bool = True, path: str = "input.data.") -> str:
    v = data.get(key)
    if v is None or v == "":
        if required:
            raise EnvelopeError(path + key, "必填项缺失 is required", "missing")
        return ""
    if not isinstance(v, str | int) or isinstance(v, bool):
        raise EnvelopeError(path + key, f"应为文字 must be a string, got {type(v).__name__}")
    return str(v)


def person_output(p: Person, balance: int, on: dt.date) -> dict[str, Any]:
    """1101 output: ``baseinfo``, ``insuinfo[]``, ``idetinfo[]`` (identities valid on ``on``)."""
    return {
        "baseinfo": {
            "psn_no": p.psn_no,
            "psn_cert_type": "01",
            "certno": p.certno,
            "psn_name": p.name,
            "gend": {"M": "1", "F": "2"}.get(p.gender, "9"),
            "brdy": p.birth_date.isoformat(),
            "age": str(p.age_on(on)),
        },
        "insuinfo": [
            {
                "balc": str(fen_to_yuan(balance)),
                "insutype": p.insutype,
                "psn_type": p.psn_type,
                "psn_insu_stas": "1",
                "insuplc_admdvs": p.insuplc_admdvs,
                "cvlserv_flag": "0",
            }
        ],
        "idetinfo": [{"psn_idet_type": t} for t in sorted(p.identities)],
        "family_psn_nos": list(p.family),
    }


def settle_output(out: SettleOutcome) -> dict[str, Any]:
    """2206/2207 output: ``setlinfo`` + ``setldetail`` (2206 has no ``setl_id``), and ``audit_info``: the
    in-event audit findings (事中审核; a "block" line was settled as fully self-paid)."""
    return {
        "setlinfo": sio.setlinfo(out.settlement, out.setl_id or None),
        "setldetail": sio.setldetail(out.settlement),
        "replayed": out.replayed,
        "audit_info": [
            {
                "feedetl_sn": f.feedetl_sn,
                "rule_code": f.rule_code,
                "severity": f.severity,
                "reason_zh": f.reason_zh,
                "reason_en": f.reason_en,
            }
            for f in out.settlement.audit
        ],
    }


def undo_output(out: ReversalOutcome) -> dict[str, Any]:
    """2208 / 2601 output; ``acct_change`` is what the paying account gained (元)."""
    return {
        "setl_id": out.setl_id,
        "msgid": out.msgid,
        "action": out.action,
        "status": out.status,
        "acct_change": str(fen_to_yuan(out.acct_change)),
        "replayed": out.replayed,
    }


@dataclass(frozen=True)
class Statement:
    """3201 request figures (fen, count) — what the institution believes it settled."""

    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    fixmedins_setl_cnt: int


def reconcile(submitted: Statement, ledger: Statement, setl_optins: str) -> dict[str, Any]:
    """3201 ``stmtinfo``: ``stmt_rslt`` 0 (平, all four figures agree) or 1 (不平), with the differences
    and the ledger's own figures so the institution can find the gap (then 3202 detail)."""
    diffs = {f: getattr(submitted, f) - getattr(ledger, f) for f in Statement.__dataclass_fields__}
    ok = not any(diffs.values())
    y = fen_to_yuan
    return {
        "stmtinfo": {
            "setl_optins": setl_optins,
            "stmt_rslt": "0" if ok else "1",
            "stmt_rslt_dscr": "对账平 balanced"
            if ok
            else "对账不平 not balanced: "
            + ", ".join(
                f"{k} {'+' if v > 0 else ''}{y(v) if k != 'fixmedins_setl_cnt' else v}"
                for k, v in diffs.items()
                if v
            ),
            "medfee_sumamt": str(y(ledger.medfee_sumamt)),
            "fund_pay_sumamt": str(y(ledger.fund_pay_sumamt)),
            "acct_pay": str(y(ledger.acct_pay)),
            "fixmedins_setl_cnt": ledger.fixmedins_setl_cnt,
        }
    }


def parse_date(value: Any, field: str) -> dt.date | None:
    """An optional ``YYYY-MM-DD`` input field."""
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise EnvelopeError(field, f"{value!r} 不是日期（YYYY-MM-DD） is not a date") from None
