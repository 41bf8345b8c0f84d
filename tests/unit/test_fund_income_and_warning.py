"""The stand-in contributions (国发〔1998〕44号 rates, 医保发〔2024〕19号 premiums, 冀医保发〔2025〕6号
subsidies) and the early-warning indicators with their lines (local thresholds around the national bulletin)."""

from __future__ import annotations

import polars as pl
import pytest

from yibao.fund import accounts, income, warning
from yibao.fund.params import load_contributions, load_params
from yibao.fund.warning import ACTIVITY_SCHEMA, AlertError, Members
from yibao.money import apply_ratio, div_half_up

FP, RATES = load_params(), load_contributions()


def test_employee_contributions_split_between_pool_and_account_and_retirees_pay_nothing() -> None:
    c = income.HeadCounts(in_service=10, retired=4, residents=0)
    df = income.contributions(c, RATES, 2025)
    by = dict(
        df.group_by("fund_pay_type", "source")
        .agg(pl.col("amount_fen").sum())
        .select(pl.concat_str("fund_pay_type", "source", separator="/"), "amount_fen")
        .iter_rows()
    )
    wage = RATES.wage_base(2025)
    assert by["310100/employer"] == 12 * 10 * apply_ratio(wage, RATES.employee.employer_rate)
    assert by["310200/individual"] == 12 * 10 * apply_ratio(wage, RATES.employee.individual_rate)
    assert by["330100/individual"] == 14 * RATES.employee.large_amount_premium_yearly
    assert set(df["month"].unique()) == {f"2025-{m:02d}" for m in RATES.timing.employee_months}
    t = income.retiree_transfers(4, RATES, 2025)
    assert (
        t.filter(pl.col("kind") == "transfer_out")["amount_fen"].sum()
        == 12 * 4 * RATES.employee.retiree_account_monthly
    )


def test_resident_premiums_assistance_subsidies_and_the_critical_illness_allocation_add_up() -> None:
    c = income.HeadCounts(in_service=0, retired=0, residents=100, assisted={"TK": 2, "DB": 5})
    df = income.contributions(c, RATES, 2025)
    ind, sub = RATES.resident_premium(2025)
    res = df.filter(pl.col("fund_pay_type").is_in(["390100", "390200"]))
    # every fen of the premium reaches the pool or the critical-illness fund
    assert res["amount_fen"].sum() == 100 * (ind + sub)
    assert (
        df.filter(pl.col("fund_pay_type") == "390200")["amount_fen"].sum()
        == 100 * RATES.resident.critical_allocation_yearly
    )
    assist = res.filter(pl.col("source") == "assistance")["amount_fen"].sum()
    assert assist == 2 * apply_ratio(ind, 10_000) + 5 * apply_ratio(
        ind, RATES.assistance.premium_subsidy["DB"]
    )
    assert (
        df.filter(pl.col("fund_pay_type") == "610100")["amount_fen"].sum()
        == 7 * RATES.assistance.fiscal_per_assisted_yearly
    )
    # the frame is exactly the enrolment contract's shape
    assert (
        df.columns == ["month", "fund_pay_type", "source", "amount_fen"]
        and df["amount_fen"].dtype == pl.Int64
    )


def test_head_counts_come_from_the_register_with_the_first_assisted_identity() -> None:
    persons = pl.DataFrame(
        {"psn_type": ["11", "21", "31", "31", "32"], "identities": ["", "", "DB|TK", "DB", ""]}
    )
    c = income.head_counts(
        persons, {"11": "in_service", "21": "retired", "31": "resident", "32": "resident"}, ("TK", "DB")
    )
    assert (c.in_service, c.retired, c.residents, c.assisted) == (1, 1, 3, {"TK": 1, "DB": 1})


def test_premium_paths_carry_the_last_listed_year_forward() -> None:
    last = max(RATES.resident.fiscal_subsidy)
    assert RATES.resident_premium(last + 2, 0, 2_400)[1] == RATES.resident.fiscal_subsidy[last] + 4_800
    w = RATES.employee.wage_base_monthly[max(RATES.employee.wage_base_monthly)]
    assert RATES.wage_base(max(RATES.employee.wage_base_monthly) + 1, 500) == apply_ratio(w, 10_500)


# ------------------------------------------------------------------------------------------ warnings
def test_levels_against_above_and_below_lines() -> None:
    above, below = FP.warning["admission_rate"], FP.warning["active_retired_ratio"]
    assert warning.level_of(above.amber, above) == ("ok", above.amber)
    assert warning.level_of(above.amber + 1, above) == ("amber", above.amber)
    assert warning.level_of(above.red + 1, above) == ("red", above.red)
    assert warning.level_of(below.red - 1, below) == ("red", below.red)
    assert warning.level_of(None, above) == ("na", None)


