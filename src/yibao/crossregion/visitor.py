"""What crosses the hub about a visitor besides the priced lines: the person as the insured region knows
them (for the care region's in-event audit and the 2207 answer's person fields; never the full ID
number), and the care region's in-event audit findings (就医地管理), which the insured region applies as
its engine applies its own (a blocked line is settled fully self-paid).  Pure: JSON shapes in and out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from yibao.settlement.model import AuditFinding, AuditHook, Person, SettlementError, Visit

SEVERITIES = ("block", "flag", "warn")


def person_to_json(p: Person) -> dict[str, Any]:
    """The person for another region: no ID number, no family (家庭共济 stays at home)."""
    return {
        "psn_no": p.psn_no,
        "name": p.name,
        "gender": p.gender,
        "birth_date": p.birth_date.isoformat(),
        "insutype": p.insutype,
        "psn_type": p.psn_type,
        "identities": sorted(p.identities),
        "insuplc_admdvs": p.insuplc_admdvs,
    }


def person_from_json(d: Mapping[str, Any]) -> Person:
    """The insured region's answer as a :class:`Person` (the certno left empty)."""
    try:
        return Person(
            str(d["psn_no"]),
            str(d.get("name") or ""),
            "",
            str(d.get("gender") or ""),
            dt.date.fromisoformat(str(d["birth_date"])),
            str(d.get("insutype") or ""),
            str(d.get("psn_type") or ""),
            frozenset(str(x) for x in d.get("identities") or ()),
            str(d.get("insuplc_admdvs") or ""),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise SettlementError(
            "person", f"参保地人员信息不完整 the insured region's person is incomplete: {exc}"
        ) from None


def findings_to_json(found: Sequence[AuditFinding]) -> list[dict[str, Any]]:
    return [
        {
            "feedetl_sn": f.feedetl_sn,
            "rule_code": f.rule_code,
            "severity": f.severity,
            "reason_zh": f.reason_zh,
            "reason_en": f.reason_en,
        }
        for f in found
    ]


def findings_from_json(raw: Any, visit: Visit) -> list[AuditFinding]:
    """The care region's findings, each naming a line of ``visit`` (or none: the whole visit)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SettlementError("audit", "须为列表 must be a list")
    sns = {ln.feedetl_sn for ln in visit.lines}
    out: list[AuditFinding] = []
    for i, f in enumerate(raw):
        if not isinstance(f, Mapping):
            raise SettlementError(f"audit[{i}]", "须为对象 must be an object")
        sn = f.get("feedetl_sn")
        if sn is not None and str(sn) not in sns:
            raise SettlementError(
                f"audit[{i}].feedetl_sn", f"不是本次就诊的明细 {sn!r} is not a line of the visit"
            )
        severity = str(f.get("severity") or "")
        if severity not in SEVERITIES:
            raise SettlementError(f"audit[{i}].severity", f"须为 block、flag 或 warn: {severity!r}")
        out.append(
            AuditFinding(
                None if sn is None else str(sn),
                str(f.get("rule_code") or ""),
                severity,
                str(f.get("reason_zh") or ""),
                str(f.get("reason_en") or ""),
            )
        )
    return out


def carried(found: Sequence[AuditFinding]) -> AuditHook | None:
    """An audit hook that answers the care region's findings (None when there are none)."""
    if not found:
        return None
    kept = tuple(found)

    def hook(_person: Person, _visit: Visit) -> Sequence[AuditFinding]:
        return kept

    return hook
