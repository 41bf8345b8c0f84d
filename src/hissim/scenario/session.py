"""One hospital's connection: builds envelopes, validates both directions, records latency and failures."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hissim.client import Answer, HttpClient, TransportError
from hissim.envelope import Institution, MsgIdSequence, Operator, Signer, build_request
from hissim.spec import Spec
from hissim.validate import to_decimal, validate_request, validate_response


@dataclass(frozen=True)
class Failure:
    """One thing the server got wrong (or did not answer): where, which transaction, which field, why."""

    hospital: str
    context: str  # e.g. "门诊#17" / "住院#3" / "日终"
    infno: str
    field: str
    reason: str
    msgid: str = ""

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {
            "hospital": self.hospital,
            "context": self.context,
            "infno": self.infno,
            "field": self.field,
            "reason": self.reason,
            "msgid": self.msgid,
        }


class SimulatorBug(RuntimeError):
    """The simulator built a request that breaks the spec: its own fault, not the server's."""


@dataclass
class Exchange:
    """A sent transaction and what came back."""

    infno: str
    msgid: str
    request: dict[str, Any]
    answer: Answer | None
    ok: bool  # infcode 0 and the answer parsed
    output: Any = None


@dataclass
class Session:
    """Sends the transactions of one hospital; every answer is validated against the spec."""

    spec: Spec
    client: HttpClient
    institution: Institution
    operator: Operator = field(default_factory=Operator)
    signer: Signer | None = None
    clock: Callable[[], datetime] = datetime.now
    infver: str = "V1.0"
    sign_no: str = ""
    context: str = ""
    failures: list[Failure] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    sent: int = 0
    check_every: int = (
        1  # validate every n-th answer field by field (1 = all; the scenario checks always run)
    )

    def __post_init__(self) -> None:
        self._seq = MsgIdSequence(self.institution.fixmedins_code)

    def fail(self, infno: str, fld: str, reason: str, msgid: str = "") -> None:
        """Record a failure in the current context."""
        self.failures.append(
            Failure(self.institution.fixmedins_code, self.context, infno, fld, reason, msgid)
        )

    def expect(self, cond: bool, infno: str, fld: str, reason: str, msgid: str = "") -> bool:
        """Record a failure unless ``cond`` holds; returns ``cond``."""
        if not cond:
            self.fail(infno, fld, reason, msgid)
        return cond

    def _msgid(self) -> tuple[str, datetime]:
        while True:
            now = self.clock()
            msgid = self._seq.next(now)
            if msgid is not None:
                return msgid, now
            time.sleep(0.01)

    def send(self, infno: str, payload: Mapping[str, Any], insuplc_admdvs: str = "") -> Exchange:
        """Build, check, post and check one transaction. A failed or malformed answer is recorded."""
        msgid, now = self._msgid()
        request = build_request(
            infno,
            payload,
            institution=self.institution,
            operator=self.operator,
            msgid=msgid,
            now=now,
            sign_no=self.sign_no,
            insuplc_admdvs=insuplc_admdvs,
            infver=self.infver,
            signer=self.signer,
        )
        self.sent += 1
        full = self.check_every <= 1 or self.sent % self.check_every == 0
        own = validate_request(self.spec, request) if full else []
        if own:
            raise SimulatorBug(f"{infno} 请求不合规范 request breaks the spec: " + "; ".join(map(str, own)))
        try:
            answer = self.client.post(infno, request)
        except TransportError as exc:
            self.fail(infno, "transport", f"无应答 no answer: {exc}", msgid)
            return Exchange(infno, msgid, request, None, False)
        self.latencies.setdefault(infno, []).append(answer.elapsed_ms)
        if answer.status != 200:
            text = answer.raw[:300].decode("utf-8", errors="replace")
            self.fail(infno, "http", f"HTTP {answer.status}: {text}", msgid)
            return Exchange(infno, msgid, request, answer, False)
        if infno == "9102" and answer.body is None:
            # the platform answers a download with the file itself
            return Exchange(infno, msgid, request, answer, True, answer.raw)
        if full:
            for p in validate_response(self.spec, infno, answer.body):
                self.fail(infno, p.path, p.reason, msgid)
        body = answer.body if isinstance(answer.body, Mapping) else {}
        ok = to_decimal(body.get("infcode")) == 0
        if not ok:
            self.fail(
                infno, "infcode", f"交易失败 infcode={body.get('infcode')!r}: {body.get('err_msg')}", msgid
            )
        return Exchange(infno, msgid, request, answer, ok, body.get("output") if ok else None)


def file_bytes(output: Any) -> bytes | None:
    """The bytes of a 9102 download: a raw body, or output.file / output.in as base64."""
    if isinstance(output, (bytes, bytearray)):
        return bytes(output)
    if isinstance(output, Mapping):
        for key in ("file", "in", "data"):
            value = output.get(key)
            if isinstance(value, str):
                try:
                    return base64.b64decode(value, validate=True)
                except ValueError:
                    return None
            if isinstance(value, list) and all(isinstance(b, int) for b in value):
                return bytes(value)
    return None


def zip_text(name: str, text: str) -> bytes:
    """A zip holding one UTF-8 text file (the 9101 upload of a 3202 detail file)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, text.encode("utf-8"))
    return buf.getvalue()


def unzip_text(data: bytes) -> str:
    """The text inside a downloaded file: the first member of a zip, or the bytes themselves."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if not names:
                return ""
            raw = zf.read(names[0])
    else:
        raw = data
    for enc in ("utf-8", "gbk"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")
