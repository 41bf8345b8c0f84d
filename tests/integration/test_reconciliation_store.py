"""The national reconciliation answers kept by the encounter capability (enc_reconciliation), on SQLite
and PostgreSQL: every outcome with both sides' figures, the differing fields and 3202's unmatched
settlements; a retried message kept once; a 3202 result and its outcome written together; and the year's
outcomes handed to the assessment through the use case."""

from __future__ import annotations

import sqlalchemy as sa

from yibao.assess import indicators
from yibao.assess.params import load_params
from yibao.db import parse_url
from yibao.encounter.core import Figures, Reconciliation
from yibao.encounter.schema import enc_file, enc_reconciliation
from yibao.encounter.store import EncounterStore
from yibao.usecases.reconciliation import reconciliations_of_year

LEDGER = Figures(123_45, 80_00, 12_00, 4)


def _store(db_url: str) -> EncounterStore:
    return EncounterStore.open(parse_url(db_url)[2])


def _r(msgid: str, code: str, end: str, hosp: Figures, **kw: object) -> Reconciliation:
    return Reconciliation(
        str(kw.get("infno", "3201")),
        msgid,
        code,
        end[:8] + "01",
        end,
        "310",
        "11",
        "610100",
        hosp,
        LEDGER,
        int(kw.get("rows", 0)),  # type: ignore[call-overload]
        tuple(kw.get("miss", ())),  # type: ignore[call-overload]
    )


def test_every_outcome_is_kept_with_both_sides_and_read_back_by_period(db_url: str) -> None:
    st = _store(db_url)
    try:
        st.add_reconciliation(_r("M1", "H1", "2025-01-31", LEDGER))
        short = Figures(123_45, 79_00, 12_00, 3)
        st.add_reconciliation(_r("M2", "H1", "2025-02-28", short))
        st.add_reconciliation(_r("M2", "H1", "2025-02-28", short))  # a retry of the same message
        st.add_reconciliation(_r("M3", "H2", "2024-12-31", LEDGER))
        qury = st.put_file(
            "H1",
            "r.zip",
            b"PK..",
            "result",
            reconciliation=_r("M4", "H1", "2025-02-28", short, infno="3202", rows=4, miss=("S4",)),
        )
        got = st.reconciliations(ended_from="2025-01-01", ended_to="2025-12-31")
        assert [(r.msgid, r.agreed) for r in got] == [("M1", True), ("M2", False), ("M4", False)]
        m2 = got[1]
        assert m2.hospital == short and m2.ledger == LEDGER
        assert m2.differing == ("fund_pay_sumamt", "fixmedins_setl_cnt")
        assert got[2].unmatched == ("S4",) and got[2].rows_checked == 4
        with st.engine.connect() as c:
            row = c.execute(sa.select(enc_reconciliation).where(enc_reconciliation.c.msgid == "M2")).one()
            assert row.agreed is False and row.diff_fields == '["fund_pay_sumamt", "fixmedins_setl_cnt"]'
            assert (
                c.execute(sa.select(enc_file.c.kind).where(enc_file.c.file_qury_no == qury)).scalar()
                == "result"
            )
        assert [r.msgid for r in st.reconciliations(fixmedins_code="H2")] == ["M3"]
    finally:
        st.close()


def test_the_use_case_hands_the_years_outcomes_to_the_assessment(db_url: str) -> None:
    st = _store(db_url)
    try:
        assert reconciliations_of_year(st.engine, 2025) is None
        st.add_reconciliation(_r("M1", "H1", "2025-01-31", Figures(1, 0, 0, 1)))
        st.add_reconciliation(_r("M2", "H1", "2025-01-31", LEDGER))  # corrected: the period stays a break
        st.add_reconciliation(_r("M3", "H1", "2025-02-28", LEDGER))
        st.add_reconciliation(_r("M4", "H1", "2024-12-31", Figures(1, 0, 0, 1)))  # another year
        f = reconciliations_of_year(st.engine, 2025)
        assert f is not None and f.height == 3
        rate = indicators.reconciliation_break_rate(f, load_params()).row(0, named=True)
        assert (rate["recon_periods"], rate["recon_breaks"], rate["reconciliation_break_rate"]) == (
            2,
            1,
            5_000,
        )
    finally:
        st.close()
