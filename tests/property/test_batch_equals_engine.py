"""One semantics, two executors: the vectorised batch engine agrees with the real-time engine to the fen."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_properties import IDENTITIES, PTYPES, Generated, fee_lines, policies

from yibao.batch import settle_batch
from yibao.batch.settle import MONEY_OUT
from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.catalogue import parse_catalogue
from yibao.policy.loader import LoadedRegion
from yibao.policy.model import Region
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import CommercialProduct, Line, Person, Visit

FIXTURE = Path(__file__).parent.parent / "fixtures" / "region.yaml"
BOOK = PolicyBook.from_file(FIXTURE)
CODES = ["A01", "B10", "C01", "M01", "S01", "B20"]
PEOPLE = [  # psn_type, identities, balance (fen), family payer
    ("11", "", 300_000, -1),
    ("21", "", 50_000, -1),
    ("31", "DB", 0, 0),
    ("31", "TK", 0, -1),
    ("31", "", 0, 1),
]

VISITS_SCHEMA = {
    "visit_id": pl.Int64,
    "seq": pl.Int64,
    "mdtrt_id": pl.String,
    "psn_id": pl.Int64,
    "med_type": pl.String,
    "hosp_lv": pl.String,
    "begin_date": pl.Date,
    "end_date": pl.Date,
    "locality": pl.String,
    "emergency": pl.Boolean,
    "use_account": pl.Boolean,
    "account_payer_id": pl.Int64,
}
LINES_SCHEMA = {
    "visit_id": pl.Int64,
    "feedetl_sn": pl.Int32,
    "code": pl.String,
    "qty": pl.Int64,
    "price": pl.Int64,
    "amount": pl.Int64,
}

line_st = st.tuples(st.sampled_from(CODES), st.integers(1, 40_000), st.integers(1, 30))
visit_st = st.tuples(
    st.integers(0, len(PEOPLE) - 1),  # person
    st.sampled_from(["11", "21"]),  # med_type
    st.sampled_from(["1", "2", "3"]),
    st.integers(0, 364),  # day of year
    st.sampled_from(["local", "local", "remote_filed", "remote_unfiled"]),
    st.booleans(),  # emergency
    st.booleans(),  # use account
    st.booleans(),  # family payer if any
    st.lists(line_st, min_size=1, max_size=6),
)


def build(visits: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[tuple[Person, Visit]]]:
    persons = pl.DataFrame(
        {
            "psn_id": list(range(len(PEOPLE))),
            "insutype": ["310" if p[0] in ("11", "21") else "390" for p in PEOPLE],
            "psn_type": [p[0] for p in PEOPLE],
            "identities": [p[1] for p in PEOPLE],
            "family_payer_id": [p[3] for p in PEOPLE],
            "account_balance": [p[2] for p in PEOPLE],
        },
        schema={
            "psn_id": pl.Int64,
            "insutype": pl.String,
            "psn_type": pl.String,
            "identities": pl.String,
            "family_payer_id": pl.Int64,
            "account_balance": pl.Int64,
        },
    )
    vrows: list[dict[str, object]] = []
    lrows: list[dict[str, object]] = []
    pairs: list[tuple[Person, Visit]] = []
    for seq, (pi, med, lv, day, loc, emerg, use_acct, fam, lines) in enumerate(visits):
        ptype, idents, _bal, payer = PEOPLE[pi]
        scheme = "310" if ptype in ("11", "21") else "390"
        payer_id = payer if (fam and payer >= 0) else -1
        begin = dt.date(2025, 1, 1) + dt.timedelta(days=day)
        ls = tuple(
            Line(str(j + 1), code, qty * QTY_ONE, price, price * qty)
            for j, (code, price, qty) in enumerate(lines)
        )
        person = Person(
            f"P{pi}",
            "x",
            "x",
            "M",
            dt.date(1970, 1, 1),
            scheme,
            ptype,
            frozenset(x for x in idents.split("|") if x),
            family=(f"P{payer}",) if payer >= 0 else (),
        )
        visit = Visit(
            f"V{seq}",
            f"P{pi}",
            med,
            "H1",
            lv,
            begin,
            begin,
            ls,
            loc,
            emerg,
            (),
            use_acct,
            f"P{payer_id}" if payer_id >= 0 else None,
        )
        pairs.append((person, visit))
        vrows.append(
            {
                "visit_id": seq,
                "seq": seq,
                "mdtrt_id": f"V{seq}",
                "psn_id": pi,
                "med_type": med,
                "hosp_lv": lv,
                "begin_date": begin,
                "end_date": begin,
                "locality": loc,
                "emergency": emerg,
                "use_account": use_acct,
                "account_payer_id": payer_id,
            }
        )
        for ln in ls:
            lrows.append(
                {
                    "visit_id": seq,
                    "feedetl_sn": int(ln.feedetl_sn),
                    "code": ln.code,
                    "qty": ln.qty,
                    "price": ln.price,
                    "amount": ln.amount,
                }
            )
    vdf = pl.DataFrame(vrows, schema=VISITS_SCHEMA)
    ldf = pl.DataFrame(lrows, schema=LINES_SCHEMA)
    return persons, vdf, ldf, pairs


def realtime(
    pairs: list[tuple[Person, Visit]],
    book: PolicyBook = BOOK,
    covers: dict[str, tuple[CommercialProduct, ...]] | None = None,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Settle in (begin_date, seq) order, carrying accumulators and balances like the ledger does
    (``covers``: the commercial products of each visit, by mdtrt_id)."""
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i][1].begin_date, i))
    acc: dict[tuple[str, int], dict[str, int]] = {}
    bal = {f"P{i}": p[2] for i, p in enumerate(PEOPLE)}
    out: dict[str, dict[str, int]] = {}
    for i in order:
        person, visit = pairs[i]
        key = (person.psn_no, visit.begin_date.year)
        a = acc.setdefault(key, {})
        payer = visit.account_psn_no or person.psn_no
        payer_scheme = "310" if PEOPLE[int(payer[1:])][0] in ("11", "21") else "390"
        s = settle_visit(
            book.for_date(visit.begin_date),
            person,
            visit,
            a,
            bal[payer],
            payer_scheme,
            covers=(covers or {}).get(visit.mdtrt_id, ()),
        )
        for k, v in s.deltas.items():
            a[k] = a.get(k, 0) + v
        bal[payer] -= s.acct_pay
        out[visit.mdtrt_id] = {f: getattr(s, f) for f in MONEY_OUT} | {
            "pool_prop_selfpay": s.pool_prop_selfpay
        }
        if covers is not None:
            out[visit.mdtrt_id]["commercial_pay"] = s.commercial_pay
    final = {f"{k[0]}:{k[1]}": {n: v for n, v in d.items() if v} for k, d in acc.items()}
    return out, final


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(visit_st, min_size=1, max_size=40))
def test_batch_and_realtime_agree_to_the_fen(visits: list[tuple]) -> None:
    persons, vdf, ldf, pairs = build(visits)
    expected, expected_acc = realtime(pairs)
    result = settle_batch(BOOK, persons, vdf, ldf)
    rows = {f"V{r['visit_id']}": r for r in result.visits.iter_rows(named=True)}
    for mdtrt_id, fields in expected.items():
        got = {k: rows[mdtrt_id][k] for k in fields}
        assert got == fields, mdtrt_id
    for key, acc in expected_acc.items():
        psn, year = key.split(":")
        assert result.accumulators(int(psn[1:]), int(year)) == acc


