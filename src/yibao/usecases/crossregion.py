"""Cross-region use cases, one per business act: file, cancel and change a filing (备案), and the coverage a
visit elsewhere gets from the person's filings.  Every face (portal, counter CLI, the region service) calls these."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from yibao.crossregion import filing as fl
from yibao.crossregion.params import Params
from yibao.crossregion.store import FilingStore


def _id() -> str:
    return "BA" + uuid.uuid4().hex[:14].upper()


def file(
    store: FilingStore, params: Params, insu_admdvs: str, data: Mapping[str, Any], today: dt.date
) -> fl.Filing:
    """办理备案: check the request and store the filing."""
    f = fl.new_filing(data, filing_id=_id(), insu_admdvs=insu_admdvs, today=today, rules=params.filing)
    store.add(f)
    return f


def cancel(store: FilingStore, params: Params, filing_id: str, psn_no: str, today: dt.date) -> fl.Filing:
    """取消备案 (the person's own filing only)."""
    f = store.get(filing_id)
    if f.psn_no != psn_no:
        raise fl.FilingError(
            "filing_id", f"备案 {filing_id} 不属于 {psn_no} not this person's filing", "mismatch"
        )
    out = fl.cancel(f, today, params.filing)
    store.add(out)
    return out


def change(
    store: FilingStore, params: Params, filing_id: str, psn_no: str, data: Mapping[str, Any], today: dt.date
) -> tuple[fl.Filing, fl.Filing]:
    """变更备案: close the old filing and store the new one, in one transaction."""
    f = store.get(filing_id)
    if f.psn_no != psn_no:
        raise fl.FilingError(
            "filing_id", f"备案 {filing_id} 不属于 {psn_no} not this person's filing", "mismatch"
        )
    old, new = fl.change(f, data, new_id=_id(), on=today, rules=params.filing)
    store.add(old, new)
    return old, new


def coverage(
    store: FilingStore, psn_no: str, care_admdvs: str, begin: dt.date, end: dt.date, *, emergency: bool
) -> fl.Coverage:
    """How the insured region settles a visit of ``psn_no`` at ``care_admdvs``."""
    return fl.coverage(store.for_person(psn_no), care_admdvs, begin, end, emergency=emergency)
