"""Labelled fraud scenarios for measuring the audit (registered in the synth injector hook on import).

``SCENARIOS`` lists every scenario name; ``yibao.synth.generate(..., inject=SCENARIOS)`` after
``import yibao.audit.scenarios`` builds a region with all of them.  ``duplicate_charging`` is the
synth package's own worked example, reused as is.
"""

from __future__ import annotations

import yibao.synth.inject  # noqa: F401  (registers duplicate_charging)
from yibao.audit.scenarios.injectors import (
    BedHanging,
    CollusiveRing,
    DrugResale,
    OverPrescription,
    PhantomBilling,
    SexAgeImpossible,
    SplitAdmission,
    Upcoding,
)
from yibao.synth.inject import register_injector

SCENARIOS: tuple[str, ...] = (
    "phantom_billing",
    "upcoding",
    "split_admission",
    "bed_hanging",
    "duplicate_charging",
    "over_prescription",
    "drug_resale",
    "collusive_ring",
    "sex_age_impossible",
)


def register_all() -> None:
    """(Re-)register every scenario injector; provider habits start afresh."""
    for inj in (
        PhantomBilling(),
        Upcoding(),
        SplitAdmission(),
        BedHanging(),
        OverPrescription(),
        DrugResale(),
        CollusiveRing(),
        SexAgeImpossible(),
    ):
        register_injector(inj.name, inj)


register_all()

__all__ = ["SCENARIOS", "register_all"]
