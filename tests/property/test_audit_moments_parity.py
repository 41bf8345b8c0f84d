"""Properties of the three moments.

* the after-batch run flags exactly the lines the in-event hook flags, on the same visits, for every
  single-visit rule (so moving a check between moments never changes what it catches);
* the settlement hook never changes a settlement when no rule fires, and otherwise changes only the lines
  it blocks (which become fully self-paid).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.audit.knowledge import Knowledge, load_knowledge, with_physicians
from yibao.audit.moments import death_register, run_rules, settlement_hook, visits_from_frames
from yibao.audit.rules.model import load_library
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.engine import settle_visit

LIB = load_library()
# a registry with every title, one physician at two sites (the best title counts); "D9" is not registered
REGISTRY = pl.DataFrame(
    {
        "dr_code": ["D1", "D2", "D3", "D4", "D4"],
        "fixmedins_code": ["H61010000001"] * 5,
        "title": ["231", "232", "233", "234", "232"],
    }
)
KN = with_physicians(load_knowledge(), REGISTRY)
SINGLE = {r.code for r in LIB.active("during")}
STD = dict(KN.price_standard.select("code", "standard_price_fen").iter_rows())
# codes that exercise every single-visit rule, plus ordinary ones
POOL = sorted(
    {
        "XG04CBA125A001010182834",
        "XG03DAA129E006010113885",
        "XN02BEA087G001010110869",
        "XB05BAA078B001010113498",
        "XJ01DHA011B002010137004",
        "XJ05AHA019E001010158960",
        "XB03BAA067A001010153781",
        "XC01EBA048B001010127476",
        "001102000010000",
        "001102000020000",
        "001102000030000",
        "001104000010000",
        "001109000010000",
        "001201000040000",
        "001204000030000",
        "003310030010000",
        "003316010010000",
        "XJ01CAA001E001010191924",
        "002501010010000",
        "001201000060000",
        "XA10BHA052A001010141309",
    }
)
DX = ["I10", "J101", "E114", "N40", "K350", "C341", ""]

line_st = st.tuples(
    st.sampled_from(POOL),
    st.integers(1, 130),
    st.sampled_from([100, 100, 100, 112]),
    st.one_of(st.none(), st.integers(0, 45)),
    st.sampled_from([None, None, None, "D1", "D3", "D9"]),
)
visit_st = st.fixed_dictionaries(
    {
        "pid": st.integers(0, 3),
        "med_type": st.sampled_from(["11", "14", "21", "41"]),
        "hosp_lv": st.sampled_from(["1", "2", "3", "3S"]),
        "begin": st.dates(dt.date(2025, 1, 1), dt.date(2025, 12, 1)),
        "days": st.integers(0, 20),
        "dx": st.lists(st.sampled_from(DX), min_size=1, max_size=2),
        "lines": st.lists(line_st, min_size=1, max_size=8),
        "doctor": st.sampled_from(["D1", "D2", "D3", "D4", "D9", None]),
    }
)
person_st = st.tuples(st.sampled_from("MF"), st.dates(dt.date(1940, 1, 1), dt.date(2025, 1, 1)))


def frames(
    people: list[tuple[str, dt.date]], visits: list[dict[str, object]]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    p = pl.DataFrame(
        {
            "psn_id": list(range(len(people))),
            "psn_no": [f"P{i:09d}" for i in range(len(people))],
            "certno": ["x"] * len(people),
            "gender": [g for g, _ in people],
            "birth_date": [b for _, b in people],
            "insutype": ["310"] * len(people),
            "psn_type": ["11"] * len(people),
        }
    )
    vrows, lrows = [], []
    for vid, v in enumerate(visits):
        begin = v["begin"]
        assert isinstance(begin, dt.date)
        days = int(v["days"]) if v["med_type"] == "21" else 0  # type: ignore[call-overload]
        vrows.append(
            {
                "visit_id": vid,
                "mdtrt_id": f"M{vid}",
                "psn_id": int(v["pid"]) % len(people),  # type: ignore[call-overload]
                "med_type": v["med_type"],
                "fixmedins_code": "H61010000001",
                "hosp_lv": v["hosp_lv"],
                "begin_date": begin,
                "end_date": begin + dt.timedelta(days=days),
                "diagnoses": "|".join(d for d in v["dx"] if d),
                "emergency": False,  # type: ignore[attr-defined]
                "discharge_status": "4" if vid == 0 and v["med_type"] == "21" else "1",
                "bilg_dr_codg": v["doctor"],
            }
        )
        for sn, (code, units, pct, prd, doctor) in enumerate(v["lines"], start=1):  # type: ignore[arg-type]
            price = STD[code] * pct // 100
            lrows.append(
                {
                    "visit_id": vid,
                    "feedetl_sn": sn,
                    "code": code,
                    "qty": units * 10_000,
                    "price": price,
                    "amount": price * units,
                    "prd_days": prd,
                    "bilg_dr_codg": doctor,
                }
            )
    return (
        p,
        pl.DataFrame(
            vrows, schema_overrides={"begin_date": pl.Date, "end_date": pl.Date, "bilg_dr_codg": pl.String}
        ),
        pl.DataFrame(
            lrows, schema_overrides={"feedetl_sn": pl.Int32, "prd_days": pl.Int16, "bilg_dr_codg": pl.String}
        ),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person_st, min_size=1, max_size=4), st.lists(visit_st, min_size=1, max_size=6))
def test_after_batch_flags_exactly_what_the_in_event_hook_flags(
    people: list[tuple[str, dt.date]], visits: list[dict[str, object]]
) -> None:
    p, v, ln = frames(people, visits)
    batch = run_rules(LIB, KN, p, v, ln, only=SINGLE)
    hook = settlement_hook(LIB, KN, death_register(KN, p, v))
    event = {
        (f.rule_code, vid, None if f.feedetl_sn is None else int(f.feedetl_sn), f.severity)
        for vid, person, visit in visits_from_frames(p, v, ln)
        for f in hook(person, visit)
    }
    assert set(batch.select("rule_code", "visit_id", "feedetl_sn", "severity").iter_rows()) == event


BOOK = PolicyBook(load_region(example_path("xian")))
POLICY = BOOK.for_date(dt.date(2025, 6, 1))


@settings(max_examples=80, deadline=None)
@given(st.lists(person_st, min_size=1, max_size=1), visit_st)
def test_hook_changes_only_the_lines_it_blocks(
    people: list[tuple[str, dt.date]], visit: dict[str, object]
) -> None:
    p, v, ln = frames(people, [visit])
    deaths = pl.DataFrame({"psn_no": ["P000000000"], "death_date": [dt.date(2025, 6, 1)]})
    kn = Knowledge(**{**KN.__dict__, "deaths": deaths})
    hook = settlement_hook(LIB, kn)
    ((_, person, vis),) = list(visits_from_frames(p, v, ln))
    plain = settle_visit(POLICY, person, vis, {}, 50_000)
    audited = settle_visit(POLICY, person, vis, {}, 50_000, audit=hook)
    found = hook(person, vis)
    if not found:
        assert audited == plain
        return
    assert audited.audit == list(found)
    blocked = {f.feedetl_sn for f in found if f.severity == "block"}
    if None in blocked:
        blocked = {x.feedetl_sn for x in vis.lines}
    for line, a, b in zip(vis.lines, audited.line_parts, plain.line_parts, strict=True):
        assert a == ((line.amount, 0, 0, 0) if line.feedetl_sn in blocked else b)
    assert audited.medfee_sumamt == plain.medfee_sumamt
    assert audited.fund_pay_sumamt <= plain.fund_pay_sumamt
