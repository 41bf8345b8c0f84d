"""The request envelope a HIS sends: msgid, inf_time, sign_no, and the optional SM3/SM2 cainfo.

msgid = 定点医药机构编号(12) + yyyyMMddHHmmss(14) + 顺序号(4) (《定点医药机构接口规范》 envelope table).
The time is passed in (no clock here); :class:`MsgIdSequence` hands out serials per second and says how
long to wait when a second's 9,999 serials are used up.

Signature (cainfo/signtype): the tables say only "数字签名信息 / 签名类型，建议使用 SM2、SM3". hissim signs
the canonical JSON of the envelope without ``cainfo`` and ``signtype`` (keys sorted, no spaces, UTF-8,
numbers as their text): SM3 → the hex digest; SM2 → the hex SM2 signature (with SM3 and the default
user id) of those bytes. A region that signs differently needs its own :class:`Signer`.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from gmssl import func, sm2, sm3

INF_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Institution:
    """The designated institution (定点医药机构) sending the messages."""

    fixmedins_code: str  # 12 characters in the national coding (H + 11 digits)
    fixmedins_name: str
    mdtrtarea_admvs: str  # 就医地医保区划, 6 digits
    setl_optins: str = ""  # 结算经办机构 for 3201/3202 (defaults to mdtrtarea_admvs)

    def __post_init__(self) -> None:
        if len(self.fixmedins_code) != 12:
            raise ValueError(
                f"fixmedins_code {self.fixmedins_code!r}: 定点医药机构编号应为 12 位 "
                "must be 12 characters (msgid = code(12) + time(14) + serial(4))"
            )
        if len(self.mdtrtarea_admvs) != 6 or not self.mdtrtarea_admvs.isdigit():
            raise ValueError(
                f"mdtrtarea_admvs {self.mdtrtarea_admvs!r}: 医保区划应为 6 位数字 must be 6 digits"
            )

    @property
    def optins(self) -> str:
        """The settlement agency for reconciliation (setl_optins), the care region if not given."""
        return self.setl_optins or self.mdtrtarea_admvs


@dataclass(frozen=True)
class Operator:
    """The clerk (经办人) or terminal signing in with 9001."""

    opter: str = "0001"
    opter_name: str = "收费员"
    opter_type: str = "1"  # 1 经办人 2 自助终端 3 移动终端
    mac: str = "00-16-3E-00-00-01"
    ip: str = "10.0.0.1"


class MsgIdSequence:
    """Serial numbers for msgid: 0001–9999 within each second, thread-safe."""

    def __init__(self, fixmedins_code: str) -> None:
        self.code = fixmedins_code
        self._lock = threading.Lock()
        self._second = ""
        self._serial = 0

    def next(self, now: datetime) -> str | None:
        """The next msgid at ``now``, or None when this second's 9,999 serials are used (wait and retry)."""
        stamp = now.strftime("%Y%m%d%H%M%S")
        with self._lock:
            if stamp != self._second:
                if stamp < self._second:  # the clock went back: keep counting in the later second
                    stamp = self._second
                else:
                    self._second, self._serial = stamp, 0
            if self._serial >= 9999:
                return None
            self._serial += 1
            return f"{self.code}{stamp}{self._serial:04d}"


class Signer(Protocol):
    """Fills cainfo for an envelope."""

    @property
    def signtype(self) -> str:
        """The envelope's signtype (SM3, SM2, …)."""
        ...

    def sign(self, payload: bytes) -> str:
        """The cainfo for the canonical bytes of an envelope."""
        ...


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: the envelope without cainfo/signtype, keys sorted, compact, UTF-8."""
    body = {k: v for k, v in envelope.items() if k not in ("cainfo", "signtype")}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default)
    return text.encode("utf-8")


def sm3_hex(data: bytes) -> str:
    """SM3 digest of ``data`` as 64 lowercase hex characters (GB/T 32905)."""
    return str(sm3.sm3_hash(func.bytes_to_list(data)))


@dataclass(frozen=True)
class Sm3Signer:
    """cainfo = SM3(canonical envelope), hex."""

    signtype: str = "SM3"

    def sign(self, payload: bytes) -> str:
        """The hex SM3 digest of ``payload``."""
        return sm3_hex(payload)


@dataclass(frozen=True)
class Sm2Signer:
    """cainfo = SM2 signature (with SM3 and the default user id) of the canonical envelope, hex r‖s."""

    private_key: str  # 64 hex
    public_key: str  # 128 hex (x‖y, without the 04 prefix)
    signtype: str = "SM2"

    def _crypt(self) -> Any:
        return sm2.CryptSM2(private_key=self.private_key, public_key=self.public_key)

    def sign(self, payload: bytes) -> str:
        """Sign ``payload``; a fresh random k each time."""
        return str(self._crypt().sign_with_sm3(payload, secrets.token_hex(32)))

    def verify(self, signature: str, payload: bytes) -> bool:
        """Whether ``signature`` is valid for ``payload`` under this public key."""
        return bool(self._crypt().verify_with_sm3(signature, payload))


def sm2_keypair() -> tuple[str, str]:
    """A fresh SM2 key pair (private hex, public hex x‖y) for tests and demos."""
    n = int(sm2.default_ecc_table["n"], 16)
    d = secrets.randbelow(n - 1) + 1
    private = f"{d:064x}"
    crypt = sm2.CryptSM2(private_key=private, public_key="")
    public = crypt._kg(d, sm2.default_ecc_table["g"])  # gmssl has no public key-generation helper
    return private, str(public)


def verify_cainfo(envelope: Mapping[str, Any], public_key: str | None = None) -> bool:
    """Check the envelope's cainfo against its signtype (SM3 digest, or SM2 with ``public_key``)."""
    signtype, cainfo = envelope.get("signtype"), envelope.get("cainfo")
    if not isinstance(cainfo, str) or not cainfo:
        return False
    payload = canonical_bytes(envelope)
    if signtype == "SM3":
        return cainfo == sm3_hex(payload)
    if signtype == "SM2" and public_key:
        crypt = sm2.CryptSM2(private_key="", public_key=public_key)
        return bool(crypt.verify_with_sm3(cainfo, payload))
    return False


def build_request(
    infno: str,
    payload: Mapping[str, Any],
    *,
    institution: Institution,
    operator: Operator,
    msgid: str,
    now: datetime,
    sign_no: str = "",
    insuplc_admdvs: str = "",
    infver: str = "V1.0",
    recer_sys_code: str = "YBXT",
    dev_no: str = "",
    signer: Signer | None = None,
) -> dict[str, Any]:
    """A complete request envelope around ``payload`` (the ``input`` object), signed when a signer is given."""
    envelope: dict[str, Any] = {
        "infno": infno,
        "msgid": msgid,
        "mdtrtarea_admvs": institution.mdtrtarea_admvs,
        "insuplc_admdvs": insuplc_admdvs,
        "recer_sys_code": recer_sys_code,
        "dev_no": dev_no,
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "",
        "infver": infver,
        "opter_type": operator.opter_type,
        "opter": operator.opter,
        "opter_name": operator.opter_name,
        "inf_time": now.strftime(INF_TIME_FORMAT),
        "fixmedins_code": institution.fixmedins_code,
        "fixmedins_name": institution.fixmedins_name,
        "sign_no": sign_no,
        "input": dict(payload),
    }
    if signer is not None:
        envelope["signtype"] = signer.signtype
        envelope["cainfo"] = signer.sign(canonical_bytes(envelope))
    return envelope
