"""The validator: field by field (type, length, scale, code table, required, format) and the identities of a
settlement result. Good messages pass; each kind of bad message fails with the field named."""

import copy
from decimal import Decimal

import pytest

from hissim.spec import load_spec
from hissim.validate import (
    check_msgid,
    fee_line_identities,
    settlement_identities,
    to_decimal,
    validate_request,
    validate_response,
)

SPEC = load_spec()


def envelope(infno, payload, **over):
    env = {
        "infno": infno,
        "msgid": "H61010000001202612070930000001",
        "mdtrtarea_admvs": "610100",
        "insuplc_admdvs": "610100",
        "recer_sys_code": "YBXT",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "0001",
        "opter_name": "收费员",
        "inf_time": "2026-12-07 09:30:00",
        "fixmedins_code": "H61010000001",
        "fixmedins_name": "模拟医院01",
        "sign_no": "610100202612070900000000000001",
        "input": payload,
    }
    env.update(over)
    return env


def settle_2207():
    return {
        "data": {
            "psn_no": "61000006000000000010866022",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": "610101198001010014",
            "med_type": "11",
            "medfee_sumamt": "69.60",
            "psn_setlway": "01",
            "mdtrt_id": "M000000000001",
            "chrg_bchno": "MZ1200000000001B",
            "insutype": "310",
            "acct_used_flag": "1",
            "invono": "",
            "fulamt_ownpay_amt": "0.00",
            "overlmt_selfpay": "0.00",
            "preselfpay_amt": "6.96",
            "inscp_scp_amt": "62.64",
        }
    }


def setlinfo(**over):
    info = {
        "mdtrt_id": "M000000000001",
        "setl_id": "S000000000001",
        "psn_no": "61000006000000000010866022",
        "psn_name": "王伟",
        "psn_cert_type": "01",
        "certno": "610101198001010014",
        "gend": "1",
        "psn_type": "11",
        "cvlserv_flag": "0",
        "setl_time": "2026-12-07 09:41:02",
        "med_type": "11",
        "medfee_sumamt": Decimal("69.60"),
        "fulamt_ownpay_amt": Decimal("0.00"),
        "overlmt_selfpay": Decimal("0.00"),
        "preselfpay_amt": Decimal("6.96"),
        "inscp_scp_amt": Decimal("62.64"),
        "hifp_pay": Decimal("50.11"),
        "pool_prop_selfpay": Decimal("0.8"),
        "cvlserv_pay": 0,
        "hifes_pay": 0,
        "hifmi_pay": 0,
        "hifob_pay": 0,
        "maf_pay": 0,
        "oth_pay": 0,
        "fund_pay_sumamt": Decimal("50.11"),
        "psn_part_amt": Decimal("19.49"),
        "acct_pay": Decimal("10.00"),
        "psn_cash_pay": Decimal("9.49"),
        "hosp_part_amt": Decimal("0.00"),
        "balc": Decimal("90.00"),
        "acct_mulaid_pay": Decimal("0.00"),
        "medins_setl_id": "H61010000001202612070930000001",
        "clr_type": "11",
    }
    info.update(over)
    return info


def answer(output, **over):
    body = {
        "infcode": 0,
        "inf_refmsgid": "610100202612070941020000000001",
        "refmsg_time": "20261207094102123",
        "respond_time": "20261207094102150",
        "err_msg": "",
        "output": output,
    }
    body.update(over)
    return body


def settle_answer(**over):
    detail = [
        {"fund_pay_type": "310100", "inscp_scp_amt": "62.64", "crt_payb_lmt_amt": "0", "fund_payamt": "50.11"}
    ]
    return answer({"setlinfo": setlinfo(**over), "setldetail": detail})


def paths(problems):
    return {p.path for p in problems}


def test_a_conforming_2207_request_and_answer_pass():
    assert validate_request(SPEC, envelope("2207", settle_2207())) == []
    assert validate_response(SPEC, "2207", settle_answer()) == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("medfee_sumamt", "69.601", "scale"),  # 16,2: three decimals
        ("medfee_sumamt", "12345678901234567.00", "length"),  # more than 14 integer digits
        ("medfee_sumamt", "six", "type"),
        ("mdtrt_cert_type", "2", "length_or_code"),
        ("psn_no", "9" * 31, "length"),  # 字符型 30
        ("acct_used_flag", "Y", "code_table"),  # closed 0/1
        ("insutype", 310, "type"),  # codes are strings
        ("chrg_bchno", "", "missing"),
        ("mdtrt_id", None, "missing"),
    ],
)
def test_a_bad_2207_input_field_is_named(field, value, code):
    payload = settle_2207()
    payload["data"][field] = value
    problems = [
        p for p in validate_request(SPEC, envelope("2207", payload)) if p.path == f"input.data.{field}"
    ]
    assert problems, f"{field}={value!r} passed"
    if code != "length_or_code":
        assert problems[0].code == code


def test_an_unknown_transaction_and_a_missing_node_fail():
    assert "envelope.infno" in paths(validate_request(SPEC, envelope("2299", {})))
    assert "input.data" in paths(validate_request(SPEC, envelope("2207", {})))


def test_envelope_fields_are_checked():
    problems = validate_request(
        SPEC, envelope("2207", settle_2207(), inf_time="2026/12/07 09:30", opter_type="4")
    )
    assert {"envelope.inf_time", "envelope.opter_type"} <= paths(problems)
    env = envelope("2207", settle_2207())
    del env["sign_no"]  # optional in the table
    assert validate_request(SPEC, env) == []