def _readings_book() -> PolicyBook:
    """The fixture with the newer readings: compounding repeat deductible, a 大病 base without the basic
    deductible, the hardship tilt as a rule."""
    import yaml

    from yibao.policy.loader import load_region_text

    raw = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    v = raw["versions"][0]
    v["benefits"][0]["deductible"]["repeat"] = {"compound": "0.8", "floor": "200"}
    ci = v["layers"][1]
    ci["exclude_basic_deductible"] = True
    del ci["variants"]
    ci["tilts"] = [
        {"identities": ["DB", "TK"], "deductible_factor": "0.5", "ratio_points": "0.05", "cap": "none"}
    ]
    text = yaml.safe_dump(raw, allow_unicode=True)
    return PolicyBook(load_region_text(text, file="readings.yaml", base_dir=FIXTURE.parent))


READINGS = _readings_book()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(visit_st, min_size=1, max_size=40))
def test_batch_and_realtime_agree_on_the_newer_policy_readings(visits: list[tuple]) -> None:
    persons, vdf, ldf, pairs = build(visits)
    expected, expected_acc = realtime(pairs, READINGS)
    result = settle_batch(READINGS, persons, vdf, ldf)
    rows = {f"V{r['visit_id']}": r for r in result.visits.iter_rows(named=True)}
    for mdtrt_id, fields in expected.items():
        assert {k: rows[mdtrt_id][k] for k in fields} == fields, mdtrt_id
    for key, acc in expected_acc.items():
        psn, year = key.split(":")
        assert result.accumulators(int(psn[1:]), int(year)) == acc


