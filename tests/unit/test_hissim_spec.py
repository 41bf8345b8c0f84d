"""The interface spec as data: every transaction of issue 20 is there, its tables are well formed."""

import ast
from pathlib import Path

import pytest

from hissim.cli import main, print_spec
from hissim.spec import SpecError, build_spec, load_spec

REQUIRED = (
    "9001 9002 1101 2001 2201 2202 2203 2204 2205 2206 2207 2208 2301 2302 2303 2304 2305 "
    "2401 2402 2403 2404 2405 2601 3201 3202 3203 5203 5204 5206 9101 9102"
).split()


def test_every_transaction_of_the_issue_is_specified():
    spec = load_spec()
    assert sorted(spec.transactions) == sorted(REQUIRED)
    for infno in REQUIRED:
        tx = spec.tx(infno)
        assert tx.name and tx.purpose and tx.src, infno
        assert tx.input, f"{infno} has no input node"


def test_field_types_lengths_and_code_tables_are_consistent():
    spec = load_spec()
    for tx in spec.transactions.values():
        for node in (*tx.input, *tx.output):
            for f in node.fields:
                if f.type == "str":
                    assert f.length, f"{tx.infno}.{node.name}.{f.name} needs a length"
                if f.type == "num":
                    assert f.length and f.scale < f.length, f"{tx.infno}.{node.name}.{f.name}"
                if f.code:
                    assert f.code in spec.codes


def test_settlement_result_fields_as_the_spec_writes_them():
    setl = load_spec().tx("2207").node("output", "setlinfo")
    assert setl is not None
    total = setl.field("medfee_sumamt")
    assert total is not None and (total.type, total.length, total.scale, total.required) == (
        "num",
        16,
        2,
        True,
    )
    ratio = setl.field("pool_prop_selfpay")
    assert ratio is not None and (ratio.length, ratio.scale) == (5, 4)
    clr = setl.field("clr_type")
    assert clr is not None and clr.code == "clr_type" and clr.required


def test_pre_settlement_need_not_carry_a_settlement_id():
    spec = load_spec()
    pre = spec.tx("2206").node("output", "setlinfo")
    final = spec.tx("2207").node("output", "setlinfo")
    assert pre is not None and final is not None
    assert not pre.field("setl_id").required  # type: ignore[union-attr]
    assert final.field("setl_id").required  # type: ignore[union-attr]


def test_envelope_tables():
    spec = load_spec()
    names = [f.name for f in spec.request_envelope]
    for name in (
        "infno",
        "msgid",
        "mdtrtarea_admvs",
        "insuplc_admdvs",
        "recer_sys_code",
        "cainfo",
        "signtype",
        "infver",
        "opter_type",
        "opter",
        "opter_name",
        "inf_time",
        "fixmedins_code",
        "sign_no",
        "input",
    ):
        assert name in names
    resp = {f.name: f for f in spec.response_envelope}
    assert resp["refmsg_time"].fmt == "yyyyMMddHHmmssSSS" and resp["refmsg_time"].length == 17
    assert resp["infcode"].type == "num" and resp["infcode"].code == "infcode"


def test_a_field_pointing_at_a_missing_code_table_is_refused():
    envelope = {"request": [], "response": []}
    doc = {
        "9999": {
            "name": "x",
            "input": {"data": {"fields": [{"name": "a", "type": "str", "len": 1, "code": "nope"}]}},
        }
    }
    with pytest.raises(SpecError, match="nope"):
        build_spec(envelope, [("t.yaml", doc)], {}, {})


def test_a_transaction_defined_twice_is_refused():
    envelope = {"request": [], "response": []}
    doc = {"9999": {"name": "x"}}
    with pytest.raises(SpecError, match="重复"):
        build_spec(envelope, [("a.yaml", doc), ("b.yaml", doc)], {}, {})


def test_code_overlay_extends_an_open_table_and_can_close_it():
    spec = load_spec()
    assert spec.codes["med_type"].accepts("9901")  # open: pattern only
    closed = spec.with_codes({"med_type": {"kind": "closed", "values": {"9901": "门诊两病"}}})
    assert closed.codes["med_type"].accepts("9901") and closed.codes["med_type"].accepts("11")
    assert not closed.codes["med_type"].accepts("9902")
    assert not spec.codes["chrgitm_lv"].accepts("04")


def test_print_spec_writes_the_field_table(capsys):
    print_spec(load_spec(), "2204")
    out = capsys.readouterr().out
    assert "# 2204 门诊费用明细信息上传" in out
    assert "| chrg_bchno | 收费批次号 | 字符型 | 30 |  | Y | 同一收费批次号病种编号必须一致 |" in out
    assert "| pric_uplmt_amt | 定价上限金额 | 数值型 | 16,6 |" in out


def test_cli_spec_unknown_transaction_exits_2(capsys):
    assert main(["spec", "1234"]) == 2
    assert "1234" in capsys.readouterr().err


def test_hissim_imports_nothing_of_yibao():
    root = Path(__file__).resolve().parents[2] / "src" / "hissim"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            assert not any(m == "yibao" or m.startswith("yibao.") for m in mods), f"{path} imports {mods}"
