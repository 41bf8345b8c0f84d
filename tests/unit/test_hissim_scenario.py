"""The scenario's bookkeeping and plan: deterministic from the seed, totals that exclude cancelled and
reversed settlements, 3202 rows, data loading. (The driver itself is exercised against the real yibao
service in the integration test once the server flows land.)"""

from datetime import date
from decimal import Decimal

import pytest

from hissim.scenario.books import Books, Line, Settlement, Visit, fen_to_yuan, line_amount, yuan_to_fen
from hissim.scenario.data import (
    default_institutions,
    dump_persons,
    id_check_digit,
    load_items,
    load_persons,
    partition,
    synthetic_persons,
)
from hissim.scenario.day import DayResult, HospitalResult, bench_lines, percentile
from hissim.scenario.plan import Rates, make_plan
from hissim.scenario.session import Failure, file_bytes, unzip_text, zip_text

ITEMS = load_items()


def settlement(setl_id, medfee, fund, acct, cash, insutype="310", clr_type="11", day=date(2026, 12, 7)):
    return Settlement(
        setl_id,
        f"M{setl_id}",
        "P1",
        insutype,
        clr_type,
        f"msg{setl_id}",
        "2207",
        medfee,
        fund,
        acct,
        cash,
        day,
    )


def test_money_conversions_are_exact():
    assert yuan_to_fen(Decimal("69.60")) == 6960
    assert fen_to_yuan(6960) == Decimal("69.60")
    assert line_amount(Decimal("3"), Decimal("12.60")) == Decimal("37.80")
    assert line_amount(Decimal("0.5"), Decimal("0.05")) == Decimal("0.03")  # half-up
    with pytest.raises(ValueError):
        yuan_to_fen(Decimal("0.001"))


def test_visit_totals_follow_uploads_and_cancellations():
    v = Visit("M1", "P1", "outpatient")
    v.add(Line("0001", "W", "X1", Decimal(1), Decimal("5.00"), 500))
    v.add(Line("0002", "B", "X2", Decimal(2), Decimal("3.00"), 600))
    v.add(Line("0003", "B", "X3", Decimal(1), Decimal("1.25"), 125))
    assert v.total_fen() == 1225 and v.total_fen("B") == 725
    with pytest.raises(ValueError):
        v.add(Line("0002", "B", "X2", Decimal(1), Decimal("1"), 100))
    assert v.cancel_batch("W") == 1 and v.total_fen() == 725
    assert v.cancel_line("0003") and not v.cancel_line("0003")
    assert v.total_fen() == 600
    assert v.cancel_line("0000") and v.total_fen() == 0


def test_cancelled_and_reversed_settlements_leave_the_totals():
    books = Books()
    books.add(settlement("S1", 10000, 8000, 1000, 1000))
    books.add(settlement("S2", 5000, 4000, 0, 1000))
    books.add(settlement("S3", 20000, 15000, 0, 5000, clr_type="21"))
    books.add(settlement("S4", 3000, 2000, 500, 500, insutype="390"))
    books.mark("S2", "cancelled")
    books.mark("S4", "reversed")
    totals = books.totals()
    assert set(totals) == {("310", "11"), ("310", "21")}
    t = totals[("310", "11")]
    assert (t.medfee_fen, t.fund_fen, t.acct_fen, t.cash_fen, t.count) == (10000, 8000, 1000, 1000, 1)
    assert books.totals(("clr_type",))[("21",)].count == 1
    assert books.detail_rows("11") == [["S1", "MS1", "P1", "100.00", "80.00", "10.00", "0"]]
    assert len(books.detail_rows()) == 2
    with pytest.raises(ValueError):
        books.add(settlement("S1", 1, 1, 0, 0))


def test_period_spans_the_settlement_dates():
    books = Books()
    assert books.period() is None
    books.add(settlement("S1", 1, 1, 0, 0, day=date(2026, 12, 6)))
    books.add(settlement("S2", 1, 1, 0, 0, day=date(2026, 12, 7)))
    assert books.period() == (date(2026, 12, 6), date(2026, 12, 7))


def test_plan_is_deterministic_and_depends_on_seed_and_hospital():
    creds = [1] * 30
    a = make_plan(7, 0, 100, 30, ITEMS, creds)
    assert a == make_plan(7, 0, 100, 30, ITEMS, creds)
    assert a != make_plan(8, 0, 100, 30, ITEMS, creds)
    assert a != make_plan(7, 1, 100, 30, ITEMS, creds)


def test_plan_contains_every_kind_of_exception_at_the_asked_rates():
    plan = make_plan(1, 0, 400, 50, ITEMS, [2] * 50, Rates(reversals=2))
    out = plan.outpatients
    assert len(out) == 400 and len(plan.inpatients) == 20
    assert sum(v.reverse_after_timeout for v in out) == 2
    assert 20 <= sum(bool(v.wrong_batch) for v in out) <= 70  # ~10 %
    assert 5 <= sum(v.cancel_settlement for v in out) <= 40  # ~5 %
    assert any(v.register_cancel for v in out)
    assert any(v.pharmacy for v in out)
    for v in out:
        if v.pharmacy:
            assert all(ITEMS[ln.item].kind == "drug" for ln in v.settled_lines())
        numbers = [ln.n for ln in v.wrong_batch] + [ln.n for ln in v.settled_lines()]
        assert numbers == list(range(1, len(numbers) + 1))  # feedetl_sn unique within the visit
        assert not (v.register_cancel and (v.wrong_batch or v.reverse_after_timeout))
    assert {v.credential for v in out} == {0, 1}


