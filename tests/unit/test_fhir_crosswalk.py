"""The crosswalks behind the C4BB EOB claims (``fhir_codes.yaml``): ICD-10 → ICD-10-CM and charge
category → NUBC revenue class."""

from __future__ import annotations

import re

import pytest

from yibao.policy.catalogue import FEE_CATEGORIES
from yibao.web import fhir_map as fm
from yibao.web import fhir_validate as fv
from yibao.web.fhir_directory import _crosswalk, national_tables

TABLES = national_tables()
NAMES = fm.Names(
    admdvs="610100",
    region_name="西安市",
    icd10cm={str(k): _crosswalk(v) for k, v in TABLES["icd10cm"]["codes"].items()},
)


@pytest.mark.parametrize(
    ("code", "claim", "cm"),
    [
        ("J189", (), "J18.9"),  # as the synthetic claims carry it
        ("J18.9", (), "J18.9"),
        ("J18.900", (), "J18.9"),  # national clinical version extension
        ("I10.x00", (), "I10"),  # placeholder after a three-character category
        ("C341", (), "C34.10"),  # ICD-10-CM's unspecified-side subdivision
        ("I251", ("I10",), "I25.10"),
        ("I251", ("I209", "I251"), None),  # with angina ICD-10-CM needs a combination code
        ("K297", ("K922",), None),  # with bleeding
        ("I210", (), None),  # no single equivalent
        ("S422", (), None),  # injuries need the encounter character
        ("O800", (), None),
    ],
)
def test_icd10cm_equivalent(code: str, claim: tuple[str, ...], cm: str | None) -> None:
    assert fm.icd10cm_of(code, NAMES, claim or (code,)) == cm


def test_the_crosswalk_tables_are_well_formed() -> None:
    for key, entry in TABLES["icd10cm"]["codes"].items():
        cm, unless = _crosswalk(entry)
        assert re.fullmatch(r"[A-Z][0-9]{2}[0-9]?", str(key)), key
        assert fv._diagnosis_code(fm.CS_ICD10CM, cm), (key, cm)
        assert all(re.fullmatch(r"[A-Z][0-9]{2}", p) for p in unless), key
    revenue = TABLES["revenue"]["codes"]
    assert set(revenue) <= FEE_CATEGORIES and "14" not in revenue  # 其他费 has no general class
    for zh, en, nubc in revenue.values():
        assert zh and en and fv._revenue_code(fm.CS_NUBC_REVENUE, nubc)
