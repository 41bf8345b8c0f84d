"""The simulator and the after-the-fact audit on Spark (local mode) produce what they produce on Polars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from yibao.audit.evaluate import region_knowledge, run_audit, settle
from yibao.audit.scenarios import SCENARIOS
from yibao.audit.scenarios.apply import inject_dir
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.simulate.candidates import resolve_policy
from yibao.simulate.core import simulate
from yibao.simulate.report import to_json
from yibao.spark.audit import PROVIDER_KINDS, audit_spark, read_flags
from yibao.spark.simulate import simulate_spark
from yibao.synth.generator import generate

VOLATILE = ("generated", "seconds", "data", "engine")


def _stable(report: Any) -> dict[str, Any]:
    body = to_json(report)
    body["meta"] = {k: v for k, v in body["meta"].items() if k not in VOLATILE}
    return body


def test_simulate_on_spark_writes_partitioned_settlements_and_the_same_report(
    spark: Any, tmp_path: Path
) -> None:
    data = tmp_path / "year"
    generate(example_path("xian"), data, persons=1_500, seed=31)
    books = [PolicyBook.from_file(resolve_policy(Path(p))) for p in ("xian", "xian-lower-deductible")]
    polars_report = simulate(books[0], books[1], data)
    out = tmp_path / "out"
    spark_report = simulate_spark(spark, books[0], books[1], str(data), out=str(out), partitions=3)
    assert _stable(spark_report) == _stable(polars_report)
    assert spark_report.meta["engine"] == "spark"
    written = pl.read_parquet(out / "settled" / "**" / "*.parquet", hive_partitioning=True)
    assert sorted(written["policy"].unique().to_list()) == ["baseline", "candidate"]
    assert written.height == 2 * polars_report.meta["settled_visits"]
    fund_rows = {r["key"]: r for r in polars_report.funds}
    base = written.filter(pl.col("policy") == "baseline")
    assert int(base["fund_pay_sumamt"].sum()) == fund_rows["fund_pay_sumamt"]["baseline_fen"]
    assert fund_rows["fund_pay_sumamt"]["baseline_fen"] != fund_rows["fund_pay_sumamt"]["candidate_fen"]


def test_simulate_on_spark_with_the_benefit_check_equals_polars_with_it(spark: Any, tmp_path: Path) -> None:
    data = tmp_path / "year"
    generate(example_path("xian"), data, persons=1_500, seed=31)  # with its enrolment files
    books = [PolicyBook.from_file(resolve_policy(Path(p))) for p in ("xian", "xian-lower-deductible")]
    checked = simulate(books[0], books[1], data, benefit_check=True)
    unchecked = simulate(books[0], books[1], data)
    # the check changes the year: refused visits are settled by neither policy
    assert checked.meta["settled_visits"] < unchecked.meta["settled_visits"]
    spark_checked = simulate_spark(spark, books[0], books[1], str(data), partitions=3, benefit_check=True)
    assert _stable(spark_checked) == _stable(checked)
    assert _stable(spark_checked) != _stable(unchecked)


def test_the_audit_on_spark_flags_what_the_polars_audit_flags(spark: Any, tmp_path: Path) -> None:
    data = tmp_path / "year"
    generate(example_path("xian"), data, persons=3_000, seed=5)
    inject_dir(data, SCENARIOS, 5)
    p, v, ln = (pl.read_parquet(data / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    inst = pl.read_parquet(data / "institutions.parquet")
    settled = settle(example_path("xian"), p, v, ln)
    # the region's registers (physicians, 门慢门特) as `yibao audit run` reads them
    expected, _, used = run_audit(p, v, ln, inst, settled, True, knowledge=region_knowledge(data))
    out = tmp_path / "flags"
    got, used_spark = audit_spark(spark, str(data), settle=True, partitions=3, out=str(out))
    assert used and used_spark
    assert got.sort("flag_id").equals(expected.sort("flag_id"))
    assert read_flags(spark, str(out)).sort("flag_id").equals(expected.sort("flag_id"))
    assert {"rule", "model"} <= set(got["source"].unique().to_list())
    assert (out / "source=rule").is_dir() and (out / "source=model").is_dir()
    assert got.filter(pl.col("source") == "rule")["rule_code"].n_unique() >= 5


def test_only_the_imaging_rate_rule_is_partitioned_by_provider() -> None:
    from yibao.audit.rules.model import load_library

    kinds = {r.kind for r in load_library().active("after")}
    assert PROVIDER_KINDS <= kinds  # the provider-partitioned path has a rule to run
    assert "imaging_positive_rate" in PROVIDER_KINDS and len(PROVIDER_KINDS) == 1
