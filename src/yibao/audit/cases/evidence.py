"""Appeal evidence (申诉材料): files an institution attaches to its appeal of an audit case, per item or for
the whole case, kept in ``audit_appeal_evidence`` with their sha256.  Files are accepted only while the case
can still be appealed (notified or appealed, and the appeal window open) and only of the kinds and size
in ``params.yaml`` (``evidence``)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlalchemy as sa
import yaml

from yibao.audit.cases.calendar import CaseParams
from yibao.audit.cases.model import AuditCaseError, Case, CaseState
from yibao.audit.schema import audit_appeal_evidence as table

OPEN_STATES = (CaseState.NOTIFIED, CaseState.APPEALED)


@dataclass(frozen=True, slots=True)
class EvidenceRules:
    max_bytes: int
    types: tuple[str, ...]
    source: str


@functools.cache
def evidence_rules() -> EvidenceRules:
    raw: Any = yaml.safe_load(
        (resources.files("yibao.audit.cases") / "params.yaml").read_text(encoding="utf-8")
    )
    try:
        e = raw["evidence"]
        rules = EvidenceRules(int(e["max_bytes"]), tuple(str(t) for t in e["types"]), str(e["source"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditCaseError(
            "evidence", f"申诉材料参数缺失或格式错误 evidence parameters malformed ({exc})"
        ) from None
    if rules.max_bytes <= 0 or not rules.types:
        raise AuditCaseError("evidence", "申诉材料参数超出范围 max_bytes > 0 and at least one type")
    return rules


@dataclass(frozen=True, slots=True)
class Evidence:
    evidence_id: str
    case_id: str
    item_no: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    note: str
    uploaded_at: str
    uploaded_by: str


def _sniff(content: bytes) -> str:
    """The file's kind from its first bytes (what the browser claims is not trusted)."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return "application/octet-stream"


def check_upload(
    case: Case, item_no: int | None, filename: str, content: bytes, now: dt.datetime, params: CaseParams
) -> str:
    """The file's kind when the upload may be taken, else :class:`AuditCaseError` naming the field."""
    rules = evidence_rules()
    if case.state not in OPEN_STATES:
        raise AuditCaseError(
            "state",
            f"案件当前状态不能补充申诉材料 evidence can be added only while the case may be appealed "
            f"(state {case.state.value})",
            "illegal_transition",
        )
    if case.deadline is not None and params.local_date(now) > case.deadline:
        raise AuditCaseError(
            "file",
            f"申诉期已于 {case.deadline} 结束 the appeal window closed on {case.deadline}",
            "appeal_window_closed",
        )
    if item_no is not None:
        case.item(item_no)  # unknown item → unknown_item
    if not filename.strip():
        raise AuditCaseError("file", "请选择要上传的文件 choose a file to upload", "missing")
    if not content:
        raise AuditCaseError("file", "文件是空的 the file is empty", "invalid")
    if len(content) > rules.max_bytes:
        raise AuditCaseError(
            "file",
            f"文件超过 {rules.max_bytes / 1e6:.1f} MB the file is larger than {rules.max_bytes / 1e6:.1f} MB",
            "invalid",
        )
    kind = _sniff(content)
    if kind not in rules.types:
        raise AuditCaseError(
            "file", "只接受 PDF、JPEG 或 PNG 文件 only PDF, JPEG or PNG files are taken", "invalid"
        )
    return kind


class EvidenceStore:
    """Evidence rows on the platform database (the ``audit`` migration branch, revision 1510)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(
        self,
        case: Case,
        item_no: int | None,
        filename: str,
        content: bytes,
        note: str,
        now: dt.datetime,
        actor: str,
        params: CaseParams,
    ) -> Evidence:
        kind = check_upload(case, item_no, filename, content, now, params)
        if not actor.strip():
            raise AuditCaseError("actor", "必须写明上传人 who uploads must be named")
        ev = Evidence(
            secrets.token_hex(16),
            case.case_id,
            item_no,
            filename.strip()[-200:],
            kind,
            len(content),
            hashlib.sha256(content).hexdigest(),
            note.strip()[:2000],
            now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            actor.strip()[:100],
        )
        with self.engine.begin() as conn:
            conn.execute(table.insert().values(**_row(ev), content=content))
        return ev

    def list(self, case_id: str) -> list[Evidence]:
        cols = [c for c in table.c if c.name != "content"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*cols).where(table.c.case_id == case_id).order_by(table.c.uploaded_at)
            ).all()
        return [Evidence(*r) for r in rows]

    def get(self, evidence_id: str) -> tuple[Evidence, bytes] | None:
        cols = [c for c in table.c if c.name != "content"]
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(*cols, table.c.content).where(table.c.evidence_id == evidence_id)
            ).first()
        if r is None:
            return None
        return Evidence(*r[:-1]), bytes(r[-1])


def _row(ev: Evidence) -> dict[str, Any]:
    return {f: getattr(ev, f) for f in Evidence.__slots__}
