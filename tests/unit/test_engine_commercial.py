"""Commercial cover as a tier of the one settlement (医保+商保一单制): after every public layer, before the
personal account, in the same result, its per-line shares and its yearly use in the accumulators — on the
Xi'an example policy and the shipped diabetes product (80 % of what the funds left, seed 002)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.care.store import load_params
from yibao.money import QTY_ONE, apply_ratio
from yibao.policy.book import PolicyBook
from yibao.policy.catalogue import CLASS_C
from yibao.policy.loader import example_path
from yibao.settlement.allocation import allocate
from yibao.settlement.engine import settle_visit
from yibao.settlement.explain import explain_visit
from yibao.settlement.model import Line, Person, Settlement, Visit, identity_violations
from yibao.settlement.trace import Commercial

DAY = dt.date(2025, 6, 2)
BOOK = PolicyBook.from_file(example_path("xian"))
POLICY = BOOK.for_date(DAY)
PRODUCT = load_params().products["DM-ONLINE"]
RETIRED = Person("P1", "测试", "610100195501010011", "F", dt.date(1955, 1, 1), "310", "21")
ITEMS = sorted((c for c in POLICY.catalogue.values() if c.unit_price), key=lambda c: c.code)


def visit(
    lines: tuple[Line, ...], *, scene: str = "online_followup", dx: str = "E11.9", acct: bool = False
) -> Visit:
    return Visit(
        "MD1",
        "P1",
        "11",
        "H61000000001",
        "3",
        DAY,
        DAY,
        lines,
        diagnoses=(dx,),
        use_account=acct,
        scene=scene,
    )


def lines_of(rng: random.Random, n: int, cheap: bool = False) -> tuple[Line, ...]:
    out = []
    pool = [it for it in ITEMS if (it.unit_price or 0) <= 5_000] if cheap else ITEMS
    for j, it in enumerate(rng.sample(pool, n)):
        q = rng.randint(1, 4)
        out.append(Line(str(j + 1), it.code, q * QTY_ONE, it.unit_price or 0, (it.unit_price or 0) * q))
    return tuple(out)


LINES = lines_of(random.Random(7), 8, cheap=True)  # a follow-up's size: under the per-claim cap


def without_commercial(s: Settlement) -> dict[str, object]:
    d = dataclasses.asdict(s)
    for k in ("commercial_pay", "commercial_product", "psn_cash_pay", "acct_pay", "balc", "deltas", "steps"):
        d.pop(k)
    d.pop("line_splits")
    return d


def test_a_covered_visit_pays_the_product_after_the_funds_and_the_patient_pays_the_rest() -> None:
    plain = settle_visit(POLICY, RETIRED, visit(LINES), {})
    s = settle_visit(POLICY, RETIRED, visit(LINES), {}, covers=(PRODUCT,))
    assert without_commercial(s) == without_commercial(plain)  # the public layers are untouched
    assert s.psn_part_amt > 0
    assert s.commercial_pay == apply_ratio(s.psn_part_amt, PRODUCT.ratio)
    assert s.psn_cash_pay == s.psn_part_amt - s.commercial_pay
    assert s.commercial_product == PRODUCT.id
    assert identity_violations(s) == []
    assert s.deltas[PRODUCT.paid_counter] == s.commercial_pay
    step = next(x for x in s.steps if isinstance(x, Commercial))
    assert (step.base, step.paid, step.insurer) == (s.psn_part_amt, s.commercial_pay, PRODUCT.insurer)


def test_a_product_that_does_not_cover_the_scene_or_diagnosis_changes_nothing() -> None:
    plain = settle_visit(POLICY, RETIRED, visit(LINES), {})
    for v in (visit(LINES, scene=""), visit(LINES, dx="I10"), visit(LINES, scene="remote_consult")):
        s = settle_visit(POLICY, RETIRED, v, {}, covers=(PRODUCT,))
        assert s == settle_visit(POLICY, RETIRED, v, {}) and s.commercial_pay == 0
    assert plain.commercial_product is None


def test_the_yearly_deductible_the_per_claim_cap_and_the_annual_cap_come_from_the_accumulators() -> None:
    p = dataclasses.replace(PRODUCT, deductible=1_000, per_claim_cap=10**9)
    first = settle_visit(POLICY, RETIRED, visit(LINES), {}, covers=(p,))
    base = first.psn_part_amt
    assert first.commercial_pay == apply_ratio(base - 1_000, p.ratio)
    assert first.deltas[p.deductible_counter] == 1_000
    met = settle_visit(POLICY, RETIRED, visit(LINES), {p.deductible_counter: 1_000}, covers=(p,))
    assert met.commercial_pay == apply_ratio(base, p.ratio) and p.deductible_counter not in met.deltas
    half = settle_visit(POLICY, RETIRED, visit(LINES), {p.deductible_counter: 400}, covers=(p,))
    assert half.deltas[p.deductible_counter] == 600
    capped = settle_visit(
        POLICY, RETIRED, visit(LINES), {}, covers=(dataclasses.replace(PRODUCT, per_claim_cap=123),)
    )
    assert capped.commercial_pay == 123
    room = settle_visit(
        POLICY, RETIRED, visit(LINES), {PRODUCT.paid_counter: PRODUCT.annual_cap - 7}, covers=(PRODUCT,)
    )
    assert room.commercial_pay == 7
    spent = settle_visit(
        POLICY, RETIRED, visit(LINES), {PRODUCT.paid_counter: PRODUCT.annual_cap}, covers=(PRODUCT,)
    )
    assert spent.commercial_pay == 0 and spent.psn_cash_pay == spent.psn_part_amt


def test_an_in_scope_product_leaves_the_out_of_scope_part_to_the_patient() -> None:
    c_item = next(it for it in ITEMS if it.cls == CLASS_C)
    lines = (*LINES, Line("99", c_item.code, QTY_ONE, c_item.unit_price or 0, c_item.unit_price or 0))
    p = dataclasses.replace(PRODUCT, out_of_scope=False, per_claim_cap=10**9)
    s = settle_visit(POLICY, RETIRED, visit(lines), {}, covers=(p,))
    in_scope = s.inscp_scp_amt + s.preselfpay_amt - s.fund_pay_sumamt
    assert s.fulamt_ownpay_amt > 0
    assert s.commercial_pay == apply_ratio(in_scope, p.ratio)
    assert s.psn_cash_pay == s.psn_part_amt - s.commercial_pay


def test_the_account_pays_after_the_product_never_the_same_fen_twice() -> None:
    s = settle_visit(POLICY, RETIRED, visit(LINES, acct=True), {}, 10**7, covers=(PRODUCT,))
    assert s.commercial_pay > 0 and s.acct_pay == s.psn_part_amt - s.commercial_pay and s.psn_cash_pay == 0
    poor = settle_visit(POLICY, RETIRED, visit(LINES, acct=True), {}, 100, covers=(PRODUCT,))
    assert poor.acct_pay == 100 and poor.psn_cash_pay == poor.psn_part_amt - poor.commercial_pay - 100
    assert identity_violations(s) == identity_violations(poor) == []


def test_the_explanation_names_the_product_and_what_it_paid() -> None:
    s = settle_visit(POLICY, RETIRED, visit(LINES), {}, covers=(PRODUCT,))
    text = "\n".join(x.zh for x in explain_visit(s, POLICY))
    assert PRODUCT.name in text and "商业保险" in text


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 15),
    ratio=st.integers(0, 10_000),
    deductible=st.integers(0, 20_000),
    cap=st.integers(0, 50_000),
    used=st.integers(0, 60_000),
    balance=st.integers(0, 30_000),
    in_scope_only=st.booleans(),
)
def test_every_fen_of_every_line_has_one_payer(
    seed: int, n: int, ratio: int, deductible: int, cap: int, used: int, balance: int, in_scope_only: bool
) -> None:
    p = dataclasses.replace(
        PRODUCT,
        ratio=ratio,
        deductible=deductible,
        per_claim_cap=cap,
        annual_cap=50_000,
        out_of_scope=not in_scope_only,
    )
    v = visit(lines_of(random.Random(seed), n), acct=bool(balance))
    s = settle_visit(POLICY, RETIRED, v, {p.paid_counter: used}, balance, covers=(p,))
    assert identity_violations(s) == []
    assert 0 <= s.commercial_pay <= min(cap, max(0, 50_000 - used), s.psn_part_amt)
    splits = allocate(s, v.lines)
    assert sum(sp.commercial_pay for sp in splits) == s.commercial_pay
    assert sum(sp.acct_pay for sp in splits) == s.acct_pay
    for sp in splits:
        assert min(sp.commercial_pay, sp.acct_pay, sp.psn_cash_pay) >= 0
        assert sp.amount == sum(sp.fund_pay.values()) + sp.commercial_pay + sp.acct_pay + sp.psn_cash_pay


@pytest.mark.parametrize("scene", ["", "online_followup"])
def test_without_covers_the_result_is_the_one_without_the_tier(scene: str) -> None:
    v = visit(LINES, scene=scene, acct=True)
    s = settle_visit(POLICY, RETIRED, v, {}, 5_000)
    assert s.commercial_pay == 0 and s.commercial_product is None
    assert s.psn_part_amt == s.acct_pay + s.psn_cash_pay


def _blocking(sn: str | None) -> object:
    from yibao.settlement.model import AuditFinding

    def hook(_p: Person, _v: Visit) -> list[AuditFinding]:
        return [AuditFinding(sn, "GZ-YB-019", "block", "电子处方已过有效期", "prescription expired")]

    return hook


def test_a_visit_the_in_event_audit_blocked_is_not_paid_by_the_product_either() -> None:
    s = settle_visit(POLICY, RETIRED, visit(LINES), {}, covers=(PRODUCT,), audit=_blocking(None))  # type: ignore[arg-type]
    assert s.fund_pay_sumamt == 0 and s.medfee_sumamt > 0
    assert s.commercial_pay == 0  # a claim the bureau's audit rejected is not the insurer's to pay
    assert s.psn_cash_pay == s.psn_part_amt == s.medfee_sumamt
    assert identity_violations(s) == []


def test_a_blocked_line_is_left_out_of_the_product_s_base_and_gets_no_share() -> None:
    blocked = LINES[0]
    s = settle_visit(
        POLICY, RETIRED, visit(LINES), {}, covers=(PRODUCT,), audit=_blocking(blocked.feedetl_sn)
    )  # type: ignore[arg-type]
    assert s.commercial_pay == apply_ratio(s.psn_part_amt - blocked.amount, PRODUCT.ratio)
    splits = allocate(s, LINES)
    assert splits[0].commercial_pay == 0 and splits[0].fulamt_ownpay_amt == blocked.amount
    assert sum(x.commercial_pay for x in splits) == s.commercial_pay
    assert identity_violations(s) == []
