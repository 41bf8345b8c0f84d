"""The ms-drg-v43 scheme on cases whose DRG was worked out by hand from the CMS v43 definitions.

Each expectation follows the Definitions Manual logic: MDC by principal diagnosis, surgical hierarchy,
CC / MCC from Table 6I/6J with the Table 6K principal-diagnosis exclusions, the AMI discharged-alive /
expired split (280–285), the HAC rule (a CC/MCC that is a hospital-acquired condition and not present on
admission does not count) and the unrelated-OR groups (981–989).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.drg import Case, group_case, load_scheme
from yibao.drg.loader import SCHEMES_DIR

HAND = [
    # id, age, sex, status, pdx, sdx, poa, procedures, expected DRG, why
    ("hf", 70, "M", "01", "I5021", (), (), (), "293", "acute systolic HF, no CC"),
    ("hf-e11", 70, "M", "01", "I5021", ("E1165",), ("Y",), (), "293", "E11.65 is not a CC"),
    ("hf-cc", 70, "M", "01", "I5021", ("N179",), ("Y",), (), "292", "acute kidney failure is a CC"),
    ("hf-mcc", 70, "M", "01", "I5021", ("J9601",), ("Y",), (), "291", "acute respiratory failure is an MCC"),
    ("ami", 66, "F", "01", "I214", (), (), (), "282", "NSTEMI discharged alive, no CC"),
    ("ami-dead", 66, "F", "20", "I214", (), (), (), "285", "status 20 expired"),
    ("ami-mcc", 66, "F", "01", "I214", ("I5021",), ("Y",), (), "280", "I50.21 MCC not excluded by I21.4"),
    ("ami-dead-mcc", 66, "F", "20", "I214", ("I5021",), ("Y",), (), "283", "expired with MCC"),
    ("ami-excl", 66, "F", "01", "I214", ("I2129",), ("Y",), (), "282", "another AMI code is excluded (6K)"),
    ("hac-poa-y", 66, "F", "01", "I214", ("T83511A",), ("Y",), (), "281", "CAUTI present on admission: CC"),
    ("hac-poa-n", 66, "F", "01", "I214", ("T83511A",), ("N",), (), "282", "CAUTI acquired (HAC 06): ignored"),
    ("pna", 80, "M", "01", "J189", (), (), (), "195", "simple pneumonia, no CC"),
    ("pna-mcc", 80, "M", "01", "J189", ("J9601",), ("Y",), (), "193", "with MCC"),
    ("pci", 65, "M", "01", "I214", (), (), ("02703DZ",), "322", "PCI with stent, one artery, no MCC"),
    ("pci-mcc", 65, "M", "01", "I214", ("I5021",), ("Y",), ("02703DZ",), "321", "PCI with stent and MCC"),
    ("sepsis-mv", 60, "F", "01", "A419", (), (), ("5A1955Z",), "870", "sepsis with MV > 96 h"),
    ("sepsis-mcc", 60, "F", "01", "A419", ("J9601",), ("Y",), (), "871", "sepsis without MV, MCC"),
    ("sepsis", 60, "F", "01", "A419", (), (), (), "872", "sepsis without MV, no MCC"),
    ("newborn", 0, "M", "01", "Z3800", (), (), (), "795", "normal newborn"),
    (
        "unrelated-or",
        70,
        "F",
        "01",
        "I5021",
        (),
        (),
        ("0SRD0J9",),
        "983",
        "knee replacement with a heart-failure pdx: extensive OR unrelated, no CC",
    ),
    ("knee", 70, "F", "01", "M170", (), (), ("0SRD0J9",), "470", "knee replacement for osteoarthritis"),
    ("ama", 40, "M", "07", "F10230", (), (), (), "894", "alcohol dependence, left against medical advice"),
    ("invalid", 50, "M", "01", "XXXX", (), (), (), "999", "not a valid ICD-10-CM code"),
]


@pytest.fixture(scope="module")
def ms():  # type: ignore[no-untyped-def]
    return load_scheme("ms-drg-v43")


@pytest.mark.parametrize("row", HAND, ids=[r[0] for r in HAND])
def test_hand_verified_case(ms, row) -> None:  # type: ignore[no-untyped-def]
    cid, age, sex, status, pdx, sdx, poa, procs, expected, _why = row
    g = group_case(ms, Case(cid, age, sex, status, pdx, sdx, poa, procs))
    assert g.drg == expected, g.trace
    assert g.trace.endswith(f"DRG={expected}")


def test_trace_names_the_mcc_and_the_family(ms) -> None:  # type: ignore[no-untyped-def]
    g = group_case(ms, Case("t", 66, "F", "01", "I214", ("I5021",), ("Y",), ("02703DZ",)))
    assert g.trace == "MDC=05(pdx I214)>ADRG=321-322(OR proc 02703DZ)>CC:MCC(I5021)>DRG=321"
    assert (g.mdc, g.adrg, g.severity) == ("05", "321-322", "MCC")


def test_shipped_file_is_small_and_cites_its_sources(ms) -> None:  # type: ignore[no-untyped-def]
    size = (SCHEMES_DIR / "ms-drg-v43.json.xz").stat().st_size
    assert size < 3_000_000
    text = " ".join(s.source + s.licence for s in ms.scheme.sources)
    assert "drgpy" in text and "Apache-2.0" in text and "public domain" in text
    assert ms.scheme.id == "ms-drg-v43" and ms.scheme.version == "43.0"


def test_every_drg_of_the_scheme_has_a_cms_title(ms) -> None:  # type: ignore[no-untyped-def]
    drgs = {d for a in ms.scheme.adrgs for d in a.drg.values()}
    assert drgs <= set(ms.scheme.drg_names)
    assert len(drgs) > 700


def test_build_script_exists_next_to_the_data() -> None:
    assert (Path(__file__).resolve().parents[2] / "tools" / "build_msdrg_scheme.py").exists()
