"""``yibao consult`` as a user runs it, and the demo's published consultation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from yibao.cli import app
from yibao.consult import core
from yibao.consult.store import ConsultStore
from yibao.demo.consult import OPINIONS, THEMES, publish_demo_consultation
from yibao.demo.seed import Seeded, seed_demo_db
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.simulate import simulate_frames, to_json
from yibao.simulate.candidates import resolve_policy
from yibao.simulate.sample import make_sample

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("consult-cli") / "demo.db", persons=80)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = PolicyBook.from_file(example_path("xian"))
    cand = PolicyBook.from_file(resolve_policy(Path("xian-lower-deductible")))
    out = tmp_path_factory.mktemp("report") / "simulation.json"
    out.write_text(
        json.dumps(to_json(simulate_frames(base, cand, *make_sample(base, n_persons=600, seed=5)))),
        encoding="utf-8",
    )
    return out


def test_the_impact_command_tells_a_simulation_in_plain_words(seeded: Seeded, report: Path) -> None:
    code, out = run("consult", "impact", "-c", "xian-lower-deductible", "-v", str(seeded.data_dir))
    assert code == 0, out
    assert "医保基金一年多支付约" in out and "The insurance funds would pay about" in out
    code, out = run("consult", "impact", "--report", str(report))
    assert code == 0 and "我们用 600 名参保人" in out
    code, out = run("consult", "impact", "-c", "xian-lower-deductible")
    assert code == 2 and "--visits" in out


def test_a_draft_is_saved_and_published_from_the_command_line(
    seeded: Seeded, report: Path, tmp_path: Path
) -> None:
    body = tmp_path / "draft.txt"
    body.write_text("第一条 起付线下调。", encoding="utf-8")
    code, out = run(
        "consult", "draft", "--title", "命令行起草", "--summary", "摘要", "--body", str(body),
        "--report", str(report), "--db", seeded.url,
    )  # fmt: skip
    assert code == 0, out
    cid = out.strip().splitlines()[-1]
    code, out = run("consult", "publish", cid, "--last-day", "2000-01-01", "--db", seeded.url)
    assert code == 2 and "last day must be after today" in out.replace("\n", " ")
    code, out = run("consult", "publish", cid, "--last-day", "2099-12-31", "--db", seeded.url)
    assert code == 0 and "北京时间" in out
    code, out = run("consult", "list", "--db", seeded.url)
    assert code == 0 and "征求意见中" in out
    code, out = run("consult", "show", cid, "--db", seeded.url)
    assert code == 0 and "医保基金一年多支付约" in out and "采纳率 adoption rate: —" in out


def test_the_demo_publishes_one_consultation_with_opinions_a_hearing_and_themes(seeded: Seeded) -> None:
    done = publish_demo_consultation(seeded.url, seeded.data_dir, example_path("xian"))
    assert done is not None
    engine = sa.create_engine(seeded.url)
    try:
        store = ConsultStore(engine, core.load_params())
        c = store.get(done.consult_id)
        assert c.status == "open" and c.period_days == 30 and c.impact is not None
        assert c.impact.fund_change_fen > 0 and c.impact.better_off > 0
        opinions = store.opinions(done.consult_id)
        assert len(opinions) == len(OPINIONS) and sum(o.hidden_reason is not None for o in opinions) == 1
        assert [t.title for t in store.themes(done.consult_id)] == list(THEMES)
        assert all(o.theme_id is not None for o in opinions if o.hidden_reason is None)
        hearing = store.hearings(done.consult_id)[0]
        assert len(hearing.participants) == 5 and len(hearing.observers) == 3
    finally:
        engine.dispose()
    assert publish_demo_consultation(seeded.url, seeded.data_dir, example_path("weinan")) is None
