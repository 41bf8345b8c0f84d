"""End-to-end what-ifs on a small generated data set: directions, identities, Parquet input, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import typer
import yaml
from typer.testing import CliRunner

from yibao.cli.simulate import simulate_cmd
from yibao.policy.book import PolicyBook
from yibao.simulate import simulate, simulate_frames, to_json
from yibao.simulate.candidates import EXAMPLES_DIR, resolve_policy
from yibao.simulate.diff import policy_diff
from yibao.simulate.sample import make_sample, write_sample

FIXTURE = Path(__file__).parent.parent / "fixtures" / "region.yaml"
BASE = PolicyBook.from_file(FIXTURE)


def _candidate(tmp_path: Path, edit: dict[str, dict[str, str]]) -> PolicyBook:
    """A copy of the fixture with benefit deductibles replaced ({benefit id: {level: amount}})."""
    raw = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    for ben in raw["versions"][0]["benefits"]:
        for row in ben["deductible"].get("amounts", []):
            if ben["id"] in edit and row.get("level") in edit[ben["id"]]:
                row["amount"] = edit[ben["id"]][row["level"]]
    shutil.copy(FIXTURE.parent / "catalogue.csv", tmp_path / "catalogue.csv")
    out = tmp_path / "candidate.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return PolicyBook.from_file(out)


@pytest.fixture(scope="module")
def frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return make_sample(BASE, n_persons=1_500, seed=11)


def _row(rows: list[dict], key: str) -> dict:
    return next(r for r in rows if r["key"] == key)


def test_lowering_a_deductible_raises_fund_spending_and_lowers_oop(tmp_path: Path, frames) -> None:
    persons, visits, lines = frames
    cand = _candidate(
        tmp_path,
        {"res-ip": {"1": "100", "2": "300", "3": "600"}, "emp-ip": {"1": "100", "2": "300", "3": "800"}},
    )
    r = simulate_frames(BASE, cand, persons, visits, lines)
    pool, total = _row(r.funds, "hifp_pay"), _row(r.funds, "fund_pay_sumamt")
    oop, ded = _row(r.oop, "total"), _row(r.oop, "deductible")
    assert pool["change_fen"] > 0 and total["change_fen"] > 0
    assert oop["change_fen"] < 0 and ded["change_fen"] < 0
    # the bill does not change, so every fen the funds add comes off the patients (hosp_part_amt is 0)
    assert total["change_fen"] == -oop["change_fen"]
    assert _row(r.oop, "medfee")["change_fen"] == 0
    # out-of-scope spending is untouched by a deductible
    assert _row(r.oop, "out_of_scope")["change_fen"] == 0
    assert r.ratios["overall"][0]["candidate_ratio"] > r.ratios["overall"][0]["baseline_ratio"]
    assert r.winners["better_off"] > 0
    assert r.che["candidate"]["che_households"] <= r.che["baseline"]["che_households"]
    for mp in r.months_payable:
        assert mp["candidate_expenditure_fen"] >= mp["baseline_expenditure_fen"]
        assert mp["candidate_months"] <= mp["baseline_months"]
    # the diff names exactly the changed deductibles
    paths = {d["path"] for d in r.policy_diff}
    assert "versions[T2025].benefits[res-ip].deductible.amounts[level=1].amount" in paths
    assert all(".deductible.amounts" in p for p in paths) and len(paths) == 6
    assert r.narrative["zh"].startswith("降低起付线使统筹基金支出增加")
    assert r.narrative["en"].startswith("Lowering the deductible raises pooled-fund spending")


def test_the_same_policy_twice_changes_nothing(frames) -> None:
    persons, visits, lines = frames
    r = simulate_frames(BASE, BASE, persons, visits, lines)
    assert all(row["change_fen"] == 0 for row in r.funds + r.oop)
    assert r.policy_diff == []
    assert r.winners["changed"] == 0
    assert r.equity["oop_ci_baseline"] == r.equity["oop_ci_candidate"]
    assert r.meta["settled_visits"] == visits.height


def test_fund_totals_reconcile_with_the_2207_identities(frames) -> None:
    persons, visits, lines = frames
    r = simulate_frames(BASE, BASE, persons, visits, lines)
    f = {x["key"]: x["baseline_fen"] for x in r.funds}
    o = {x["key"]: x["baseline_fen"] for x in r.oop}
    layers = sum(
        f[k] for k in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "cvlserv_pay", "hifes_pay", "oth_pay")
    )
    assert layers == f["fund_pay_sumamt"]
    assert o["medfee"] == f["fund_pay_sumamt"] + o["total"]
    assert o["total"] == o["cash"] + o["account"] == o["in_scope"] + o["out_of_scope"]
    assert sum(q["baseline_fen"] for q in r.oop_by_quintile) == o["total"]
    for dim in ("insutype", "hosp_lv", "med_type", "age_band", "quintile"):
        assert sum(x["medfee_fen"] for x in r.ratios[dim]) == o["medfee"]


def test_simulate_reads_the_synth_directory_or_its_visits_file(tmp_path: Path) -> None:
    data = write_sample(BASE, tmp_path / "synth", n_persons=300, seed=3)
    steps: list[str] = []
    a = simulate(BASE, BASE, data, progress=steps.append)
    b = simulate(BASE, BASE, data / "visits.parquet")
    assert steps == ["read", "baseline", "candidate", "metrics"]
    assert to_json(a)["funds"] == to_json(b)["funds"]
    with pytest.raises(FileNotFoundError, match=r"persons\.parquet"):
        simulate(BASE, BASE, tmp_path)


def test_shipped_candidates_differ_from_xian_only_where_they_say() -> None:
    base = PolicyBook.from_file(resolve_policy("xian"))
    lower = PolicyBook.from_file(resolve_policy("xian-lower-deductible"))
    changes = policy_diff(base, lower)
    assert {c.path.split(".deductible")[0] for c in changes} == {
        "versions[2025].benefits[res-ip]",
        "versions[2026].benefits[res-ip]",
    }
    assert all(c.direction == -1 and c.kind == "deductible" for c in changes)
    reform = PolicyBook.from_file(EXAMPLES_DIR / "xian-outpatient-reform.yaml")
    kinds = {(c.kind, c.direction) for c in policy_diff(base, reform)}
    assert kinds == {("deductible", -1), ("ratio", 1), ("cap", 1)}


def test_cli_writes_html_and_json(tmp_path: Path) -> None:
    data = write_sample(BASE, tmp_path / "synth", n_persons=200, seed=5)
    cand = _candidate(tmp_path, {"res-ip": {"1": "100", "2": "300", "3": "600"}})
    app = typer.Typer()
    app.command("simulate")(simulate_cmd)
    app.command("noop")(lambda: None)  # a group, so the command is addressed by name as under `yibao`
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    res = CliRunner().invoke(
        app,
        [
            "simulate",
            "--baseline",
            str(FIXTURE),
            "--candidate",
            cand.loaded.file,
            "--visits",
            str(data / "visits.parquet"),
            "--out",
            str(out),
            "--json",
            str(js),
        ],
    )
    assert res.exit_code == 0, res.output
    assert out.exists() and "降低起付线" in res.output
    body = json.loads(js.read_text(encoding="utf-8"))
    assert body["format"] == "yibao.simulation/1"
    bad = CliRunner().invoke(
        app, ["simulate", "--baseline", "no-such-region", "--candidate", "xian", "--visits", str(data)]
    )
    assert bad.exit_code == 2


def test_the_simulation_sees_the_regions_enrolment(tmp_path: Path) -> None:
    """With the benefit check, visits of people not covered are not settled and the waiting periods and
    arrears of the generated enrolment settle with no fund paying: the baseline's fund spending is lower."""
    from yibao.policy.loader import example_path
    from yibao.synth.generator import generate

    generate(example_path("xian"), tmp_path, persons=1_500, year=2025, seed=3)
    book = PolicyBook.from_file(example_path("xian"))
    plain = simulate(book, book, tmp_path)
    checked = simulate(book, book, tmp_path, benefit_check=True)
    assert checked.meta["settled_visits"] < plain.meta["settled_visits"]
    assert checked.funds[0]["baseline_fen"] < plain.funds[0]["baseline_fen"]
    assert checked.funds[0]["change_fen"] == 0
