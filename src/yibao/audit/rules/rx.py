"""The e-prescription rules (处方流转): validity days, one dispensing, the prescriber's registry entries.

One definition for every moment: :func:`check_rx` gives the verdicts of the library's prescription rules on
one dispensing (:class:`yibao.settlement.model.RxRef`) — the in-event checker calls it when a visit settles
a prescription, the internet-care use case calls it at the pharmacy's door, and the after-the-fact batch
builds the same reasons from the same templates (:data:`VALIDITY` …).  Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from yibao.audit.knowledge import Knowledge
from yibao.audit.rules import model as m
from yibao.settlement.model import AuditFinding, RxRef


@dataclass(frozen=True, slots=True)
class Registry:
    """The registers the prescriber rule reads; ``None`` = that register is not loaded (not checked).

    ``insured``: physician codes of the 医保医师库; ``internet``: physician code → (internet hospital,
    registered from, registered to) entries of the internet-care registration (互联网诊疗医师备案)."""

    insured: frozenset[str] | None = None
    internet: Mapping[str, tuple[tuple[str, dt.date, dt.date], ...]] | None = None


def registry_of(knowledge: Knowledge) -> Registry:
    """The registers of ``knowledge`` (an empty table = not loaded)."""
    phys = knowledge.physicians
    ip = knowledge.internet_physicians
    internet: dict[str, list[tuple[str, dt.date, dt.date]]] = {}
    for dr, ih, lo, hi in ip.select("dr_code", "internet_hospital", "valid_from", "valid_to").iter_rows():
        internet.setdefault(dr, []).append((ih, lo, hi))
    return Registry(
        frozenset(phys.get_column("dr_code").to_list()) if phys.height else None,
        {k: tuple(v) for k, v in internet.items()} if ip.height else None,
    )


def rx_rules(library: m.Library, moment: m.Moment) -> dict[str, m.Rule]:
    """The enabled prescription rules of ``library`` that run at ``moment``, by kind."""
    return {r.kind: r for r in library.active(moment) if r.kind in m.RX_KINDS}


def validity_days(rules: Mapping[str, m.Rule]) -> int | None:
    r = rules.get("rx_validity")
    if r is None:
        return None
    assert isinstance(r.params, m.RxValidityParams)
    return r.params.valid_days


def expired(issued_on: dt.date, dispensed_on: dt.date, valid_days: int) -> bool:
    """Dispensed on day ``valid_days`` after issue or later, or before the issue day."""
    return dispensed_on < issued_on or (dispensed_on - issued_on).days >= valid_days


# the reasons, as templates shared by the per-dispensing check (str.format) and the batch (polars format)
VALIDITY = (
    "处方{}开具，{}调剂，已超过{}天有效期",
    "prescription issued on {} and dispensed on {}: past its {}-day validity",
)
ONCE = (
    "处方{}已调剂{}次，不能重复调剂取药",
    "prescription {} was already dispensed {} time(s); it is dispensed once",
)
NOT_INSURED = ("开方医师{}不在医保医师库", "prescriber {} is not in the insured-physician registry")
NOT_INTERNET = (
    "开方医师{}在{}未在互联网医院{}备案",
    "prescriber {} was not registered on {} at internet hospital {}",
)


def _text(template: tuple[str, str], *args: object) -> tuple[str, str]:
    return template[0].format(*args), template[1].format(*args)


def check_rx(rules: Mapping[str, m.Rule], registry: Registry, rx: RxRef) -> list[AuditFinding]:
    """The findings of the prescription rules ``rules`` (by kind) on dispensing ``rx`` (whole-visit
    findings: ``feedetl_sn`` None); empty when every rule passes."""
    out: list[AuditFinding] = []

    def add(kind: str, reason: tuple[str, str]) -> None:
        r = rules[kind]
        out.append(AuditFinding(None, r.code, r.severity, reason[0], reason[1]))

    days = validity_days(rules)
    if days is not None and expired(rx.issued_on, rx.dispensed_on, days):
        add("rx_validity", _text(VALIDITY, rx.issued_on.isoformat(), rx.dispensed_on.isoformat(), days))
    if "rx_once" in rules and rx.dispensed_before > 0:
        add("rx_once", _text(ONCE, rx.rx_id, rx.dispensed_before))
    if "rx_prescriber" in rules:
        dr = rx.prescriber
        if registry.insured is not None and dr not in registry.insured:
            add("rx_prescriber", _text(NOT_INSURED, dr))
        elif registry.internet is not None and not any(
            ih == rx.internet_hospital and lo <= rx.issued_on <= hi
            for ih, lo, hi in registry.internet.get(dr, ())
        ):
            add("rx_prescriber", _text(NOT_INTERNET, dr, rx.issued_on.isoformat(), rx.internet_hospital))
    return out