def test_a_heavy_year_hits_caps_and_layers_identically() -> None:
    # one resident with many large stays: deductibles, the 13万 cap, 大病 segments and assistance all bind
    visits = [
        (2, "21", "3", d, "local", False, False, False, [("A01", 4_000_000, 5)]) for d in range(0, 360, 12)
    ]
    visits += [
        (0, "21", "3", d, "local", False, True, False, [("A01", 5_000_000, 3), ("B20", 6000, 2)])
        for d in range(3, 360, 20)
    ]
    persons, vdf, ldf, pairs = build(visits)
    expected, expected_acc = realtime(pairs)
    result = settle_batch(BOOK, persons, vdf, ldf)
    got = {
        f"V{r['visit_id']}": {k: r[k] for k in expected["V0"]} for r in result.visits.iter_rows(named=True)
    }
    assert got == expected
    for key, acc in expected_acc.items():
        psn, year = key.split(":")
        assert result.accumulators(int(psn[1:]), int(year)) == acc
    assert sum(v["hifob_pay"] for v in expected.values()) > 0
    assert sum(v["hifmi_pay"] for v in expected.values()) > 0
    assert sum(v["maf_pay"] for v in expected.values()) > 0


# --- random policies as well as random visits ---------------------------------------------------


def _random_policy_book(gen: object) -> PolicyBook:
    assert isinstance(gen, Generated)
    model = Region.model_validate(gen.raw)
    return PolicyBook(LoadedRegion("generated.yaml", model, {"catalogue.csv": parse_catalogue(gen.csv)}))


class RandomCase(NamedTuple):
    book: PolicyBook
    persons: pl.DataFrame
    visits: pl.DataFrame
    lines: pl.DataFrame
    expected: dict[str, dict[str, int]]  # mdtrt_id -> the engine's money fields
    accumulators: dict[str, dict[str, int]]  # psn_no -> the year's accumulators after the engine


@st.composite
def random_cases(
    draw: st.DrawFn,
) -> RandomCase:
    """A random policy, people (some paying from a family member's account) and a year of visits (2025),
    with the real-time engine's settlement of each visit in (begin_date, seq) order and the accumulators
    it leaves; every executor is checked against this one reading (batch here, Spark in
    test_spark_equals_batch.py)."""
    gen = draw(policies(layer_order=draw(st.sampled_from(["settlement", "any"]))))
    book = _random_policy_book(gen)
    policy = book.for_date(dt.date(2025, 6, 1))
    rule = policy.accounts.get("310")
    family_ok = rule is not None and rule.family_mutual_aid
    n_people = draw(st.integers(1, 5))
    ppl = []
    for _ in range(n_people):
        pt = draw(st.sampled_from(sorted(PTYPES)))
        idents = "|".join(sorted(draw(st.frozensets(st.sampled_from(IDENTITIES)))))
        ppl.append((pt, idents, draw(st.integers(0, 2_000_000)) if PTYPES[pt][0] == "310" else 0))
    employees = [i for i, p in enumerate(ppl) if PTYPES[p[0]][0] == "310"]
    payers = [
        draw(st.sampled_from(employees)) if family_ok and employees and draw(st.booleans()) else -1
        for _ in ppl
    ]
    payers = [p if p != i else -1 for i, p in enumerate(payers)]
    persons = pl.DataFrame(
        {
            "psn_id": list(range(n_people)),
            "insutype": [PTYPES[p[0]][0] for p in ppl],
            "psn_type": [p[0] for p in ppl],
            "identities": [p[1] for p in ppl],
            "family_payer_id": payers,
            "account_balance": [p[2] for p in ppl],
        },
        schema={
            "psn_id": pl.Int64,
            "insutype": pl.String,
            "psn_type": pl.String,
            "identities": pl.String,
            "family_payer_id": pl.Int64,
            "account_balance": pl.Int64,
        },
    )
    vrows: list[dict[str, Any]] = []
    lrows: list[dict[str, Any]] = []
    pairs: list[tuple[Person, Visit]] = []
    for seq in range(draw(st.integers(1, 25))):
        pi = draw(st.integers(0, n_people - 1))
        pt, idents, _ = ppl[pi]
        use_family = payers[pi] >= 0 and draw(st.booleans())
        lines = tuple(draw(fee_lines(j + 1)) for j in range(draw(st.integers(1, 5))))
        day = dt.date(2025, 1, 1) + dt.timedelta(days=draw(st.integers(0, 364)))
        v = Visit(
            f"V{seq}",
            f"P{pi}",
            draw(st.sampled_from(["11", "21"])),
            "H1",
            draw(st.sampled_from(["1", "2", "3"])),
            day,
            day,
            lines,
            draw(st.sampled_from(["local", "remote_filed", "remote_unfiled"])),
            draw(st.booleans()),
            (),
            draw(st.booleans()),
            f"P{payers[pi]}" if use_family else None,
        )
        person = Person(
            f"P{pi}",
            "x",
            "x",
            "F",
            dt.date(1960, 1, 1),
            PTYPES[pt][0],
            pt,
            frozenset(x for x in idents.split("|") if x),
            family=(f"P{payers[pi]}",) if payers[pi] >= 0 else (),
        )
        pairs.append((person, v))
        vrows.append(
            {
                "visit_id": seq,
                "seq": seq,
                "mdtrt_id": v.mdtrt_id,
                "psn_id": pi,
                "med_type": v.med_type,
                "hosp_lv": v.hosp_lv,
                "begin_date": day,
                "end_date": day,
                "locality": v.locality,
                "emergency": v.emergency,
                "use_account": v.use_account,
                "account_payer_id": payers[pi] if use_family else -1,
            }
        )
        lrows += [
            {
                "visit_id": seq,
                "feedetl_sn": int(ln.feedetl_sn),
                "code": ln.code,
                "qty": ln.qty,
                "price": ln.price,
                "amount": ln.amount,
            }
            for ln in lines
        ]
    acc: dict[str, dict[str, int]] = {}
    bal = {f"P{i}": p[2] for i, p in enumerate(ppl)}
    expected: dict[str, dict[str, int]] = {}
    for i in sorted(range(len(pairs)), key=lambda k: (pairs[k][1].begin_date, k)):
        person, v = pairs[i]
        a = acc.setdefault(person.psn_no, {})
        payer = v.account_psn_no or person.psn_no
        s = settle_visit(policy, person, v, a, bal[payer], PTYPES[ppl[int(payer[1:])][0]][0])
        for k, d in s.deltas.items():
            a[k] = a.get(k, 0) + d
        bal[payer] -= s.acct_pay
        expected[v.mdtrt_id] = {f: getattr(s, f) for f in (*MONEY_OUT, "pool_prop_selfpay")}
    return RandomCase(
        book,
        persons,
        pl.DataFrame(vrows, schema=VISITS_SCHEMA),
        pl.DataFrame(lrows, schema=LINES_SCHEMA),
        expected,
        acc,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_cases())
