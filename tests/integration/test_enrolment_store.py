"""The enrolment store on SQLite and PostgreSQL: imports are all or nothing, a file is imported once, two
imports at once never interleave, the roster and single events keep the histories valid, and what is read
back compiles to the same statuses as the files it came from."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import polars as pl
import pytest

from yibao.enrolment.check import check
from yibao.enrolment.contributions import add_months
from yibao.enrolment.model import EventKind, ImportRejected, RelationEvent
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.enrolment.store import EnrolmentStore, statuses_from_frames
from yibao.policy.loader import example_path, load_region
from yibao.synth.enrolment import write_collection_file
from yibao.synth.generator import generate

D = dt.date
TABLES = (
    "enrol_person",
    "enrol_event",
    "enrol_resident_premium",
    "enrol_employee_contribution",
    "enrol_import_batch",
)


@pytest.fixture(scope="module")
def pol() -> EnrolmentPolicy:
    p = policy_for_region(load_region(example_path("xian")))
    assert p is not None
    return p


def counts(store: EnrolmentStore) -> dict[str, int]:
    out = {t: int(store._execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    store._end_read()
    return out


def test_collection_import_registers_enrols_and_is_imported_once(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy
) -> None:
    f = tmp_path / "c.csv"
    write_collection_file(f, pol, persons=300, year=2025, seed=3)
    with EnrolmentStore(db_url, pol) as s:
        out = s.import_collection(f)
        assert (out.rows, out.persons_registered, out.events) == (300, 300, 300)
        assert counts(s) == {
            "enrol_person": 300,
            "enrol_event": 300,
            "enrol_resident_premium": 300,
            "enrol_employee_contribution": 0,
            "enrol_import_batch": 1,
        }
        rec = s.person("R000000007")
        assert rec is not None and rec.events[0].kind == EventKind.ENROL and rec.events[0].insutype == "390"
        st = s.status("R000000007")
        paid = rec.premiums[0].paid_on
        benefits_from = (
            D(2025, 1, 1) if paid <= D(2024, 12, 31) else add_months(paid, 3)
        )  # late: 3 months wait
        for day in (D(2025, 1, 1), D(2025, 6, 1), D(2025, 12, 1)):
            assert check(st, day, "21").covered == (day >= benefits_from)
        with pytest.raises(ImportRejected) as exc:
            s.import_collection(f)
        assert exc.value.problems[0].field == "file" and "already imported" in exc.value.problems[0].reason
        assert counts(s)["enrol_person"] == 300


def test_a_conflicting_row_rejects_the_whole_file(db_url: str, tmp_path: Path, pol: EnrolmentPolicy) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_collection_file(first, pol, persons=50, year=2025, seed=1)
    write_collection_file(second, pol, persons=60, year=2025, seed=1, start=40)  # R40..R49 are in both
    with EnrolmentStore(db_url, pol) as s:
        s.import_collection(first)
        before = counts(s)
        with pytest.raises(ImportRejected) as exc:
            s.import_collection(second)
        assert {p.field for p in exc.value.problems} == {"year"} and exc.value.total == 10
        assert sorted(p.row for p in exc.value.problems) == list(range(2, 12))
        assert "2025年度的缴费已导入" in exc.value.problems[0].reason
        assert counts(s) == before


def test_a_failure_while_writing_leaves_nothing(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "c.csv"
    write_collection_file(f, pol, persons=80, year=2025, seed=2)
    with EnrolmentStore(db_url, pol) as s:

        def boom(years: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(s, "_periods", boom)  # after persons, events and premiums were written
        with pytest.raises(RuntimeError):
            s.import_collection(f)
        assert counts(s) == dict.fromkeys(TABLES, 0)
        monkeypatch.undo()
        assert s.import_collection(f).rows == 80  # and the same file imports fine afterwards


def test_roster_switches_a_resident_to_employee_and_tracks_arrears(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy
) -> None:
    c = tmp_path / "c.csv"
    write_collection_file(c, pol, persons=5, year=2025, seed=4)
    certs = pl.read_csv(c, infer_schema=False).select("psn_no", "certno", "psn_name").rows()
    header = "emp_no,emp_name,month,psn_no,certno,psn_name,wage,action,paid_on\n"
    r1 = tmp_path / "r1.csv"
    r1.write_text(
        header
        + "".join(f"E1,甲公司,2025-03,{p},{cn},{nm},8000,add,2025-03-12\n" for p, cn, nm in certs[:3])
        + "E1,甲公司,2025-03,N1,610100198801010010,新人,3000,add,2025-03-12\n",
        encoding="utf-8",
    )
    r2 = tmp_path / "r2.csv"
    r2.write_text(
        header
        + f"E1,甲公司,2025-04,{certs[0][0]},{certs[0][1]},{certs[0][2]},8000,keep,\n"
        + f"E1,甲公司,2025-04,{certs[1][0]},{certs[1][1]},{certs[1][2]},8000,leave,2025-04-12\n"
        + f"E1,甲公司,2025-04,{certs[2][0]},{certs[2][1]},{certs[2][2]},8000,keep,2025-04-12\n",
        encoding="utf-8",
    )
    with EnrolmentStore(db_url, pol) as s:
        s.import_collection(c)
        out = s.import_roster(r1)
        assert (out.rows, out.persons_registered) == (4, 1)
        s.import_roster(r2)
        p0 = s.person(certs[0][0])
        assert p0 is not None
        assert [e.kind for e in p0.events] == [EventKind.ENROL, EventKind.TERMINATE, EventKind.ENROL]
        st0 = s.status(certs[0][0])
        assert check(st0, D(2025, 3, 20), "21").insutype == "310"
        assert check(st0, D(2025, 5, 20), "21").covered  # April unpaid, still within its grace
        e = check(st0, D(2025, 6, 1), "21")
        assert (e.reason_code, e.self_pay_instead) == ("arrears", True)
        assert check(s.status(certs[1][0]), D(2025, 5, 2), "11").reason_code == "suspended"
        new = s.person("N1")
        assert (
            new is not None
            and new.facts.birth_date == D(1988, 1, 1)
            and new.contributions[0].base_fen == 432_000
        )
        # the same roster month again is refused row by row, nothing written
        before = counts(s)
        r3 = tmp_path / "r3.csv"
        r3.write_text(r2.read_text(encoding="utf-8").replace("2025-04-12", "2025-04-13"), encoding="utf-8")
        with pytest.raises(ImportRejected) as exc:
            s.import_roster(r3)
        assert {p.row for p in exc.value.problems} == {2, 3, 4}
        assert counts(s) == before


def test_events_are_checked_against_the_history(db_url: str, tmp_path: Path, pol: EnrolmentPolicy) -> None:
    c = tmp_path / "c.csv"
    write_collection_file(c, pol, persons=3, year=2025, seed=5)
    with EnrolmentStore(db_url, pol) as s:
        s.import_collection(c)
        s.record_events([RelationEvent("R000000001", D(2025, 6, 30), EventKind.DEATH)])
        assert check(s.status("R000000001"), D(2025, 7, 1), "21").reason_code == "deceased"
        with pytest.raises(Exception) as exc:
            s.record_events([RelationEvent("R000000001", D(2025, 8, 1), EventKind.SUSPEND)])
        assert "死亡" in str(exc.value)
        with pytest.raises(Exception) as exc:
            s.record_events([RelationEvent("NOPE", D(2025, 8, 1), EventKind.SUSPEND)])
        assert "人员编号不存在" in str(exc.value)
        assert len(s.person("R000000001").events) == 2  # type: ignore[union-attr]


def test_synthetic_region_round_trips(db_url: str, tmp_path: Path, pol: EnrolmentPolicy) -> None:
    generate(example_path("xian"), tmp_path, persons=600, year=2025, seed=11)
    files = {
        "persons": pl.read_parquet(tmp_path / "enrol_persons.parquet"),
        "events": pl.read_parquet(tmp_path / "enrol_events.parquet"),
        "premiums": pl.read_parquet(tmp_path / "resident_premiums.parquet"),
        "contributions": pl.read_parquet(tmp_path / "employee_contributions.parquet"),
    }
    with EnrolmentStore(db_url, pol) as s:
        s.load_synth(tmp_path)
        stored = {x.psn_no: x for x in s.statuses()}
    direct = {x.psn_no: x for x in statuses_from_frames(files, pol)}
    assert stored.keys() == direct.keys() and len(direct) == 600
    assert all(stored[k] == direct[k] for k in direct)


@pytest.mark.parametrize("overlap", [False, True])
def test_two_imports_at_once_never_interleave(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy, overlap: bool
) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_collection_file(a, pol, persons=400, year=2025, seed=1)
    write_collection_file(b, pol, persons=400, year=2025, seed=1, start=300 if overlap else 1000)
    with EnrolmentStore(db_url, pol):
        pass  # migrate once before the race
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(name: str, path: Path) -> None:
        store = EnrolmentStore(db_url, pol, migrate=False)
        try:
            barrier.wait()
            results[name] = store.import_collection(path)
        except Exception as exc:
            results[name] = exc
        finally:
            store.close()

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with EnrolmentStore(db_url, pol, migrate=False) as s:
        got = counts(s)
    if not overlap:
        assert all(not isinstance(r, Exception) for r in results.values()), results
        assert (
            got["enrol_person"] == 800
            and got["enrol_resident_premium"] == 800
            and got["enrol_import_batch"] == 2
        )
    else:
        failed = [r for r in results.values() if isinstance(r, Exception)]
        assert len(failed) == 1 and isinstance(failed[0], ImportRejected)
        assert failed[0].total == 100  # R300..R399 were already imported by the other file
        assert (
            got["enrol_person"] == 400
            and got["enrol_resident_premium"] == 400
            and got["enrol_import_batch"] == 1
        )


@pytest.mark.postgres
def test_a_large_registration_rebuilds_the_id_index_and_keeps_it(
    pg_url: str, tmp_path: Path, pol: EnrolmentPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk path (PostgreSQL) drops and re-adds the certno uniqueness constraint (and the event and
    premium keys when the file adds at least as many rows as they hold) inside the import transaction:
    afterwards they are there again, and a failed import leaves them in place."""
    import yibao.enrolment.store as store_mod

    monkeypatch.setattr(store_mod, "REBUILD_AT", 100)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_collection_file(a, pol, persons=300, year=2025, seed=1)
    write_collection_file(b, pol, persons=300, year=2025, seed=1, start=1000)
    q = (
        "SELECT count(*) FROM pg_constraint WHERE conname IN "
        "('enrol_person_certno_key', 'enrol_event_pkey', 'enrol_resident_premium_pkey')"
    )
    with EnrolmentStore(pg_url, pol) as s:
        monkeypatch.setattr(s, "_periods", lambda years: (_ for _ in ()).throw(RuntimeError("boom")))
        with pytest.raises(RuntimeError):
            s.import_collection(a)
        assert s._execute(q).fetchone()[0] == 3 and counts(s)["enrol_person"] == 0
        s._end_read()
        monkeypatch.undo()
        monkeypatch.setattr(store_mod, "REBUILD_AT", 100)
        s.import_collection(a)
        s.import_collection(b)
        assert s._execute(q).fetchone()[0] == 3 and counts(s)["enrol_person"] == 600
        s._end_read()
        with pytest.raises(Exception) as exc:  # the database itself still refuses a repeated ID
            s._execute(
                "INSERT INTO enrol_person (psn_no, certno, name, gender, birth_date) "
                "SELECT 'X1', certno, 'x', 'M', birth_date FROM enrol_person LIMIT 1"
            )
        assert "enrol_person_certno_key" in str(exc.value)
        s._conn.rollback()
        with pytest.raises(Exception) as exc:  # and a repeated premium of a person and year
            s._execute("INSERT INTO enrol_resident_premium SELECT * FROM enrol_resident_premium LIMIT 1")
        assert "enrol_resident_premium_pkey" in str(exc.value)
        s._conn.rollback()


