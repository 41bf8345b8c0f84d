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


_SM2 = sm2.default_ecc_table
_N = int(_SM2["n"], 16)
_P = int(_SM2["p"], 16)
_A = int(_SM2["a"], 16)
_B = int(_SM2["b"], 16)


def sm2_public_key(key: str) -> str:
    """``key`` as 128 lowercase hex x‖y: accepts x‖y or the uncompressed 04‖x‖y; ValueError for anything else,
    or for a point that is not on the SM2 curve (GB/T 32918.1)."""
    text = key.strip().lower()
    if len(text) == 130 and text.startswith("04"):
        text = text[2:]
    if len(text) != 128 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(
            "SM2 公钥应为 128 位十六进制 x‖y（或 04‖x‖y） must be 128 hex characters x‖y (or 04‖x‖y)"
        )
    x, y = int(text[:64], 16), int(text[64:], 16)
    if x >= _P or y >= _P or (y * y - x * x * x - _A * x - _B) % _P:
        raise ValueError("SM2 公钥不在曲线上 the public key is not a point on the SM2 curve")
    return text


def _crypt(private_key: str, public_key: str) -> Any:
    """A gmssl ``CryptSM2`` holding exactly ``public_key`` (x‖y).  Its constructor drops a leading ``04``
    with ``str.lstrip("04")``, which also eats the leading 0/4 digits of x — one key in 256 has an x that
    starts with the byte 04 and was mangled, so signing or verifying with it failed — so the key is set after
    construction."""
    crypt = sm2.CryptSM2(private_key=private_key, public_key="")
    crypt.public_key = sm2_public_key(public_key)
    return crypt


def _sm2_verify(public_key: str, signature: str, payload: bytes) -> bool:
    """Whether the hex r‖s ``signature`` is valid for ``payload`` (SM3, default user id) under ``public_key``;
    a malformed key or signature, or r, s outside [1, n−1] (GB/T 32918.2 B1–B2), is not."""
    if len(signature) != 128 or any(c not in "0123456789abcdefABCDEF" for c in signature):
        return False
    r, s = int(signature[:64], 16), int(signature[64:], 16)
    if not (0 < r < _N and 0 < s < _N):
        return False
    try:
        crypt = _crypt("", public_key)
    except ValueError:
        return False
    return bool(crypt.verify_with_sm3(signature, payload))


@dataclass(frozen=True)
class Sm2Signer:
    """cainfo = SM2 signature (with SM3 and the default user id) of the canonical envelope, hex r‖s."""

    private_key: str  # 64 hex
    public_key: str  # 128 hex x‖y (04‖x‖y is accepted too)
    signtype: str = "SM2"

    def sign(self, payload: bytes) -> str:
        """Sign ``payload``; a fresh random k in [1, n−1] each time (another k in the rare case gmssl
        finds r = 0, r + k = n or s = 0)."""
        crypt = _crypt(self.private_key, self.public_key)
        while True:
            k = secrets.randbelow(_N - 1) + 1
            signature = crypt.sign_with_sm3(payload, f"{k:064x}")
            if signature is not None:
                return str(signature)

    def verify(self, signature: str, payload: bytes) -> bool:
        """Whether ``signature`` is valid for ``payload`` under this public key."""
        return _sm2_verify(self.public_key, signature, payload)


def sm2_keypair() -> tuple[str, str]:
    """A fresh SM2 key pair (private hex, public hex x‖y) for tests and demos."""
    d = secrets.randbelow(_N - 2) + 1  # d in [1, n−2]: d + 1 must be invertible mod n
    private = f"{d:064x}"
    crypt = sm2.CryptSM2(private_key=private, public_key="")
    public = crypt._kg(d, _SM2["g"])  # gmssl has no public key-generation helper
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
        return _sm2_verify(public_key, cainfo, payload)
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
