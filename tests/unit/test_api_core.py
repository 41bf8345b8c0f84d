"""Pure parts of the service: masking, password hashing, the 3201 comparison, the envelope, FHIR mapping."""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from yibao.access.passwords import hash_password, verify_password
from yibao.errors import FieldError
from yibao.web import fhir_map as fm
from yibao.web.jsonresp import dumps
from yibao.web.masking import MaskingFilter, mask_certno, mask_name, mask_phone, mask_text
from yibao.web.national import Envelope, EnvelopeError, Statement, data_of, reconcile, response


def test_id_numbers_keep_region_and_last_four() -> None:
    assert mask_certno("61010119900101123X") == "610101********123X"
    assert mask_certno("610101900101123") == "610101*****1123"
    assert mask_certno("12345") == "*****"


def test_names_keep_the_first_character_and_phones_the_ends() -> None:
    assert mask_name("欧阳娜娜") == "欧***" and mask_name("李") == "李" and mask_name("") == ""
    assert mask_phone("13912345678") == "139****5678"


def test_free_text_masks_id_and_phone_numbers_but_not_other_numbers() -> None:
    line = "GET /x?certno=61010119900101123X&tel=13912345678&setl=20250501123456789012345 200"
    assert (
        mask_text(line) == "GET /x?certno=610101********123X&tel=139****5678&setl=20250501123456789012345 200"
    )


def test_the_log_filter_masks_arguments_and_keeps_them_a_tuple() -> None:
    rec = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/p?id=610101199001011234", "1.1", 200),
        None,
    )
    assert MaskingFilter().filter(rec)
    assert isinstance(rec.args, tuple) and rec.getMessage().endswith(
        '"GET /p?id=610101********1234 HTTP/1.1" 200'
    )
    plain = logging.LogRecord("yibao", logging.INFO, __file__, 1, "读取 13912345678", None, None)
    MaskingFilter().filter(plain)
    assert plain.getMessage() == "读取 139****5678"


def test_passwords_verify_only_with_the_right_password_and_are_salted() -> None:
    h = hash_password("correct horse")
    assert verify_password("correct horse", h) and not verify_password("correct hors", h)
    assert h != hash_password("correct horse")
    assert not verify_password("x", "garbage") and not verify_password("x", "bcrypt$1$2$3$4$5")


def test_reconcile_is_balanced_only_when_all_four_figures_agree() -> None:
    ours = Statement(338_140, 200_000, 10_000, 1)
    assert reconcile(ours, ours, "610100")["stmtinfo"]["stmt_rslt"] == "0"
    off = reconcile(Statement(338_140, 200_000, 10_000, 2), ours, "610100")["stmtinfo"]
    assert off["stmt_rslt"] == "1" and off["stmt_rslt_dscr"].endswith("fixmedins_setl_cnt +1")
    assert off["medfee_sumamt"] == "3381.40"


def test_the_response_envelope_carries_the_error_field_and_a_30_character_refmsgid() -> None:
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ok = response("610100", {"a": 1}, now)
    assert ok["infcode"] == 0 and len(ok["inf_refmsgid"]) == 30 and ok["refmsg_time"] == "20260102030405000"
    bad = response("", None, now, error=EnvelopeError("input.data.setl_id", "is required", "missing"))
    assert (bad["infcode"], bad["err_field"], bad["err_code"]) == (-1, "input.data.setl_id", "missing")
    assert bad["inf_refmsgid"].startswith("000000")


def test_input_data_must_be_an_object() -> None:
    assert data_of(Envelope(infno="2207", msgid="m", input={"data": {"x": 1}})) == {"x": 1}
    assert data_of(Envelope(infno="2207", msgid="m", input={"x": 1})) == {"x": 1}
    with pytest.raises(EnvelopeError) as e:
        data_of(Envelope(infno="2207", msgid="m", input={"data": [1]}))
    assert e.value.field == "input.data"


def test_decimals_are_written_as_exact_json_numbers() -> None:
    assert dumps({"v": Decimal("3381.40"), "s": "中文"}) == '{"v":3381.40,"s":"中文"}'.encode()


def _claim() -> dict[str, object]:
    return {
        "resourceType": "Claim",
        "use": "claim",
        "identifier": [{"value": "H61000000001X"}],
        "subType": {"coding": [{"system": fm.CS_MED_TYPE, "code": "21"}]},
        "extension": [{"url": fm.EXT_HOSP_LV, "valueString": "3"}],
        "patient": {"reference": "Patient/P1"},
        "provider": {"reference": "Organization/H61000000001"},
        "billablePeriod": {"start": "2025-05-03", "end": "2025-05-10"},
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"code": "I21.0"}]}}],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"system": fm.CS_MED_LIST, "code": "A1"}]},
                "quantity": {"value": 2},
                "unitPrice": {"value": 1.5, "currency": "CNY"},
                "net": {"value": 3.0, "currency": "CNY"},
            }
        ],
    }


