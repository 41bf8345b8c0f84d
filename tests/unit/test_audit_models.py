"""Each anomaly model flags a planted anomaly in a small hand-built frame and leaves clean peers alone."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import polars as pl
import pytest

from yibao.audit.flags import validate_flags
from yibao.audit.models import run_models
from yibao.audit.models.features import line_frame, load_params, visit_frame
from yibao.audit.models.peer import visit_signatures

D0 = dt.date(2025, 1, 1)
CONSULT, CHIEF, REG = "001102000010000", "001102000030000", "001101000010000"
DRUG_A, DRUG_B, DEAR = "XA02BCA001A001010100001", "XC10AAA001A001010100002", "XN07XXA110B002010186548"
BED, NURSE, LAB = "001109000010000", "001201000040000", "002503070030000"


class Claims:
    """A tiny claims builder: visits + lines with the synth column names the models read."""

    def __init__(self) -> None:
        self.v: list[dict[str, Any]] = []
        self.ln: list[dict[str, Any]] = []

    def visit(
        self,
        psn: int,
        prov: str,
        day: int,
        items: list[tuple[str, int, int]],
        med_type: str = "11",
        lv: str = "2",
        los: int = 0,
        dx: str = "J06",
        doctor: str | None = None,
    ) -> int:
        vid = len(self.v)
        begin = D0 + dt.timedelta(days=day)
        self.v.append(
            {
                "visit_id": vid,
                "psn_id": psn,
                "fixmedins_code": prov,
                "med_type": med_type,
                "hosp_lv": lv,
                "begin_date": begin,
                "end_date": begin + dt.timedelta(days=los),
                "los_days": los,
                "emergency": False,
                "diagnoses": dx,
                "scenario": None,
                "bilg_dr_codg": doctor,
            }
        )
        for k, (code, qty_units, price) in enumerate(items):
            self.ln.append(
                {
                    "visit_id": vid,
                    "feedetl_sn": k + 1,
                    "code": code,
                    "qty": qty_units * 10_000,
                    "price": price,
                    "amount": qty_units * price,
                }
            )
        return vid

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        v = pl.DataFrame(
            self.v, schema_overrides={"los_days": pl.Int16, "scenario": pl.String, "bilg_dr_codg": pl.String}
        )
        ln = pl.DataFrame(self.ln, schema_overrides={"feedetl_sn": pl.Int32})
        return v, ln


def run(c: Claims, code: str, persons: pl.DataFrame | None = None) -> pl.DataFrame:
    v, ln = c.frames()
    out = run_models(persons, v, ln, only={code})
    validate_flags(out)
    return out.filter(pl.col("rule_code") == code)


def test_code_mix_flags_an_item_peers_never_bill() -> None:
    c = Claims()
    for p in range(6):
        for i in range(60):
            items = [(CONSULT, 1, 1000), (DRUG_A, 2, 300)]
            if p == 5 and i < 30:
                items[0] = (CHIEF, 1, 3000)  # upcoded consult grade at one provider
            c.visit(1000 * p + i, f"H{p}", i, items)
    f = run(c, "MX-PEER-005")
    v, _ = c.frames()
    flagged = v.filter(pl.col("visit_id").is_in(f["visit_id"].implode()))
    assert flagged.height == 30 and set(flagged["fixmedins_code"].to_list()) == {"H5"}
    assert f["feedetl_sn"].to_list() == [1] * 30 and (f["amount_fen"] == 3000).all()
    ev = json.loads(f["evidence"][0])
    assert ev["code"] == CHIEF and ev["peer_share"] < 0.05 and ev["lift"] > 4
    assert "高套" in f["reason_zh"][0] and "upcoding" in f["reason_en"][0]


def test_bill_template_flags_one_item_set_reused_for_many_patients() -> None:
    c = Claims()
    for p in range(5):
        for i in range(80):
            c.visit(
                1000 * p + i,
                f"H{p}",
                i % 300,
                [(CONSULT, 1, 1000), (DRUG_A, 1 + i % 7, 300), (LAB, 1, 500 + i)]
                if i % 2
                else [(CONSULT, 1, 1000), (DRUG_B, 1 + i % 5, 200), (REG, 1, 100), (LAB, 1, 400)],
            )
    ghost = [
        c.visit(
            90_000 + k, "H4", k, [(CONSULT, 1, 1000), (DRUG_A, 3, 300), (DRUG_B, 2, 200), (NURSE, 1, 1800)]
        )
        for k in range(15)
    ]
    f = run(c, "MX-PEER-006")
    assert sorted(f["visit_id"].to_list()) == ghost


def test_physician_template_flags_one_doctors_identical_short_bills() -> None:
    c = Claims()
    for i in range(240):  # honest two-item bills: the quantity follows the patient
        c.visit(i, "H9", i % 300, [(CONSULT, 1, 1000), (DRUG_B, 1 + i % 11, 200)], doctor=f"D{i % 3}")
    ghost = [
        c.visit(5_000 + k, "H9", k, [(CONSULT, 1, 1000), (DRUG_A, 3, 300)], doctor="D0") for k in range(12)
    ]
    for k in range(12):  # the same bill spread over three physicians: 4 patients each, not a template
        c.visit(6_000 + k, "H8", k, [(CONSULT, 1, 1000), (DRUG_A, 3, 300)], doctor=f"E{k % 3}")
    for k in range(12):  # ten patients of one busy physician's 200 visits: 5 %, under the share
        c.visit(7_000 + k % 10, "H7", k, [(CONSULT, 1, 1000), (DRUG_A, 3, 300)], doctor="F1")
    for i in range(188):
        c.visit(
            8_000 + i, "H7", i, [(CONSULT, 1, 1000), (DRUG_B, 1 + i % 13, 200), (LAB, 1, 400)], doctor="F1"
        )
    f = run(c, "MX-PEER-007")
    assert sorted(f["visit_id"].to_list()) == ghost
    ev = json.loads(f["evidence"][0])
    assert ev["physician"] == "D0" and ev["patients"] == 12 and ev["physician_visits"] == 92
    assert "D0" in f["reason_zh"][0] and "physician D0" in f["reason_en"][0]


def test_bill_signatures_ignore_line_order_and_tell_quantities_apart_only_in_the_bill() -> None:
    c = Claims()
    a = c.visit(1, "H1", 0, [(CONSULT, 1, 1000), (DRUG_A, 2, 300), (LAB, 1, 500)])
    b = c.visit(2, "H1", 1, [(LAB, 1, 500), (CONSULT, 1, 1000), (DRUG_A, 2, 300)])  # same bill, other order
    q = c.visit(3, "H1", 2, [(CONSULT, 1, 1000), (DRUG_A, 5, 300), (LAB, 1, 500)])  # other quantity
    o = c.visit(4, "H1", 3, [(CONSULT, 1, 1000), (DRUG_B, 2, 300), (LAB, 1, 500)])  # other item
    shop = c.visit(5, "P1", 3, [(DRUG_A, 2, 300)])  # pharmacies have no bill signature
    v, ln = c.frames()
    sig = {
        r["visit_id"]: r
        for r in visit_signatures(visit_frame(v, line_frame(ln)), line_frame(ln)).iter_rows(named=True)
    }
    assert shop not in sig and {a, b, q, o} == set(sig) and sig[a]["n_items"] == 3
    assert sig[a]["items_h"] == sig[b]["items_h"] == sig[q]["items_h"] != sig[o]["items_h"]
    assert sig[a]["bill_h"] == sig[b]["bill_h"] != sig[q]["bill_h"]


def test_network_finds_a_ring_seen_together_and_not_a_household() -> None:
    c = Claims()
    rng = random.Random(7)  # background: 200 regulars visiting H1 on random days
    for p in range(200):
        for d in rng.sample(range(360), 6):
            c.visit(p, "H1", d, [(CONSULT, 1, 1000)])
    ring = list(range(500, 510))
    ring_days = list(range(10, 350, 17))
    ring_visits = [
        c.visit(p, "H1", d, [(CONSULT, 1, 1000), (DRUG_A, 4, 300)]) for d in ring_days for p in ring
    ]
    family = [600, 601, 602, 603, 604]  # a household that always comes together is not a ring
    for d in ring_days:
        for p in family:
            c.visit(p, "H1", d + 3, [(CONSULT, 1, 1000)])
    persons = pl.DataFrame(
        {"psn_id": list(range(700)), "household_id": [600 if 600 <= i < 605 else i for i in range(700)]}
    )
    f = run(c, "MX-NET-001", persons)
    assert set(f["visit_id"].to_list()) == set(ring_visits)
    ev = json.loads(f["evidence"][0])
    assert ev["ring_size"] == 10 and ev["mean_expected_co_days"] < 2


def test_early_refills_of_a_dear_drug() -> None:
    c = Claims()
    for p in range(20):  # ordinary buyers: about monthly
        for k in range(10):
            c.visit(p, "P1", k * 33 + p, [(DEAR, 1, 13800)], med_type="41", lv="1")
    reseller = [
        c.visit(99, "P1" if k % 2 else "P2", k * 8, [(DEAR, 1, 13800)], med_type="41", lv="1")
        for k in range(40)
    ]
    f = run(c, "MX-PAT-004")
    assert sorted(f["visit_id"].to_list()) == reseller
    assert json.loads(f["evidence"][0])["interval_days"] == 8.0


def test_a_dialysis_patients_epo_is_the_courses_regimen_not_an_early_refill() -> None:
    epo, session = "XB03XAA079B001010155732", "003110000010000"  # knowledge course_markers: regimen, session
    c = Claims()
    for p in range(20):  # ordinary buyers of EPO (anaemia of CKD without dialysis): about monthly
        for k in range(10):
            c.visit(p, "H1", k * 33 + p, [(epo, 1, 2600)], med_type="14", dx="N18")
    # a haemodialysis patient: EPO at every session, weekly
    dialysis = [c.visit(98, "H2", 7 * k, [(session, 1, 38000), (epo, 1, 2600)], dx="N185") for k in range(40)]
    # the same weekly EPO without any dialysis session: still an early refill
    alone = [c.visit(99, "H1", 7 * k, [(epo, 1, 2600)], med_type="14", dx="N18") for k in range(40)]
    f = run(c, "MX-PAT-004")
    assert sorted(f["visit_id"].unique().to_list()) == alone
    assert not set(f["visit_id"].to_list()) & set(dialysis)


def test_excess_quantity_on_one_line() -> None:
    c = Claims()
    for p in range(100):
        c.visit(p, f"P{p % 3}", p, [(DRUG_A, 28 + p % 5, 300)], med_type="41", lv="1")
    big = c.visit(500, "P0", 40, [(DRUG_A, 180, 300)], med_type="41", lv="1")
    f = run(c, "MX-PAT-005")
    assert f["visit_id"].to_list() == [big] and f["amount_fen"].to_list() == [180 * 300]


def test_long_stay_with_little_care_is_flagged_but_a_long_busy_stay_is_not() -> None:
    c = Claims()
    for p in range(40):
        los = 6 + p % 4
        c.visit(
            p,
            "H1",
            p * 5,
            [(BED, los, 3000), (NURSE, los, 1800), (DRUG_A, 10 * los, 300), (LAB, los, 2000)],
            med_type="21",
            los=los,
            dx="J18",
        )
    hung = c.visit(
        100,
        "H1",
        250,
        [(BED, 30, 3000), (NURSE, 30, 1800), (DRUG_A, 60, 300), (LAB, 6, 2000)],
        med_type="21",
        los=30,
        dx="J18",
    )
    c.visit(
        101,
        "H1",
        260,
        [(BED, 30, 3000), (NURSE, 30, 1800), (DRUG_A, 300, 300), (LAB, 30, 2000)],
        med_type="21",
        los=30,
        dx="J18",
    )
    f = run(c, "MX-PEER-003")
    assert f["visit_id"].to_list() == [hung]


def test_cost_outlier_provider_and_only_its_dear_visits() -> None:
    c = Claims()
    for p in range(8):
        for i in range(40):
            units = 3 + i % 3
            if p == 7 and i % 2 == 0:
                units *= 6  # this provider bills six times the care on half its cases
            c.visit(1000 * p + i, f"H{p}", i, [(CONSULT, 1, 1000), (DRUG_A, units, 300)])
    f = run(c, "MX-PEER-001")
    v, _ = c.frames()
    flagged = v.filter(pl.col("visit_id").is_in(f["visit_id"].implode()))
    assert flagged.height == 20 and set(flagged["fixmedins_code"].to_list()) == {"H7"}


def test_isolation_forest_flags_the_extreme_visit_with_its_top_features() -> None:
    c = Claims()
    for p in range(3000):
        c.visit(p, f"H{p % 10}", p % 360, [(CONSULT, 1, 1000), (DRUG_A, 2 + p % 4, 300)])
    odd = c.visit(9999, "H3", 100, [(CONSULT, 1, 1000), (DRUG_A, 2, 300), (LAB, 400, 2000)], med_type="11")
    v, ln = c.frames()
    f = run_models(
        None,
        v,
        ln,
        only={"MX-IF-001"},
        params={**load_params(), "iforest": {**load_params()["iforest"], "score_quantile": 0.9995}},
    )
    assert odd in f["visit_id"].to_list()
    assert f.height <= 3
    assert "log_amount_ratio" in f.filter(pl.col("visit_id") == odd)["reason_en"][0]


@pytest.mark.parametrize(
    "code",
    [
        "MX-PEER-001",
        "MX-PEER-005",
        "MX-PEER-006",
        "MX-PEER-007",
        "MX-PAT-004",
        "MX-PAT-005",
        "MX-NET-001",
        "MX-PEER-003",
        "MX-PEER-008",
    ],
)
def test_clean_peers_raise_no_flags(code: str) -> None:
    c = Claims()
    for p in range(6):
        for i in range(50):
            c.visit(
                1000 * p + i,
                f"H{p}",
                (i * 7) % 360,
                [(CONSULT, 1, 1000), (DRUG_A, 2 + i % 3, 300)],
                doctor=f"D{p}-{i % 5}",
            )
    assert run(c, code).height == 0


def test_network_co_day_counts_equal_a_same_day_self_join() -> None:
    """The sparse incidence product counts exactly the shared days a (provider, day) self-join counts."""
    from yibao.audit.models.network import _co_days

    rng = random.Random(5)
    rows = {
        (
            rng.randrange(40),
            f"H{rng.randrange(3)}",
            dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(30)),
        )
        for _ in range(2_000)
    }
    days = pl.DataFrame(list(rows), schema=["psn_id", "fixmedins_code", "begin_date"], orient="row")
    per = days.group_by("psn_id", "fixmedins_code").agg(pl.len().alias("d"))
    regulars = per.filter(pl.col("d") >= 4)
    r = days.join(regulars.select("psn_id", "fixmedins_code"), on=["psn_id", "fixmedins_code"])
    want = (
        r.join(r, on=["fixmedins_code", "begin_date"], suffix="_b")
        .filter(pl.col("psn_id") < pl.col("psn_id_b"))
        .group_by("fixmedins_code", "psn_id", "psn_id_b")
        .agg(pl.len().cast(pl.Int64).alias("x"))
        .filter(pl.col("x") >= 6)
    )
    got = _co_days(days, regulars, 6)
    key = ["fixmedins_code", "psn_id", "psn_id_b", "x"]
    assert want.height > 50
    assert got.select(key).sort(key).equals(want.select(key).sort(key))


REHAB = "003402000010000"


def test_patients_of_one_rehabilitation_course_schedule_are_not_a_ring_but_the_ring_still_is() -> None:
    c = Claims()
    rng = random.Random(11)  # background: 200 regulars visiting H1 on random days
    for p in range(200):
        for d in rng.sample(range(360), 6):
            c.visit(p, "H1", d, [(CONSULT, 1, 1000)])
    course = list(range(800, 808))  # eight patients in daily rehabilitation sessions, Sundays off
    for p in course:
        for k in range(18):
            c.visit(p, "H1", 40 + k + k // 6, [(REHAB, 1, 4000)], dx="S82")
    ring = list(range(500, 510))
    ring_visits = [
        c.visit(p, "H1", d, [(CONSULT, 1, 1000), (DRUG_A, 4, 300)]) for d in range(10, 350, 17) for p in ring
    ]
    f = run(c, "MX-NET-001")
    assert set(f["visit_id"].to_list()) == set(ring_visits)


def test_a_dialysis_centre_is_compared_with_its_specialty_not_with_general_hospitals() -> None:
    c = Claims()
    for h in range(5):  # general hospitals: patients come twice a year
        for p in range(300):
            for d in (10, 200):
                c.visit(10_000 * h + p, f"H{h}", d + p % 50, [(CONSULT, 1, 1000)])
    for p in range(6):  # a dialysis centre: its patients come three times a week
        for k in range(150):
            c.visit(90_000 + p, "H9", (k // 3) * 7 + (k % 3) * 2, [(CONSULT, 1, 1000)], dx="N18")
    v, ln = c.frames()
    from yibao.audit.models.features import specialties

    params = load_params()
    frame = visit_frame(v, line_frame(ln), peers=params["peers"])
    spec = dict(specialties(frame, params["peers"]).iter_rows())
    assert spec == {"H9": "renal"}  # CKD (N18) read with dialysis care (Z49) as one case-mix group
    assert frame.filter(pl.col("fixmedins_code") == "H9")["peer"][0] == "H:2:renal"
    assert run(c, "MX-PEER-004").height == 0
    # with the specialty left out (no institution ever a specialist) the centre's patients are flagged
    blind = {**params, "peers": {**params["peers"], "specialty_share": 1.01}}
    out = run_models(None, v, ln, only={"MX-PEER-004"}, params=blind)
    assert set(out["fixmedins_code"].to_list()) == {"H9"}


def test_an_institution_whose_name_states_its_category_is_a_peer_of_its_category() -> None:
    c = Claims()
    for h in range(3):
        for p in range(200):
            c.visit(1000 * h + p, f"H{h}", p % 50, [(CONSULT, 1, 1000)], dx="C34" if h == 2 else "J06")
    v, ln = c.frames()
    from yibao.audit.models.features import line_frame, visit_frame

    inst = pl.DataFrame(
        {
            "fixmedins_code": ["H0", "H1", "H2"],
            "kind": ["hospital"] * 3,
            "name": ["西安市中医医院", "某某区人民医院", "陕西省肿瘤医院"],
        }
    )
    frame = visit_frame(v, line_frame(ln), institutions=inst, peers=load_params()["peers"])
    peer = dict(frame.select("fixmedins_code", "peer").unique().iter_rows())
    assert peer == {"H0": "hospital:2:tcm", "H1": "hospital:2:general", "H2": "hospital:2:oncology"}


def test_maintenance_dialysis_sessions_are_not_repeat_visits_but_the_same_count_of_consultations_are() -> (
    None
):
    c = Claims()
    for h in range(5):
        for p in range(200):
            for d in (10, 200):
                c.visit(10_000 * h + p, f"H{h}", d + p % 50, [(CONSULT, 1, 1000)])
    for k in range(150):  # three dialysis sessions a week at H0, and a person consulting H1 as often
        c.visit(90_000, "H0", (k // 3) * 7 + (k % 3) * 2, [("003110000010000", 1, 40000)], dx="N18")
        c.visit(90_001, "H1", (k // 3) * 7 + (k % 3) * 2, [(CONSULT, 1, 1000)])
    f = run(c, "MX-PEER-004")
    assert set(f["psn_id"].to_list()) == {90_001}


def test_rare_dear_exams_for_the_diagnosis_are_flagged_but_exams_the_diagnosis_calls_for_are_not() -> None:
    ct, mri, holter, eeg = "002103000010000", "002102000010000", "003107010030000", "003101000010000"
    c = Claims()
    for i in range(400):  # colds: a consultation and a drug
        c.visit(i, f"H{i % 4}", i % 300, [(CONSULT, 1, 1000), (DRUG_A, 2, 300)], dx="J06")
    for i in range(300):  # headaches: a head CT is common, an MRI now and then
        items = [(CONSULT, 1, 1000), (ct, 1, 15000)] + ([(mri, 1, 48000)] if i % 10 == 0 else [])
        c.visit(1000 + i, f"H{i % 4}", i % 300, items, dx="R51")
    phantom = c.visit(
        2000, "H1", 50, [(CONSULT, 1, 1000), (mri, 1, 48000), (holter, 1, 20000), (eeg, 1, 9000)]
    )
    one = c.visit(2001, "H2", 60, [(CONSULT, 1, 1000), (ct, 1, 15000)])  # one unusual exam: a judgement call
    f = run(c, "MX-PEER-008")
    assert set(f["visit_id"].to_list()) == {phantom} and sorted(f["feedetl_sn"].to_list()) == [2, 3, 4]
    assert one not in set(f["visit_id"].to_list())
    ev = json.loads(f["evidence"][0])
    assert ev["dx3"] == "J06" and ev["rare_exams"] == 3
