"""The enrolment policy file, the two bulk files' validation, the roster rules and the bureau figures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from yibao.enrolment.figures import (
    arrears_by_employer,
    collection_report,
    continuity_rate,
    income_frame,
    rate,
)
from yibao.enrolment.files import read_collection, read_roster
from yibao.enrolment.history import ACTIVE, SUSPENDED
from yibao.enrolment.model import EventKind, ImportRejected
from yibao.enrolment.policy import (
    REGIONS_DIR,
    EnrolmentPolicy,
    bind_region,
    parse_policy,
    policy_for_region,
)
from yibao.enrolment.roster import CurrentRelation, RosterRow, apply_roster
from yibao.policy.loader import PolicyError, example_path, load_region

D = dt.date


@pytest.fixture(scope="module")
def pol() -> EnrolmentPolicy:
    p = policy_for_region(load_region(example_path("xian")))
    assert p is not None
    return p


# ----------------------------------------------------------------------------- the policy file
def test_every_shipped_region_has_a_valid_enrolment_file() -> None:
    for name in ("xian", "weinan"):
        p = policy_for_region(load_region(example_path(name)))
        assert p is not None and p.retired_types == frozenset({"21"})
        assert all(p.cite(y.source) != y.source for y in p.resident_years.values())  # sources resolve


def test_policy_errors_name_the_path() -> None:
    raw = yaml.safe_load((REGIONS_DIR / "xian.yaml").read_text(encoding="utf-8"))
    raw["years"][0]["resident"]["individual"] = 400.5  # a float is refused (money is exact)
    raw["waiting_period"]["fixed_monthz"] = 3
    raw["incentives"]["source"] = "nowhere"
    with pytest.raises(PolicyError) as exc:
        parse_policy(raw, file="x.yaml")
    paths = {p.path for p in exc.value.problems}
    assert "years[0].resident.individual" in paths and "waiting_period.fixed_monthz" in paths
    reason = {p.path: p.reason for p in exc.value.problems}
    assert reason["waiting_period.fixed_monthz"].startswith("未知的键 unknown key (not part of the")
    assert reason["years[0].resident.individual"].startswith("金额须为小数字符串或整数 amount must be")
    raw = yaml.safe_load((REGIONS_DIR / "xian.yaml").read_text(encoding="utf-8"))
    raw["incentives"]["source"] = "nowhere"
    with pytest.raises(PolicyError) as exc:
        parse_policy(raw, file="x.yaml")
    assert [p.path for p in exc.value.problems] == ["incentives.source"]
    assert exc.value.problems[0].reason.startswith("未声明的出处 unknown source 'nowhere'; declared: ")


def test_bind_region_refuses_another_region_and_unknown_identities() -> None:
    raw = yaml.safe_load((REGIONS_DIR / "xian.yaml").read_text(encoding="utf-8"))
    raw["waiting_period"]["exempt_identities"] = ["DB", "XX"]
    p = parse_policy(raw)
    with pytest.raises(PolicyError) as exc:
        bind_region(p, load_region(example_path("xian")))
    assert [(q.path, q.reason.split(" identity ")[0]) for q in exc.value.problems] == [
        ("waiting_period.exempt_identities", "地区文件未声明该身份")
    ]
    assert "'XX' is not declared in" in str(exc.value)
    with pytest.raises(PolicyError) as other:
        bind_region(
            parse_policy(yaml.safe_load((REGIONS_DIR / "xian.yaml").read_text())),
            load_region(example_path("weinan")),
        )
    (problem,) = other.value.problems
    assert problem.path == "region.admdvs" and problem.reason.startswith("与地区文件的区划不一致 ")


# ----------------------------------------------------------------------------- the collection file
HEADER = "psn_no,certno,psn_name,year,paid_on,individual,assistance,identity,kind,household_no,district\n"


def _cert(body17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * k for c, k in zip(body17, w, strict=True)) % 11]


C1, C2, C3 = _cert("61010019800501001"), _cert("61010019900101002"), _cert("61010020250310003")


def write(tmp: Path, body: str) -> Path:
    p = tmp / "c.csv"
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_a_good_collection_file_is_typed(tmp_path: Path, pol: EnrolmentPolicy) -> None:
    f = write(
        tmp_path,
        f"R1,{C1},张三,2025,2024-10-01,400,,,,H1,雁塔区\nR2,{C2},李四,2025,2024-11-01,160.00,240,DB,annual,,\n"
        f"R1,{C1},张三,2024,2025-03-01,400,0,,repair,H1,雁塔区\n",
    )
    cf = read_collection(f, pol)
    rows = cf.frame.sort("row").to_dicts()
    assert [r["row"] for r in rows] == [2, 3, 4]
    assert (rows[0]["gender"], rows[0]["birth_date"], rows[0]["individual_fen"]) == (
        "M",
        D(1980, 5, 1),
        40_000,
    )
    assert (rows[1]["assistance_fen"], rows[1]["identity"], rows[1]["subsidy_fen"]) == (24_000, "DB", 70_000)
    assert (rows[2]["kind"], rows[2]["subsidy_fen"]) == ("repair", 0)


def test_every_bad_row_is_reported_with_line_column_and_reason(tmp_path: Path, pol: EnrolmentPolicy) -> None:
    bad_check = C1[:-1] + ("0" if C1[-1] != "0" else "1")
    f = write(
        tmp_path,
        f"R1,{C1},张三,2025,2024-10-01,400,,,,,\n"  # 2 fine
        f"R2,{bad_check},李四,2025,2024-10-01,400,,,,,\n"  # 3 check digit
        f"R3,{C2},王五,2019,2024-10-01,400,,,,,\n"  # 4 year not in the policy
        f"R4,{C3},赵六,2025,2024-13-01,400,,,,,\n"  # 5 bad date
        f"R5,{_cert('61010019700101005')},钱七,2025,2024-10-01,399,,,,,\n"  # 6 wrong amount
        f"R6,{_cert('61010019700101007')},孙八,2025,2024-10-01,160,240,TK,,,\n"  # 7 TK is paid in full
        f"R1,{C1},张三,2025,2024-10-02,400,,,,,\n"  # 8 the same person and year again
        f"R7,{_cert('61010019700101009')},周九,2025,2024-08-01,400,,,,,\n"  # 9 before the period opens
        f"R8,{_cert('61010019700101011')},,2025,2024-10-01,400,,,,,\n",  # 10 name missing
    )
    with pytest.raises(ImportRejected) as exc:
        read_collection(f, pol)
    got = {(p.row, p.field) for p in exc.value.problems}
    assert {(3, "certno"), (4, "year"), (5, "paid_on"), (6, "individual"), (7, "assistance"), (8, "year"),
            (9, "paid_on"), (10, "psn_name")} <= got  # fmt: skip
    assert not any(r == 2 for r, _ in got)
    assert all(
        any("\u4e00" <= ch <= "\u9fff" for ch in p.reason) for p in exc.value.problems
    )  # Chinese first
    assert "nothing was imported" in str(exc.value)


def test_missing_and_unknown_columns(tmp_path: Path, pol: EnrolmentPolicy) -> None:
    p = tmp_path / "x.csv"
    p.write_text("psn_no,certno\nR1,x\n", encoding="utf-8")
    with pytest.raises(Exception) as exc:
        read_collection(p, pol)
    assert "missing required column" in str(exc.value)
    p.write_text(HEADER.strip() + ",extra\n", encoding="utf-8")
    with pytest.raises(Exception) as exc:
        read_collection(p, pol)
    assert "unknown column" in str(exc.value)


# ----------------------------------------------------------------------------- the roster
def row(
    n: int, psn: str, action: str, wage: int = 800_000, paid: dt.date | None = D(2025, 3, 12)
) -> RosterRow:
    return RosterRow(n, "E1", "甲公司", (2025, 3), psn, C1, "张三", wage, action, paid)


def test_roster_add_keep_leave_retire(pol: EnrolmentPolicy) -> None:
    cur = {
        "K": CurrentRelation("K", ACTIVE, "310", "11", "E1", 4),
        "L": CurrentRelation("L", ACTIVE, "310", "11", "E1", 2),
        "T": CurrentRelation("T", ACTIVE, "310", "11", "E1", 7),
        "R": CurrentRelation("R", ACTIVE, "390", "31", "", 3),
        "S": CurrentRelation("S", SUSPENDED, "310", "11", "E9", 5),
    }
    out = apply_roster(
        [row(2, "N", "add"), row(3, "K", "keep"), row(4, "L", "leave"), row(5, "T", "retire"),
         row(6, "R", "add"), row(7, "S", "add", paid=None)],
        cur,
        pol,
    )  # fmt: skip
    assert out.errors == []
    kinds = [(e.psn_no, e.kind, e.day, e.seq) for e in out.events]
    assert ("N", EventKind.ENROL, D(2025, 3, 1), 1) in kinds
    assert ("L", EventKind.SUSPEND, D(2025, 4, 1), 3) in kinds
    assert ("T", EventKind.CHANGE_TYPE, D(2025, 4, 1), 8) in kinds
    assert ("R", EventKind.TERMINATE, D(2025, 3, 1), 4) in kinds and (
        "R",
        EventKind.ENROL,
        D(2025, 3, 1),
        5,
    ) in kinds
    assert ("S", EventKind.RESUME, D(2025, 3, 1), 6) in kinds
    assert len(out.contributions) == 6 and out.contributions[-1].paid_on is None
    assert out.relations["T"].psn_type == "21" and out.relations["L"].state == SUSPENDED


def test_roster_errors_and_nothing_half_applied(pol: EnrolmentPolicy) -> None:
    cur = {"K": CurrentRelation("K", ACTIVE, "310", "11", "E2", 4)}
    rows = [
        row(2, "N", "add"),
        row(3, "K", "keep"),  # another employer's employee
        row(4, "K", "add"),  # already an employee (and a duplicate row)
        row(5, "Z", "leave"),  # not an employee
        RosterRow(6, "E1", "甲公司", (2025, 4), "M", C1, "x", 1, "keep"),  # another month
    ]
    out = apply_roster(rows, cur, pol, stored_months=frozenset({("N", (2025, 3))}))
    assert {(e.row, e.field) for e in out.errors} == {
        (2, "month"),
        (3, "psn_no"),
        (4, "psn_no"),
        (5, "psn_no"),
        (6, "month"),
    }
    assert out.events == [] and out.contributions == []


def test_roster_file_shape(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text(
        "emp_no,emp_name,month,psn_no,certno,psn_name,wage,action,paid_on\n"
        f"E1,甲,2025-03,P1,{C1},张三,8000,add,2025-03-12\n"
        f"E1,甲,2025-3,P2,{C2},李四,80x,hire,2025-03-40\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as exc:
        read_roster(p)
    assert {(q.row, q.field) for q in exc.value.problems} == {
        (3, "month"),
        (3, "wage"),
        (3, "action"),
        (3, "paid_on"),
    }


# ----------------------------------------------------------------------------- figures
def contributions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "psn_no": ["A", "A", "B", "C"],
            "month": ["2025-01", "2025-02", "2025-01", "2025-06"],
            "kind": ["normal", "normal", "normal", "top_up"],
            "emp_no": ["E1", "E1", "E2", ""],
            "base_fen": [600_000] * 4,
            "employer_fen": [42_000, 42_000, 42_000, 500_000],
            "individual_fen": [12_000, 12_000, 12_000, 0],
            "account_fen": [12_000, 12_000, 12_000, 0],
            "months": [1, 1, 1, 12],
            "paid_on": [D(2025, 1, 10), D(2025, 5, 3), None, D(2025, 6, 9)],
        }
    )


def premiums() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "psn_no": ["X", "Y", "Z"],
            "year": [2025, 2025, 2024],
            "kind": ["annual", "annual", "repair"],
            "paid_on": [D(2024, 10, 1), D(2024, 10, 20), D(2025, 3, 1)],
            "individual_fen": [40_000, 16_000, 40_000],
            "assistance_fen": [0, 24_000, 0],
            "subsidy_fen": [70_000, 70_000, 0],
            "identity": ["", "DB", ""],
        },
        schema_overrides={"year": pl.Int32},
    )


def test_income_frame_books_every_fen_by_month_fund_and_source(pol: EnrolmentPolicy) -> None:
    inc = income_frame(contributions(), premiums(), pol)
    assert inc.schema == pl.Schema(
        {"month": pl.String, "fund_pay_type": pl.String, "source": pl.String, "amount_fen": pl.Int64}
    )
    got = {(m, f, s): a for m, f, s, a in inc.rows()}
    assert got[("2025-01", "310100", "employer")] == 42_000
    assert got[("2025-01", "310200", "individual")] == 12_000
    # February paid in May, beyond one month of grace: a back payment; the lump sum too
    assert (
        got[("2025-05", "310100", "back_payment")] == 42_000
        and got[("2025-05", "310200", "back_payment")] == 12_000
    )
    assert got[("2025-06", "310100", "back_payment")] == 500_000
    oct_ind = 56_000
    ci = (oct_ind * pol.critical_illness_share + 5_000) // 10_000
    assert (
        got[("2024-10", "390200", "individual")] == ci
        and got[("2024-10", "390100", "individual")] == oct_ind - ci
    )
    assert got[("2024-10", "390100", "assistance")] + got[("2024-10", "390200", "assistance")] == 24_000
    assert got[("2025-03", "390100", "back_payment")] + got[("2025-03", "390200", "back_payment")] == 40_000
    total_in = 42_000 * 2 + 12_000 * 2 + 500_000 + 40_000 + 16_000 + 24_000 + 140_000 + 40_000
    assert int(inc["amount_fen"].sum()) == total_in  # nothing lost, the unpaid month not counted
    acc = income_frame(contributions(), premiums(), pol, basis="accrual")
    assert int(acc["amount_fen"].sum()) == total_in
    assert set(acc.filter(pl.col("fund_pay_type") == "390100")["month"]) >= {
        f"2025-{m:02d}" for m in range(1, 13)
    }


def test_arrears_continuity_and_collection_report(pol: EnrolmentPolicy) -> None:
    arr = arrears_by_employer(contributions(), D(2025, 4, 1), pol)
    assert arr.rows() == [("E1", 1, 1, 54_000, "2025-02"), ("E2", 1, 1, 54_000, "2025-01")]
    assert set(arrears_by_employer(contributions(), D(2025, 6, 1), pol)["emp_no"]) == {"E2"}
    two_years = pl.concat(
        [
            premiums(),
            premiums().filter(pl.col("kind") == "annual").with_columns(pl.lit(2024, pl.Int32).alias("year")),
        ]
    ).filter(~((pl.col("psn_no") == "Y") & (pl.col("year") == 2025)))
    cont = continuity_rate(contributions(), two_years, 2025)
    assert cont.rows() == [("390", 2, 1, 5_000)]  # X and Y insured in 2024, only X again in 2025
    rep = collection_report(premiums(), 2025, pol)
    assert (rep["persons_paid"], rep["paid_in_period"], rep["assistance_fen"]) == (2, 2, 24_000)
    assert rep["assisted_by_identity"] == {"-": 1, "DB": 1}
    assert rate(1, 3) == 3333 and rate(2, 3) == 6667 and rate(1, 0) == 0