def test_a_claim_maps_to_the_visit_json_the_settlement_edge_reads() -> None:
    visit, msgid, pre = fm.claim_to_visit(_claim())
    assert (msgid, pre) == ("H61000000001X", False)
    assert (visit["psn_no"], visit["fixmedins_code"], visit["hosp_lv"], visit["med_type"]) == (
        "P1",
        "H61000000001",
        "3",
        "21",
    )
    assert visit["feedetail"] == [
        {"feedetl_sn": "1", "med_list_codg": "A1", "cnt": "2", "pric": "1.5", "det_item_fee_sumamt": "3.0"}
    ]
    assert fm.claim_to_visit({**_claim(), "use": "predetermination"})[2] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"use": "refund"}, "Claim.use"),
        ({"identifier": []}, "Claim.identifier"),
        ({"subType": None}, "Claim.subType"),
        ({"item": []}, "Claim.item"),
        ({"patient": {}}, "Claim.patient"),
    ],
)
def test_a_claim_missing_what_settlement_needs_names_the_element(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(fm.ClaimError) as e:
        fm.claim_to_visit({**_claim(), **change})
    assert e.value.field == field


def test_a_foreign_currency_is_refused() -> None:
    c = copy.deepcopy(_claim())
    c["item"][0]["net"]["currency"] = "USD"  # type: ignore[index]
    with pytest.raises(fm.ClaimError) as e:
        fm.claim_to_visit(c)
    assert e.value.field == "Claim.item[0].net.currency"


def test_visit_fields_in_errors_map_back_to_claim_paths() -> None:
    assert fm.fhir_expression("feedetail[3].pric") == "Claim.item[3].unitPrice"
    assert fm.fhir_expression("begntime") == "Claim.billablePeriod.start"


def test_the_service_audits_with_the_bureaus_knowledge_directory_and_reads_physician_and_days(
    tmp_path: Path,
) -> None:
    """``YIBAO_AUDIT_KNOWLEDGE`` points the in-event audit at a bureau's tables; a ``physicians.csv`` there is
    the registry GZ-YB-017 checks, and a fee line's ``prd_days`` is what GZ-YB-018 reads."""
    import shutil

    from yibao.audit.knowledge import example_dir
    from yibao.settings import Settings
    from yibao.settlement.io import parse_visit
    from yibao.settlement.model import Person

    kdir = tmp_path / "knowledge"
    shutil.copytree(example_dir(), kdir)
    (kdir / "physicians.csv").write_text(
        "dr_code,fixmedins_code,title\nD1,H61000000001,233\n", encoding="utf-8"
    )
    visit = parse_visit(
        {
            "mdtrt_id": "M1",
            "psn_no": "P1",
            "med_type": "11",
            "fixmedins_code": "H61000000001",
            "hosp_lv": "3",
            "begntime": "2025-05-03",
            "diagnoses": ["J02.9"],
            "bilg_dr_codg": "D1",
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "001102000030000",
                    "cnt": 1,
                    "pric": "30.00",
                    "det_item_fee_sumamt": "30.00",
                },
                {
                    "feedetl_sn": "2",
                    "med_list_codg": "XJ01CAA001E001010191924",
                    # 60 capsules for 3 days: more than 8 a day (the 说明书 usual dose, the example tables'
                    # daily maximum) × 3 days plus one whole pack of 24, so GZ-YB-018 reads the stated days
                    "cnt": 60,
                    "pric": "0.30",
                    "det_item_fee_sumamt": "18.00",
                    "prd_days": 3,
                },
            ],
        }
    )
    assert visit.bilg_dr_codg == "D1" and visit.lines[1].prd_days == 3
    person = Person("P1", "", "x", "F", dt.date(1990, 1, 1), "310", "11")
    found = {(f.rule_code, f.feedetl_sn) for f in _hook(Settings(audit_knowledge=str(kdir)))(person, visit)}
    assert {("GZ-YB-017", "1"), ("GZ-YB-018", "2")} <= found
    plain = {f.rule_code for f in _hook(Settings())(person, visit)}  # the EXAMPLE tables: no registry
    assert "GZ-YB-017" not in plain and "GZ-YB-018" in plain

    def days(raw: object) -> int | None:
        return (
            parse_visit(
                {
                    "mdtrt_id": "M1",
                    "psn_no": "P1",
                    "med_type": "11",
                    "fixmedins_code": "H1",
                    "hosp_lv": "3",
                    "begntime": "2025-05-03",
                    "feedetail": [
                        {
                            "med_list_codg": "X",
                            "cnt": 1,
                            "pric": "1.00",
                            "det_item_fee_sumamt": "1.00",
                            "prd_days": raw,
                        }
                    ],
                }
            )
            .lines[0]
            .prd_days
        )

    assert [days(7), days("7"), days("7.00"), days(7.0), days(0), days(""), days(None)] == [
        7,
        7,
        7,
        7,
        None,
        None,
        None,
    ]
    for bad, why in (("seven", "not a number"), ("2.5", "whole number"), (-1, "outside"), (4000, "outside")):
        with pytest.raises(FieldError, match=f"feedetail\\[0\\].prd_days.*{why}"):
            days(bad)
    # a fee line may name its own physician (2204 bilg_dr_codg): the title rule reads it before the visit's
    v2 = parse_visit(
        {
            "mdtrt_id": "M1",
            "psn_no": "P1",
            "med_type": "11",
            "fixmedins_code": "H61000000001",
            "hosp_lv": "3",
            "begntime": "2025-05-03",
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "001102000030000",
                    "cnt": 1,
                    "pric": "30.00",
                    "det_item_fee_sumamt": "30.00",
                    "bilg_dr_codg": "D1",
                }
            ],
        }
    )
    assert v2.bilg_dr_codg is None and v2.lines[0].bilg_dr_codg == "D1"
    found2 = {f.rule_code for f in _hook(Settings(audit_knowledge=str(kdir)))(person, v2)}
    assert "GZ-YB-017" in found2


def _hook(settings: object) -> Callable[..., Any]:
    from yibao.settings import Settings

    assert isinstance(settings, Settings)
    hook = settings.audit_hook()
    assert hook is not None
    return hook