def test_msgid_is_code_time_and_serial():
    assert check_msgid("H61010000001202612070930000001", "H61010000001") == []
    assert check_msgid("H61010000001202612070930000001", "H61010000002")[0].code == "format"
    assert check_msgid("H6101000000120261207093000001", "H61010000001")[0].code == "length"
    assert check_msgid("H61010000001202613070930000001", "H61010000001")[0].reason.startswith("第 13–26 位")
    assert check_msgid("H6101000000120261207093000000A", "H61010000001")[0].reason.startswith("末 4 位")


def test_fee_lines_are_checked_row_by_row():
    row = {
        "feedetl_sn": "0001",
        "mdtrt_id": "M1",
        "psn_no": "P1",
        "chrg_bchno": "B1",
        "rx_circ_flag": "0",
        "fee_ocur_time": "2026-12-07 09:40:00",
        "med_list_codg": "XJ01CAA040A001010101445",
        "medins_list_codg": "YP0001",
        "det_item_fee_sumamt": "25.20",
        "cnt": "2",
        "pric": "12.600000",
        "bilg_dept_codg": "NK01",
        "bilg_dept_name": "内科",
        "bilg_dr_codg": "D001",
        "bilg_dr_name": "李医生",
        "hosp_appr_flag": "1",
    }
    bad = copy.deepcopy(row)
    bad["cnt"] = "2.00001"  # 16,4
    bad["fee_ocur_time"] = "2026-12-07"
    problems = validate_request(SPEC, envelope("2204", {"feedetail": [row, bad]}))
    assert paths(problems) == {"input.feedetail[1].cnt", "input.feedetail[1].fee_ocur_time"}
    assert "input.feedetail" in paths(validate_request(SPEC, envelope("2204", {"feedetail": row})))


def test_response_envelope_must_carry_times_and_numeric_infcode():
    body = settle_answer()
    body["infcode"] = "0"
    body["refmsg_time"] = "2026-12-07 09:41:02"
    del body["respond_time"]
    assert {"response.infcode", "response.refmsg_time", "response.respond_time"} <= paths(
        validate_response(SPEC, "2207", body)
    )


def test_a_failed_answer_needs_an_error_message_and_skips_the_output():
    ok = answer(None, infcode=-1, err_msg="医疗费总额与明细不符")
    assert validate_response(SPEC, "2207", ok) == []
    bad = answer(None, infcode=-1, err_msg="")
    assert paths(validate_response(SPEC, "2207", bad)) == {"response.err_msg"}


def test_missing_and_wrongly_coded_output_fields_are_named():
    body = settle_answer(clr_type=None, gend="3", setl_time="2026-12-07T09:41:02")
    problems = validate_response(SPEC, "2207", body)
    assert {"output.setlinfo.clr_type", "output.setlinfo.gend", "output.setlinfo.setl_time"} <= paths(
        problems
    )


def test_2208_accepts_the_spec_spelling_pdn_cash_pay():
    info = setlinfo()
    info["pdn_cash_pay"] = info.pop("psn_cash_pay")
    body = answer({"setlinfo": info, "setldetail": []})
    assert validate_response(SPEC, "2208", body) == []


@pytest.mark.parametrize(
    ("over", "path"),
    [
        ({"inscp_scp_amt": Decimal("62.65")}, "output.setlinfo.medfee_sumamt"),
        ({"hifp_pay": Decimal("50.10")}, "output.setlinfo.fund_pay_sumamt"),
        ({"psn_cash_pay": Decimal("9.48")}, "output.setlinfo.psn_part_amt"),
        ({"hosp_part_amt": Decimal("0.01")}, "output.setlinfo.psn_part_amt"),
        ({"pool_prop_selfpay": Decimal("1.2")}, "output.setlinfo.pool_prop_selfpay"),
    ],
)
def test_settlement_identities_fail_when_the_parts_do_not_add_up(over, path):
    problems = validate_response(SPEC, "2207", settle_answer(**over))
    assert path in {p.path for p in problems if p.code == "identity"}


def test_fund_detail_must_add_up_to_the_fund_total_accounts_excluded():
    info = setlinfo()
    good = [
        {"fund_pay_type": "310100", "fund_payamt": "50.11"},
        {"fund_pay_type": "310200", "fund_payamt": "10.00"},  # personal account: not a fund payment
    ]
    assert settlement_identities(info, good) == []
    bad = [{"fund_pay_type": "310100", "fund_payamt": "40.11"}]
    assert [p.path for p in settlement_identities(info, bad)] == ["setldetail"]


def test_5203_identity_uses_its_own_field_names():
    info = setlinfo()
    info["psn_pay"], info["cash_payamt"] = info.pop("psn_part_amt"), info.pop("psn_cash_pay")
    assert settlement_identities(info, []) == []
    info["cash_payamt"] = Decimal("1.00")
    assert [p.path for p in settlement_identities(info, [])] == ["setlinfo.psn_pay"]


def test_fee_line_split_must_add_up():
    row = {
        "det_item_fee_sumamt": "25.20",
        "fulamt_ownpay_amt": "0",
        "overlmt_amt": "0",
        "preselfpay_amt": "2.52",
        "inscp_scp_amt": "22.68",
        "selfpay_prop": "0.1",
    }
    assert fee_line_identities([row]) == []
    assert fee_line_identities([dict(row, inscp_scp_amt="22.69")])[0].path == "result[0].det_item_fee_sumamt"
    assert fee_line_identities([dict(row, selfpay_prop="1.5")])[0].path == "result[0].selfpay_prop"


def test_numbers_may_be_json_numbers_or_numeric_strings_but_not_booleans():
    assert to_decimal("12.30") == Decimal("12.30")
    assert to_decimal(12) == Decimal(12)
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(True) is None
    assert to_decimal("12,30") is None
    assert to_decimal("1e5") is None
