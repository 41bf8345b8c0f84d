"""The fund and assessment tables on SQLite and PostgreSQL: a booking is all or nothing and never twice;
an alert is raised once per breach, carried while it lasts, acknowledged, followed up and closed by named
people; an appeal is filed in time, decided, and rescoring follows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from yibao.assess import core as acore
from yibao.assess.appeal import AppealError
from yibao.assess.params import load_params as load_assess
from yibao.assess.store import AssessStore
from yibao.db import parse_url
from yibao.fund import accounts
from yibao.fund.accounts import FundError
from yibao.fund.params import load_params
from yibao.fund.store import FundStore
from yibao.fund.warning import AlertError, Members, Reading
from yibao.workdays import national_calendar

FP = load_params()
NOW = dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC)


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    eng = sa.create_engine(parse_url(db_url)[2])
    yield eng  # type: ignore[misc]
    eng.dispose()


def _income() -> pl.DataFrame:
    return accounts.income_entries(
        pl.DataFrame(
            {
                "month": ["2025-01", "2025-02"],
                "fund_pay_type": ["390100", "390100"],
                "source": ["individual", "fiscal_subsidy"],
                "amount_fen": [1_000, 2_000],
            }
        ),
        FP.codes(),
    )


def test_a_batch_is_booked_once_and_read_back_exactly(engine: sa.Engine) -> None:
    st = FundStore(engine)
    act = pl.DataFrame(
        {
            "month": ["2025-01"],
            "insutype": ["390"],
            "med_type": ["21"],
            "locality": ["local"],
            "visits": [3],
            "medfee": [900],
            "fund": [600],
        }
    )
    hist = pl.DataFrame(
        {
            "year": [2025],
            "fixmedins_code": ["H1"],
            "fund_pay_type": ["390100"],
            "paid_fen": [600],
            "inpatient_fen": [600],
        }
    )
    b = st.book(
        _income(),
        batch_id="t-income-2025",
        kind="income",
        period="2025",
        label="收入",
        source="测试",
        funds=FP.codes(),
        actor="tester",
        now=NOW,
        activity=act,
        members=(2025, Members(1, 2, 3)),
        institution_year=hist,
    )
    assert (b.entries, b.total_fen) == (2, 3_000)
    with pytest.raises(FundError) as e:
        st.book(
            _income(),
            batch_id="t-income-2025",
            kind="income",
            period="2025",
            label="x",
            source="x",
            funds=FP.codes(),
            actor="x",
        )
    assert e.value.code == "duplicate"
    got = st.entries()
    assert got.sort("month").select("month", "source", "amount_fen").rows() == [
        ("2025-01", "individual", 1_000),
        ("2025-02", "fiscal_subsidy", 2_000),
    ]
    assert st.activity()["visits"].to_list() == [3] and st.members_by_year() == {2025: Members(1, 2, 3)}
    assert st.members()["2025-07"] == Members(1, 2, 3)  # a year's count given to each of its months
    assert st.institution_history()["paid_fen"].to_list() == [600]
    bad = _income().with_columns(pl.lit(-5).alias("amount_fen"))
    with pytest.raises(FundError):
        st.book(
            bad,
            batch_id="t-bad",
            kind="income",
            period="2025",
            label="x",
            source="x",
            funds=FP.codes(),
            actor="x",
        )
    assert not st.has_batch("t-bad") and st.entries().height == 2  # nothing half-written


def _breach(month: str, level: str = "amber", value: int = 450) -> Reading:
    return Reading("months_payable", "390100", month, value, level, 600, "人社部发〔2009〕67号")


def test_the_alert_lifecycle(engine: sa.Engine) -> None:
    st = FundStore(engine)
    msg = {("months_payable", "390100"): ("黄色预警：居民基金", "amber")}
    new = st.raise_alerts(
        [_breach("2025-05"), Reading("balance_rate", "390100", "2025-05", 900, "ok", 500, "x")], msg, NOW
    )
    assert len(new) == 1
    # the same breach next month updates the alert; a worse level is logged, not a second alert
    assert st.raise_alerts([_breach("2025-06", "red", 250)], msg, NOW) == []
    a = st.alert(new[0])
    assert (a.first_month, a.last_month, a.level, a.status) == ("2025-05", "2025-06", "red", "open")
    with pytest.raises(AlertError):
        st.move_alert(a.alert_id, "closed", actor="张三", note="x", now=NOW)
    st.move_alert(a.alert_id, "acknowledged", actor="张三", now=NOW)
    st.move_alert(a.alert_id, "following_up", actor="李四", note="约谈定点医院", now=NOW)
    with pytest.raises(AlertError) as e:
        st.move_alert(a.alert_id, "closed", actor="李四", note="  ", now=NOW)
    assert e.value.field == "note"
    st.move_alert(a.alert_id, "closed", actor="李四", note="已整改", now=NOW)
    ev = st.events(a.alert_id)
    assert [x.status for x in ev] == ["open", "level", "acknowledged", "following_up", "closed"]
    assert [x.actor for x in ev[2:]] == ["张三", "李四", "李四"] and ev[-1].note == "已整改"
    # a closed alert stays closed: the next breach opens a new one
    assert len(st.raise_alerts([_breach("2025-07")], msg, NOW)) == 1
    assert len(st.alerts(open_only=True)) == 1 and len(st.alerts()) == 2
    with pytest.raises(AlertError) as e2:
        st.move_alert("A-none", "acknowledged", actor="x")
    assert e2.value.code == "unknown_alert"


def test_readings_are_stored_per_month_and_replaced_when_recomputed(engine: sa.Engine) -> None:
    st = FundStore(engine)
    st.save_readings([_breach("2025-05"), _breach("2025-06")], NOW)
    st.save_readings([_breach("2025-06", "red", 200)], NOW)
    assert [(r.month, r.level) for r in st.reading_series("months_payable")] == [
        ("2025-05", "amber"),
        ("2025-06", "red"),
    ]
    assert st.readings()[0].value == 200


def test_scores_appeals_and_rescoring(engine: sa.Engine) -> None:
    p = load_assess()
    st = AssessStore(engine)
    keys = list(p.indicators)
    frame = pl.DataFrame(
        {
            "fixmedins_code": ["H1"],
            "level": ["2"],
            **{k: [None] for k in keys},
            "ratings_n": [None],
            "survey_n": [None],
            "ratings_rate": [None],
            "survey_rate": [None],
        },
        schema={
            "fixmedins_code": pl.String,
            "level": pl.String,
            **{k: pl.Int64 for k in [*keys, "ratings_n", "survey_n", "ratings_rate", "survey_rate"]},
        },
    ).with_columns(pl.lit(4_500).alias("drug_share"), pl.lit(9_500).alias("satisfaction"))
    scores = acore.score(frame, p)
    st.save_run(
        "r1",
        2025,
        frame,
        scores,
        p,
        notified_on=dt.date(2026, 1, 12),
        names={"H1": "第一医院"},
        inputs={"x": True},
        now=NOW,
    )
    s = st.get_score("r1", "H1")
    assert s.zh[0].startswith("第一医院（H1）") and s.version == 1
    cal = national_calendar()
    a = st.file_appeal(
        "r1",
        "H1",
        "drug_share",
        "外院药品误计",
        actor="H1-医保办",
        today=dt.date(2026, 1, 15),
        p=p,
        cal=cal,
        now=NOW,
    )
    with pytest.raises(AppealError) as dup:
        st.file_appeal("r1", "H1", "drug_share", "再次", actor="H1", today=dt.date(2026, 1, 15), p=p, cal=cal)
    assert dup.value.code == "duplicate"
    with pytest.raises(AppealError) as late:
        st.file_appeal(
            "r1", "H1", "self_pay_share", "x", actor="H1", today=dt.date(2026, 3, 30), p=p, cal=cal
        )
    assert late.value.code == "late"
    with pytest.raises(AppealError):
        st.move_appeal(a.appeal_id, "under_review", actor="H1", role="institution", p=p)
    st.move_appeal(a.appeal_id, "under_review", actor="稽核员", role="auditor", p=p, now=NOW)
    done = st.move_appeal(
        a.appeal_id, "upheld", actor="稽核员", role="auditor", note="核实", revised_value=3_000, p=p, now=NOW
    )
    after = st.get_score("r1", "H1")
    assert done.score_before == s.score_x100 and done.score_after == after.score_x100 > s.score_x100
    assert after.version == 2 and any(a.appeal_id in x for x in after.zh)
    assert [e[1] for e in st.appeal_events(a.appeal_id)] == ["filed", "under_review", "upheld"]


def test_monthly_insured_counts_and_the_cleared_outflow_are_kept_with_their_sources(
    engine: sa.Engine,
) -> None:
    st = FundStore(engine)
    st.book(
        _income(),
        batch_id="t-members-2025",
        kind="income",
        period="2025",
        label="收入",
        source="测试",
        funds=FP.codes(),
        actor="tester",
        now=NOW,
        members=(2025, Members(9, 9, 9)),
        members_by_month=({"2025-01": Members(5, 2, 30), "2025-02": Members(6, 2, 29)}, "参保登记关系历史"),
    )
    m = st.members()
    assert m["2025-01"] == Members(5, 2, 30) and m["2025-02"] == Members(6, 2, 29)
    assert m["2025-03"] == Members(9, 9, 9)  # a month without its own count keeps the year's
    assert st.members_sources()["2025-01"] == "参保登记关系历史"
    assert st.cleared_outflow() is None  # nothing recorded: the clearing is not connected
    rows = pl.DataFrame(
        {
            "month": ["2025-06", "2025-06"],
            "insutype": ["310", "390"],
            "cleared_fen": [1_000, 2_000],
            "cleared_lines": [1, 2],
            "routed_fen": [1_500, 2_000],
            "routed_lines": [2, 2],
        }
    )
    assert st.record_cleared_outflow(rows, source="清算 2025-06", actor="tester", now=NOW) == 2
    # the same month again (a corrected statement) replaces it, never adds to it
    st.record_cleared_outflow(
        rows.with_columns(pl.col("cleared_fen") + 1), source="清算 2025-06 更正", actor="tester", now=NOW
    )
    got = st.cleared_outflow()
    assert (
        got is not None
        and got[("2025-06", "310")].cleared == 1_001
        and got[("2025-06", "390")].routed == 2_000
    )
    with pytest.raises(FundError) as e:
        st.record_cleared_outflow(rows.with_columns(pl.lit("2025-13").alias("month")), source="x", actor="x")
    assert e.value.field == "cleared.month"
    with pytest.raises(FundError) as e:
        st.record_cleared_outflow(rows, source=" ", actor="x")
    assert e.value.field == "source"


def test_upload_timeliness_reads_the_interface_uploads_in_beijing_time(engine: sa.Engine) -> None:
    from yibao.encounter.schema import enc_line, enc_msg, enc_visit

    visit = {
        "fixmedins_code": "H1", "psn_no": "P1", "insutype": "390", "kind": "inpatient", "med_type": "21",
        "ipt_otp_no": "Z1", "hosp_lv": "2", "mdtrt_cert_type": "02", "begntime": "2025-03-01 08:00:00",
        "endtime": None, "status": "open", "diagnoses": "[]", "info": "{}", "created_msgid": "M0",
        "updated": "2025-03-01T00:00:00+00:00",
    }  # fmt: skip
    line = {
        "chrg_bchno": "B", "med_list_codg": "X", "medins_list_codg": "X", "qty": 10_000, "pric": 100,
        "amount": 100, "fulamt_ownpay_amt": 0, "overlmt_amt": 0, "preselfpay_amt": 0, "inscp_scp_amt": 100,
        "status": "live", "setl_id": None, "info": "{}",
    }  # fmt: skip
    with engine.begin() as c:
        c.execute(enc_visit.insert(), [visit | {"mdtrt_id": "V1"}])
        # fee at 10:00 Beijing = 02:00 UTC on 1 March; uploads: 1 March 20:00 UTC (18 h, in time) and
        # 2 March 03:00 UTC (25 h, late); a line of 2024 is another year's
        c.execute(
            enc_msg.insert(),
            [
                {"msgid": m, "infno": "2301", "fixmedins_code": "H1", "request_key": "k", "answer": "{}",
                 "undo": "{}", "reversed_by": None, "at": at}
                for m, at in (("U1", "2025-03-01T20:00:00.000000+00:00"),
                              ("U2", "2025-03-02T03:00:00.000000+00:00"),
                              ("U0", "2024-12-31T03:00:00.000000+00:00"))
            ],
        )  # fmt: skip
        c.execute(
            enc_line.insert(),
            [
                line | {"mdtrt_id": "V1", "feedetl_sn": "1", "fee_ocur_time": "2025-03-01 10:00:00", "msgid": "U1"},
                line | {"mdtrt_id": "V1", "feedetl_sn": "2", "fee_ocur_time": "2025-03-01 10:00:00", "msgid": "U2"},
                line | {"mdtrt_id": "V1", "feedetl_sn": "3", "fee_ocur_time": "2024-12-30 10:00:00", "msgid": "U0"},
            ],
        )  # fmt: skip
    up = AssessStore(engine).uploads(2025, 24)
    assert up is not None and up.rows() == [("H1", 2, 1)]
    assert AssessStore(engine).uploads(2023, 24) is None


def test_a_year_booked_with_enrolment_income_gets_the_stand_in_only_for_the_funds_enrolment_does_not_collect(
    engine: sa.Engine,
) -> None:
    from yibao.fund import data
    from yibao.fund import service as fs

    s = fs.setup_for_region("xian")
    persons = pl.DataFrame(
        {
            "psn_no": ["P1", "P2", "P3"],
            "gender": ["M", "F", "F"],
            "birth_date": [dt.date(1980, 1, 1), dt.date(1950, 1, 1), dt.date(1990, 1, 1)],
            "insutype": ["310", "310", "390"],
            "psn_type": [
                next(k for k, v in s.groups.items() if v == g) for g in ("in_service", "retired", "resident")
            ],
            "identities": ["", "", "DB"],
        }
    )
    settled = pl.DataFrame(
        {
            "setl_id": ["S1"],
            "psn_no": ["P3"],
            "insutype": ["390"],
            "psn_type": [persons["psn_type"][2]],
            "med_type": ["21"],
            **{m: [0] for m in data.MONEY},
            "begin_date": [dt.date(2025, 3, 1)],
            "end_date": [dt.date(2025, 3, 5)],
            "locality": ["local"],
            "fixmedins_code": ["H1"],
            "hosp_lv": ["2"],
            "diagnosis": ["J18"],
        }
    ).with_columns(
        pl.lit(10_000).alias("medfee_sumamt"),
        pl.lit(6_000).alias("hifp_pay"),
        pl.lit(6_000).alias("fund_pay_sumamt"),
    )
    settled = settled.with_columns(pl.col("end_date").dt.strftime("%Y-%m").alias("month"))
    enrol = pl.DataFrame(
        {"month": ["2025-01"], "fund_pay_type": ["390100"], "source": ["individual"], "amount_fen": [40_000]}
    )
    monthly = {f"2025-{m:02d}": Members(1, 1, 1 if m < 7 else 2) for m in range(1, 13)}
    fs.book_year(
        FundStore(engine), s, 2025, settled, persons, income_frame=enrol, members_by_month=monthly, now=NOW
    )
    st = FundStore(engine)
    inc = st.entries().filter(pl.col("kind") == "income")
    by_fund = dict(inc.group_by("fund_pay_type").agg(pl.col("amount_fen").sum()).iter_rows())
    assert by_fund["390100"] == 40_000  # enrolment's figure stands, nothing added to a fund it carries
    assert by_fund["330100"] > 0 and by_fund["610100"] > 0  # the stand-in for the funds it does not
    assert "310100" not in by_fund  # the stand-in never adds to a fund enrolment collects
    src = next(b.source for b in st.batches() if b.kind == "income")
    assert "330100" in src and "610100" in src
    assert st.members()["2025-07"] == Members(1, 1, 2) and "参保登记" in st.members_sources()["2025-07"]
    # retirees' account top-ups follow the month's retired count
    top = st.entries().filter(pl.col("kind") == "transfer_in")
    assert top.height == 12