def test_a_person_registered_by_a_repair_is_enrolled_by_the_annual_premium(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy
) -> None:
    header = "psn_no,certno,psn_name,year,paid_on,individual,kind\n"
    cert = "610100198005010011"
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    cert = cert[:17] + "10X98765432"[sum(int(c) * k for c, k in zip(cert[:17], w, strict=True)) % 11]
    repair, annual = tmp_path / "r.csv", tmp_path / "a.csv"
    repair.write_text(header + f"Q1,{cert},张三,2023,2024-03-01,380,repair\n", encoding="utf-8")
    annual.write_text(header + f"Q1,{cert},张三,2025,2025-03-10,400,annual\n", encoding="utf-8")
    with EnrolmentStore(db_url, pol) as s:
        assert s.import_collection(repair).events == 0
        assert s.person("Q1").events == []  # type: ignore[union-attr]
        assert s.import_collection(annual).events == 1
        e = check(s.status("Q1"), D(2025, 3, 10), "21")
        assert e.reason_code == "waiting_period" and e.waiting_months == 3  # never insured before: fixed only


def test_a_file_checked_and_written_in_parts_is_still_all_or_nothing(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yibao.enrolment.store as store_module

    monkeypatch.setattr(store_module, "IMPORT_PART", 7)  # 40 rows: six parts
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    write_collection_file(good, pol, persons=40, year=2025, seed=8)
    lines = good.read_text(encoding="utf-8").splitlines(keepends=True)
    # line 4 (first part): an amount that is not money; line 38 (last part): a date that is not a date
    lines[3] = lines[3].replace(",400.00,", ",4oo,", 1)
    parts = lines[37].split(",")
    parts[4] = "2025/01/01"
    lines[37] = ",".join(parts)
    bad.write_text("".join(lines), encoding="utf-8")
    with EnrolmentStore(db_url, pol) as s:
        with pytest.raises(ImportRejected) as exc:
            s.import_collection(bad)
        assert [(p.row, p.field) for p in exc.value.problems] == [(4, "individual"), (38, "paid_on")]
        assert counts(s) == dict.fromkeys(TABLES, 0)  # the parts before the bad one were not kept
        out = s.import_collection(good)
        assert (out.rows, out.persons_registered, out.events) == (40, 40, 40)
        assert counts(s)["enrol_resident_premium"] == 40


def test_parts_never_split_a_persons_rows() -> None:
    from yibao.enrolment.store import _person_parts

    psn = pl.Series(["a", "a", "b", "c", "c", "c", "d", "e", "e"])
    assert _person_parts(psn, 2) == [(0, 2), (2, 4), (6, 3)]  # c's three rows and e's two stay together
    assert _person_parts(psn, 100) == [(0, 9)]
    assert _person_parts(psn[:0], 2) == []