def _books() -> tuple[dict[str, list[accounts.FundMonth]], pl.DataFrame]:
    rows = []
    for y, paid in ((2024, 800), (2025, 1_000)):
        for m in range(1, 13):
            mo = f"{y}-{m:02d}"
            rows += [
                (mo, "390100", "income", "individual", "", 1_000),
                (mo, "390100", "payment", "21", "", paid),
            ]
    e = pl.DataFrame(rows, schema=accounts.ENTRY_SCHEMA, orient="row")
    act = []
    for y, visits, fee in ((2024, 10, 100_000), (2025, 10, 120_000)):
        for m in range(1, 13):
            act.append((f"{y}-{m:02d}", "390", "21", "local", visits, fee, fee // 2))
            act.append((f"{y}-{m:02d}", "390", "11", "remote_filed", 100, 10_000, 5_000))
    return accounts.positions(e, ["390100"], FP.months_payable), pl.DataFrame(
        act, schema=ACTIVITY_SCHEMA, orient="row"
    )


def test_fund_readings_balance_rate_and_expenditure_growth_against_income_growth() -> None:
    pos, act = _books()
    rs = {(r.indicator, r.scope): r for r in warning.readings("2025-06", pos, act, {}, FP)}
    br = rs[("balance_rate", "390100")]
    assert br.value == 0 and br.level == "amber"  # (6,000 − 6,000) / 6,000 = 0, below the 5 % line
    gap = rs[("growth_gap", "390100")]
    assert gap.value == 2_500 and gap.level == "red"  # payments +25 %, income +0 %
    mp = rs[("months_payable", "390100")]
    assert mp.value == pos["390100"][17].months_x100


def test_scheme_readings_cost_growth_admission_rate_outflow_and_what_is_not_available() -> None:
    pos, act = _books()
    members = warning.members_by_month({2024: Members(0, 0, 100), 2025: Members(0, 0, 100)})
    rs = {(r.indicator, r.scope): r for r in warning.readings("2025-12", pos, act, members, FP)}
    assert rs[("cost_per_admission", "390")].value == 12_000  # 1,440,000 / 120
    assert rs[("cost_per_admission_growth", "390")].value == 2_000  # +20 % → red
    assert rs[("cost_per_admission_growth", "390")].level == "red"
    assert rs[("admission_rate", "390")].value == 12_000  # 120 admissions a year / 100 persons = 120 %
    share = rs[("cross_region_outflow", "390")]
    assert share.value == (60_000 * 10_000 * 2 + 780_000) // (780_000 * 2)
    assert "尚未导入跨省清算数据" in share.note_zh
    assert rs[("drg_outlier_share", "region")].level == "na"
    # a month with no year before: growth not available, said so
    first = {(r.indicator, r.scope): r for r in warning.readings("2024-03", pos, act, members, FP)}
    assert (
        first[("growth_gap", "390100")].value is None
        and "上年同期" in first[("growth_gap", "390100")].note_zh
    )


def test_rates_per_insured_person_divide_by_the_person_months_of_each_month() -> None:
    pos, act = _books()
    # 100 residents all 2025 except 200 from July: 6 × 100 + 6 × 200 = 1,800 person-months
    members = {f"2025-{m:02d}": Members(0, 0, 100 if m <= 6 else 200) for m in range(1, 13)}
    members |= {f"2024-{m:02d}": Members(0, 0, 100) for m in range(1, 13)}
    rs = {(r.indicator, r.scope): r for r in warning.readings("2025-12", pos, act, members, FP)}
    assert rs[("admission_rate", "390")].value == 120 * 12 * 10_000 // 1_800  # 8,000 = 80 %
    spent = 12 * (60_000 + 5_000)
    assert rs[("per_capita_spending", "390")].value == spent * 12 // 1_800
    prev = 12 * (50_000 + 5_000) * 12 // 1_200
    assert rs[("per_capita_spending_growth", "390")].value == div_half_up((5_200 - prev) * 10_000, prev)
    assert (spent * 12 // 1_800, prev) == (5_200, 6_600)
    # a month without a count: not available, and said why
    del members["2025-03"]
    rs = {(r.indicator, r.scope): r for r in warning.readings("2025-12", pos, act, members, FP)}
    assert rs[("admission_rate", "390")].value is None
    assert "逐月参保人数" in rs[("admission_rate", "390")].note_zh


def test_cross_region_outflow_counts_routed_visits_as_cleared_not_as_settled() -> None:
    pos, act = _books()
    members = warning.members_by_month({2025: Members(0, 0, 100)})
    # each month the ledger has 5,000 fen remote of 65,000; 3,000 of that came through the hub; the hub
    # cleared 2,000 in June (a line held) and 4,000 in July (carried in)
    cleared = {
        (f"2025-{m:02d}", "390"): warning.Cleared({6: 2_000, 7: 4_000}.get(m, 3_000), 3_000, 1, 1)
        for m in range(1, 13)
    }
    june = {
        (r.indicator, r.scope): r
        for r in warning.readings("2025-06", pos, act, members, FP, cleared_outflow=cleared)
    }
    share = june[("cross_region_outflow", "390")]
    out, tot = 6 * 5_000 - 6 * 3_000 + (5 * 3_000 + 2_000), 6 * 65_000 - 6 * 3_000 + (5 * 3_000 + 2_000)
    assert share.value == (out * 10_000 * 2 + tot) // (2 * tot)
    assert "含跨省清算" in share.note_zh and "170.00 元" in share.note_zh
    # without clearing data the ledger's own figure stands, and the note says the clearing is not imported
    plain = {(r.indicator, r.scope): r for r in warning.readings("2025-06", pos, act, members, FP)}
    assert plain[("cross_region_outflow", "390")].value == (30_000 * 10_000 * 2 + 390_000) // 780_000


def test_outlier_shares_and_the_active_retired_ratio() -> None:
    pos, act = _books()
    act310 = act.with_columns(pl.lit("310").alias("insutype"))
    rs = {
        (r.indicator, r.scope): r
        for r in warning.readings(
            "2025-12",
            pos,
            act310,
            warning.members_by_month({2025: Members(40, 20, 0)}),
            FP,
            outliers={"drg": (7, 100)},
        )
    }
    assert (
        rs[("drg_outlier_share", "region")].value == 700
        and rs[("drg_outlier_share", "region")].level == "amber"
    )
    assert (
        rs[("active_retired_ratio", "310")].value == 20_000
        and rs[("active_retired_ratio", "310")].level == "amber"
    )


def test_an_alert_message_names_what_where_how_much_the_line_and_the_rule() -> None:
    r = warning.Reading("months_payable", "390100", "2025-06", 250, "red", 300, "人社部发〔2009〕67号")
    zh, en = warning.message(r, {"390100": ("城乡居民基本医疗保险统筹基金", "resident pooled fund")})
    assert zh.startswith(
        "红色预警：城乡居民基本医疗保险统筹基金 2025-06 累计结余可支付月数 2.50 个月，低于预警线 3.00 个月"
    )
    assert "人社部发〔2009〕67号" in zh and en.startswith("red: resident pooled fund")


@pytest.mark.parametrize(
    ("status", "new", "actor", "note", "field"),
    [
        ("open", "closed", "张三", "done", "status"),  # acknowledge first
        ("open", "acknowledged", " ", "", "actor"),
        ("acknowledged", "following_up", "张三", " ", "note"),
        ("closed", "following_up", "张三", "x", "status"),
        ("open", "archived", "张三", "x", "status"),
    ],
)
def test_the_alert_lifecycle_refuses_what_a_person_may_not_do(
    status: str, new: str, actor: str, note: str, field: str
) -> None:
    with pytest.raises(AlertError) as e:
        warning.check_move(status, new, actor, note)
    assert e.value.field == field


def test_the_alert_lifecycle_allows_acknowledge_follow_up_and_close() -> None:
    warning.check_move("open", "acknowledged", "张三", "")
    warning.check_move("acknowledged", "following_up", "张三", "约谈医院")
    warning.check_move("following_up", "following_up", "张三", "复核")
    warning.check_move("following_up", "closed", "张三", "已整改")


def test_the_assistance_fund_pays_the_premiums_it_subsidises() -> None:
    from yibao.fund.service import premium_subsidy_payments

    c = income.HeadCounts(in_service=0, retired=0, residents=50, assisted={"TK": 3, "DB": 4})
    inc = accounts.income_entries(income.contributions(c, RATES, 2025), FP.codes())
    pay = premium_subsidy_payments(inc, FP.codes())
    assert pay["fund_pay_type"].unique().to_list() == ["610100"] and pay["kind"].unique().to_list() == [
        "payment"
    ]
    assert pay["amount_fen"].sum() == inc.filter(pl.col("source") == "assistance")["amount_fen"].sum() > 0
