"""What the fund's warning reads from other capabilities, as data: insured persons month by month from the
enrolment relation history, and the outflow cleared with other regions matched to this region's routed
settlements (counted once: as cleared, in place of as settled)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from yibao.enrolment.figures import insured_by_month
from yibao.errors import FieldError
from yibao.fund.service import members_from_frame
from yibao.fund.warning import Members
from yibao.usecases.fund import cleared_outflow

D = dt.date
EVENTS = {
    "psn_no": pl.String,
    "seq": pl.Int32,
    "day": pl.Date,
    "kind": pl.String,
    "insutype": pl.String,
    "psn_type": pl.String,
}
PREMIUMS = {"psn_no": pl.String, "year": pl.Int32, "kind": pl.String, "paid_on": pl.Date}
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def _counts(events: list[tuple[Any, ...]], premiums: list[tuple[Any, ...]]) -> dict[tuple[str, str], int]:
    df = insured_by_month(
        pl.DataFrame(events, schema=EVENTS, orient="row"),
        pl.DataFrame(premiums, schema=PREMIUMS, orient="row"),
        MONTHS,
    )
    return {(m, t): int(n) for m, _, t, n in df.iter_rows()}


def test_the_insured_count_follows_each_persons_relation_month_by_month() -> None:
    ev = [
        ("A", 1, D(2020, 1, 1), "enrol", "310", "11"),
        ("A", 2, D(2025, 4, 10), "change_type", "", "21"),  # retires in April
        ("B", 1, D(2020, 1, 1), "enrol", "310", "11"),
        ("B", 2, D(2025, 3, 31), "death", "", ""),  # covered on the day of death: counted in March
        ("C", 1, D(2020, 1, 1), "enrol", "310", "11"),
        ("C", 2, D(2025, 6, 1), "suspend", "", ""),
        ("C", 3, D(2025, 9, 15), "resume", "", ""),  # keeps the scheme and the type
        ("D", 1, D(2025, 8, 1), "transfer_in", "310", "11"),
    ]
    c = _counts(ev, [])
    in_service = [c.get((m, "11"), 0) for m in MONTHS]
    retired = [c.get((m, "21"), 0) for m in MONTHS]
    # B dies on 31 March (counted in March); A retires in April; C is suspended June–mid September; D
    # transfers in in August
    assert in_service == [3, 3, 3, 1, 1, 0, 0, 1, 2, 2, 2, 2]
    assert retired == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def test_a_resident_counts_only_with_the_years_premium_paid_by_the_months_end() -> None:
    ev = [("R1", 1, D(2020, 1, 1), "enrol", "390", "31"), ("R2", 1, D(2020, 1, 1), "enrol", "390", "31")]
    prem = [("R1", 2025, "annual", D(2024, 11, 20)), ("R2", 2025, "repair", D(2025, 5, 3))]
    c = _counts(ev, prem)
    assert c[("2025-04", "31")] == 1 and c[("2025-05", "31")] == 2


def test_monthly_counts_map_to_the_funds_contribution_groups() -> None:
    counts = pl.DataFrame(
        {
            "month": ["2025-01", "2025-01", "2025-01", "2025-02"],
            "insutype": ["310", "310", "390", "390"],
            "psn_type": ["11", "21", "31", "99"],
            "insured": [7, 3, 20, 4],
        }
    )
    m = members_from_frame(counts, {"11": "in_service", "21": "retired", "31": "resident"})
    assert m == {"2025-01": Members(7, 3, 20), "2025-02": Members(0, 0, 4)}


# ---------------------------------------------------------------------------------- the clearing
SETTLED = pl.DataFrame(
    {
        "setl_id": ["S1", "S2", "S3", "S4"],
        "insutype": ["390", "390", "310", "390"],
        "month": ["2025-05", "2025-05", "2025-06", "2025-07"],
        "fund_pay_sumamt": [1_000, 2_000, 3_000, 4_000],
        "acct_pay": [0, 0, 500, 0],
    }
)
INBOUND = [
    {"msgid": "M1", "status": "settled", "setl_id": "S1"},
    {"msgid": "M2", "status": "settled", "setl_id": "S2"},
    {"msgid": "M3", "status": "settled", "setl_id": "S3"},
    {"msgid": "M4", "status": "settled", "setl_id": "S4"},  # July: not cleared yet
    {"msgid": "M9", "status": "reversed", "setl_id": ""},
]


def _doc(month: str, lines: list[tuple[str, int]], insu: str = "610100") -> dict[str, Any]:
    return {
        "month": month,
        "closed": True,
        "pairs": [
            {
                "care_admdvs": "110000",
                "insu_admdvs": insu,
                "statement": {"lines": [{"msgid": m, "owed_fen": o} for m, o in lines]},
            }
        ],
    }


def test_cleared_lines_replace_the_routed_settlements_month_by_month() -> None:
    # May clears M1 (M2 disputed, held); June clears M3 and the accepted M2, plus a line nobody here knows
    docs = [_doc("2025-05", [("M1", 1_000)]), _doc("2025-06", [("M3", 3_500), ("M2", 2_000), ("MX", 50)])]
    docs.append(_doc("2025-06", [("M1", 1_000)], insu="440100") | {"month": "2025-04"})  # another region's
    r = cleared_outflow(docs, "610100", INBOUND, SETTLED)
    got = {(m, s): (c, cl, ro, rl) for m, s, c, cl, ro, rl in r.rows.iter_rows()}
    assert got == {
        ("2025-05", "390"): (1_000, 1, 3_000, 2),
        ("2025-06", "390"): (2_000, 1, 0, 0),
        ("2025-06", "310"): (3_000, 1, 3_000, 1),  # the fund part; the personal account's is not
    }
    assert r.unmatched == {"MX": "2025-06"} and r.differs == {}
    assert r.months == ("2025-04", "2025-05", "2025-06")


def test_a_line_whose_amount_differs_is_listed_not_counted() -> None:
    r = cleared_outflow([_doc("2025-05", [("M1", 999)])], "610100", INBOUND, SETTLED)
    assert r.differs == {"M1": (999, 1_000)}
    assert int(r.rows["cleared_fen"].sum()) == 0


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (_doc("2025-05", []) | {"closed": False}, "clearings[0].closed"),
        (_doc("2025/05", []), "clearings[0].month"),
        (_doc("2025-05", [("M1", "x")]), "clearings[0].pairs[0].statement.lines[0].owed_fen"),  # type: ignore[list-item]
    ],
)
def test_an_unusable_clearing_is_refused_naming_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as e:
        cleared_outflow([doc], "610100", INBOUND, SETTLED)
    assert e.value.field == field


def test_a_routed_settlement_missing_from_the_ledger_is_listed_and_its_line_left_out() -> None:
    inbound = [*INBOUND, {"msgid": "M7", "status": "settled", "setl_id": "S7"}]
    r = cleared_outflow([_doc("2025-05", [("M1", 1_000), ("M7", 700)])], "610100", inbound, SETTLED)
    assert r.not_in_ledger == ("M7",) and r.unmatched == {"M7": "2025-05"}
    assert int(r.rows["cleared_fen"].sum()) == 1_000