def test_batch_and_realtime_agree_on_random_policies(case: RandomCase) -> None:
    result = settle_batch(case.book, case.persons, case.visits, case.lines)
    got = {f"V{r['visit_id']}": {f: r[f] for f in MONEY_OUT} for r in result.visits.iter_rows(named=True)}
    assert got == {k: {f: v[f] for f in MONEY_OUT} for k, v in case.expected.items()}
    for psn, d in case.accumulators.items():
        assert result.accumulators(int(psn[1:]), 2025) == {k: v for k, v in d.items() if v}


PRODUCTS = {  # a whole-burden product with a yearly deductible, and a policy-scope-only one
    "COM-A": CommercialProduct(
        "COM-A", "INS-01", "甲", frozenset({"online_followup"}), (), 10_000, 8000, 60_000, 150_000, True
    ),
    "COM-B": CommercialProduct(
        "COM-B", "INS-02", "乙", frozenset({"online_followup"}), (), 0, 5000, 1_000_000, 400_000, False
    ),
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(visit_st, st.sampled_from([None, "COM-A", "COM-B"])), min_size=1, max_size=40),
    st.sampled_from([BOOK, READINGS]),
)
def test_batch_and_realtime_agree_with_commercial_cover(covered: list[tuple], book: PolicyBook) -> None:
    """The commercial tier (医保+商保一单制) on the same visits: the engine with ``covers``, the batch with a
    ``commercial_product`` column, to the fen, the products' yearly counters included."""
    persons, vdf, ldf, pairs = build([v for v, _ in covered])
    chosen = [c for _, c in covered]
    pairs = [
        (p, replace(v, scene="online_followup") if c else v) for (p, v), c in zip(pairs, chosen, strict=True)
    ]
    covers = {v.mdtrt_id: ((PRODUCTS[c],) if c else ()) for (_, v), c in zip(pairs, chosen, strict=True)}
    expected, expected_acc = realtime(pairs, book, covers)
    vdf = vdf.with_columns(pl.Series("commercial_product", chosen, dtype=pl.String))
    result = settle_batch(book, persons, vdf, ldf, products=PRODUCTS)
    rows = {f"V{r['visit_id']}": r for r in result.visits.iter_rows(named=True)}
    for mdtrt_id, fields in expected.items():
        assert {k: rows[mdtrt_id][k] for k in fields} == fields, mdtrt_id
    for key, acc in expected_acc.items():
        psn, year = key.split(":")
        assert result.accumulators(int(psn[1:]), int(year)) == acc