def test_inpatient_plan_live_lines_drop_the_correction_and_add_the_late_charge():
    plan = make_plan(
        3,
        0,
        200,
        20,
        ITEMS,
        [1] * 20,
        Rates(inpatient_share=0.2, inpatient_correction=1.0, discharge_cancel=1.0),
    )
    for stay in plan.inpatients:
        assert 2 <= stay.days == len(stay.uploads) <= 6
        live = stay.live_lines()
        numbers = [ln.n for ln in live]
        assert stay.correction not in numbers
        assert stay.late_line is not None and numbers[-1] == stay.late_line.n
        assert all(ln.day == i for i, day in enumerate(stay.uploads) for ln in day)


def test_id_numbers_have_valid_check_digits():
    assert id_check_digit("11010519491231002") == "X"  # the GB 11643 worked example
    persons = synthetic_persons(50, seed=1)
    assert persons == synthetic_persons(50, seed=1)
    for p in persons:
        assert len(p.certno) == 18 and p.certno[-1] == id_check_digit(p.certno[:17])


def test_persons_round_trip_through_a_file_and_carry_credentials(tmp_path):
    path = tmp_path / "persons.yaml"
    people = synthetic_persons(3, seed=2)
    path.write_text(dump_persons(people), encoding="utf-8")
    assert load_persons(path) == people
    csv_path = tmp_path / "p.csv"
    csv_path.write_text(
        "psn_name,certno,card_no,card_sn\n张三,110105194912310029,C123,SN9\n", encoding="utf-8"
    )
    (p,) = load_persons(csv_path)
    assert p.credentials() == [("02", "110105194912310029", ""), ("03", "C123", "SN9")]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {psn_name: 李四}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="certno"):
        load_persons(bad)


def test_partition_gives_each_person_to_one_hospital():
    people = synthetic_persons(10, seed=3)
    groups = partition(people, 3)
    assert sorted(p.certno for g in groups for p in g) == sorted(p.certno for p in people)
    assert [len(g) for g in groups] == [4, 3, 3]


def test_default_institutions_have_12_character_codes():
    inst = default_institutions(3, "610100")
    assert [i.fixmedins_code for i in inst] == ["H61010000001", "H61010000002", "H61010000003"]


def test_result_files_zip_and_base64():
    data = zip_text("a.txt", "S1\tM1\n")
    assert unzip_text(data) == "S1\tM1\n"
    assert unzip_text("直接文本".encode("gbk")) == "直接文本"
    import base64

    assert file_bytes({"file": base64.b64encode(data).decode()}) == data
    assert file_bytes(data) == data
    assert file_bytes({"file": "not base64!"}) is None


def test_bench_lines_report_throughput_p99_and_failures():
    h = HospitalResult(0, "H61010000001", visits_planned=10, visits_done=8)
    h.latencies = {"2207": [float(i) for i in range(1, 101)], "2204": [5.0]}
    h.failures = [Failure("H61010000001", "门诊#1", "2207", "output.setlinfo.medfee_sumamt", "x")]
    from hissim.scenario.day import DayConfig

    cfg = DayConfig(url="http://x", institutions=(), persons=(), items=(), visits=10)
    lines = bench_lines(DayResult([h], wall_s=2.0), cfg)
    assert lines[0]["metric"] == "throughput" and lines[0]["value"] == 4.0 and lines[0]["unit"] == "visits/s"
    p99 = {ln["infno"]: ln for ln in lines if ln["metric"] == "p99"}
    assert p99["2207"]["value"] == 99.0 and p99["2204"]["n"] == 1
    assert lines[-1] == {
        "bench": "his.day",
        "metric": "failures",
        "value": 1,
        "unit": "count",
        "hospitals": 1,
        "visits": 10,
        "seed": 1,
    }
    assert percentile([], 0.99) == 0.0 and percentile([3.0], 0.5) == 3.0


def test_default_config_is_ready_to_run_and_partitions_persons():
    from hissim.scenario.day import default_config

    cfg = default_config("http://127.0.0.1:8000", hospitals=3, visits=5, seed=9, path="/api/transaction")
    assert [i.fixmedins_code for i in cfg.institutions] == ["H61010000001", "H61010000002", "H61010000003"]
    assert len(cfg.persons) == 75 and cfg.items and cfg.path == "/api/transaction"
    groups = partition(cfg.persons, 3)
    assert not set(p.certno for p in groups[0]) & set(p.certno for p in groups[1])


def test_a_masked_id_number_in_an_answer_is_the_persons_when_every_shown_character_matches() -> None:
    from hissim.scenario.day import _same_certno

    certno = "610101199001011234"
    assert _same_certno("610101********1234", certno)
    assert _same_certno(certno, certno) and _same_certno("", certno) and _same_certno(None, certno)
    assert not _same_certno("610101********1235", certno)
    assert not _same_certno("610101*******1234", certno)
