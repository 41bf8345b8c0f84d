"""Measured quality of the audit: generate a region with every scenario injected, audit it, score it.

Scoring is per visit (docs/AUDIT_EVALUATION.md has the full definition):

* a visit is *flagged* when at least one flag (rule or model, any severity) names it;
* *true positive*: a flagged visit whose ``scenario`` label is set; *false positive*: a flagged
  visit without a label; *false negative*: a labelled visit nobody flagged;
* recall of scenario s = flagged visits labelled s / visits labelled s;
* precision of scenario s = TP_s / (TP_s + FP_s), where FP_s charges each false-positive visit to the
  scenarios its detectors target (``evaluation.yaml``), split evenly among the detectors that flagged it
  and among each detector's targets; detectors without a declared target charge ``(unattributed)``;
* amount flagged = the amount at stake of the flagged visits (per visit the largest total any one
  detector puts on it, so two detectors on one visit do not count it twice), integer fen.

``overall`` uses every visit: precision = flagged labelled / flagged, recall = flagged labelled / labelled.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from yibao.audit.flags import conform, empty_flags
from yibao.audit.knowledge.limits import prescribing_limits
from yibao.errors import FieldError

EVAL_FILE = Path(__file__).with_name("evaluation.yaml")
UNATTRIBUTED = "(unattributed)"


@dataclass(frozen=True)
class Score:
    scenario: str
    labelled: int  # visits carrying the label
    flagged: int  # of those, flagged (true positives)
    false_pos: float  # false-positive visits charged to the scenario
    amount_flagged: int  # fen, at stake on the flagged labelled visits (overall: on all flagged visits)

    @property
    def recall(self) -> float | None:
        return self.flagged / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        denom = self.flagged + self.false_pos
        return self.flagged / denom if denom else None

    def row(self) -> dict[str, Any]:
        r, p = self.recall, self.precision
        return {
            "scenario": self.scenario,
            "precision": None if p is None else round(p, 4),
            "recall": None if r is None else round(r, 4),
            "amount_flagged": self.amount_flagged,
            "labelled": self.labelled,
            "true_positives": self.flagged,
            "false_positives": round(self.false_pos, 2),
        }


@cache
def attribution(path: str = str(EVAL_FILE)) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "targets" not in data:
        raise FieldError("evaluation.yaml", "缺少 targets 映射表 needs a 'targets' mapping")
    return data


def detector_targets(codes: list[str], rule_checks: dict[str, str] | None = None) -> pl.DataFrame:
    """(rule_code, target, weight) rows: each detector's share of a false positive per target scenario."""
    cfg = attribution()
    rows: list[tuple[str, str, float]] = []
    for code in codes:
        targets: list[str] = list(cfg["targets"].get(code, []))
        if not targets and rule_checks and code in rule_checks:
            targets = list(cfg.get("rule_checks", {}).get(rule_checks[code], []))
        targets = targets or [UNATTRIBUTED]
        rows += [(code, t, 1.0 / len(targets)) for t in targets]
    return pl.DataFrame(
        rows, schema={"rule_code": pl.String, "target": pl.String, "weight": pl.Float64}, orient="row"
    )


def score(
    visits: pl.DataFrame, flags: pl.DataFrame, scenarios: list[str], rule_checks: dict[str, str] | None = None
) -> list[Score]:
    """Per-scenario and overall scores of ``flags`` against the ``scenario`` labels of ``visits``."""
    labels = visits.select("visit_id", "scenario")
    per_det = flags.group_by("visit_id", "rule_code").agg(pl.col("amount_fen").sum())
    per_visit = (
        per_det.group_by("visit_id")
        .agg(pl.col("amount_fen").max(), pl.len().alias("n_det"))
        .join(labels, on="visit_id", how="left")
    )
    fp = per_det.join(
        per_visit.filter(pl.col("scenario").is_null()).select("visit_id", "n_det"), on="visit_id"
    )
    targets = detector_targets(sorted(set(fp["rule_code"].to_list())), rule_checks)
    fp_by = (
        fp.join(targets, on="rule_code")
        .with_columns((pl.col("weight") / pl.col("n_det")).alias("w"))
        .group_by("target")
        .agg(pl.col("w").sum())
    )
    fp_map = dict(fp_by.iter_rows())
    lab = labels.group_by("scenario").len()
    lab_map = {k: int(n) for k, n in lab.iter_rows() if k is not None}
    tp = (
        per_visit.filter(pl.col("scenario").is_not_null())
        .group_by("scenario")
        .agg(pl.len().alias("n"), pl.col("amount_fen").sum().alias("amt"))
    )
    tp_map = {k: (int(n), int(a)) for k, n, a in tp.iter_rows()}
    out = [
        Score(
            s,
            lab_map.get(s, 0),
            tp_map.get(s, (0, 0))[0],
            float(fp_map.get(s, 0.0)),
            tp_map.get(s, (0, 0))[1],
        )
        for s in scenarios
    ]
    if fp_map.get(UNATTRIBUTED):
        out.append(Score(UNATTRIBUTED, 0, 0, float(fp_map[UNATTRIBUTED]), 0))
    n_fp = per_visit.filter(pl.col("scenario").is_null()).height
    out.append(
        Score(
            "overall",
            sum(lab_map.values()),
            sum(n for n, _ in tp_map.values()),
            float(n_fp),
            int(per_visit["amount_fen"].sum() or 0),
        )
    )
    return out


def detector_scores(visits: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """Per detector (rule / model code): visits flagged, of which labelled (any scenario), its precision, and
    the scenarios of the labelled visits it found — the table that says where false positives come from —
    and ``normal_share``: the share of the region's normal (unlabelled) visits it flags."""
    labels = visits.select("visit_id", "scenario")
    normal = max(visits.filter(pl.col("scenario").is_null()).height, 1)
    per = (
        flags.group_by("rule_code", "source", "visit_id")
        .agg(pl.col("amount_fen").sum())
        .join(labels, on="visit_id", how="left")
    )
    return (
        per.group_by("rule_code", "source")
        .agg(
            pl.len().alias("visits"),
            pl.col("scenario").is_not_null().sum().alias("labelled"),
            pl.col("amount_fen").sum().alias("amount_fen"),
            pl.col("scenario").drop_nulls().value_counts(sort=True).alias("_found"),
        )
        .with_columns(
            (pl.col("labelled") / pl.col("visits")).round(4).alias("precision"),
            ((pl.col("visits") - pl.col("labelled")) / normal).round(5).alias("normal_share"),
            pl.col("_found")
            .list.eval(
                pl.element().struct.field("scenario")
                + "="
                + pl.element().struct.field("count").cast(pl.String)
            )
            .list.join(", ")
            .alias("found"),
        )
        .drop("_found")
        .sort("source", "rule_code")
    )


# ----------------------------------------------------------------------------- the review queue
TOP_SHARES = (0.005, 0.01, 0.02, 0.05)


def queue_metrics(visits: pl.DataFrame, lines: pl.DataFrame, queue: pl.DataFrame) -> list[dict[str, Any]]:
    """Per scenario and ``overall``: the own flag set's recall (and, overall, precision and the share of
    visits flagged), recall (overall also precision) among the top 0.5 / 1 / 2 / 5 % of all visits in the
    ranked queue, and amount-weighted recall of the own flag set; overall also average precision of the
    whole ranking (a visit never flagged is never retrieved), and the share of normal (unlabelled) visits
    in the own flag set (``normal_flagged_share``) and in the queue at all (``normal_queued_share``)."""
    n = visits.height
    amt = lines.group_by("visit_id").agg(pl.col("amount").sum().alias("_amt"))
    lab = (
        visits.select("visit_id", "scenario")
        .join(amt, on="visit_id", how="left")
        .join(queue.select("visit_id", "rank", "own"), on="visit_id", how="left")
        .with_columns(pl.col("_amt").fill_null(0), pl.col("own").fill_null(False))
    )
    tops = {s: max(1, round(s * n)) for s in TOP_SHARES}
    rows: list[dict[str, Any]] = []
    groups = sorted(x for x in lab["scenario"].unique().to_list() if x is not None)
    for name in [*groups, "overall"]:
        g = lab.filter(pl.col("scenario").is_not_null() if name == "overall" else pl.col("scenario") == name)
        total, total_amt = g.height, int(g["_amt"].sum() or 0)
        row: dict[str, Any] = {"scenario": name, "labelled": total}
        own = g.filter(pl.col("own"))
        row["own_recall"] = round(own.height / total, 4) if total else None
        row["amount_recall"] = round(int(own["_amt"].sum() or 0) / total_amt, 4) if total_amt else None
        for s, k in tops.items():
            hit = g.filter(pl.col("rank") <= k).height
            row[f"recall@{s:.1%}"] = round(hit / total, 4) if total else None
            if name == "overall":
                row[f"precision@{s:.1%}"] = round(hit / min(k, queue.height) if queue.height else 0.0, 4)
        if name == "overall":
            n_own = int(queue["own"].sum())
            row["own_precision"] = round(own.height / n_own, 4) if n_own else None
            row["share_flagged"] = round(n_own / n, 4) if n else None
            row["average_precision"] = round(average_precision(g["rank"].drop_nulls(), total), 4)
            normal = lab.filter(pl.col("scenario").is_null())
            n_normal = max(normal.height, 1)
            row["normal_flagged_share"] = round(int(normal["own"].sum()) / n_normal, 5)
            row["normal_queued_share"] = round(normal["rank"].is_not_null().sum() / n_normal, 5)
        rows.append(row)
    return rows


def average_precision(ranks: pl.Series, positives: int) -> float:
    """Mean over the positives of the precision at each positive's rank (never-ranked positives add 0)."""
    if positives == 0:
        return 0.0
    r = ranks.sort().to_list()
    return float(sum((i + 1) / rank for i, rank in enumerate(r)) / positives)


# ----------------------------------------------------------------------------- the whole audit
RulesFn = Callable[..., pl.DataFrame]


def find_rules(
    physicians: pl.DataFrame | None = None, knowledge: Any | None = None
) -> tuple[RulesFn | None, dict[str, str]]:
    """The rule library's batch run (``yibao.audit.rules.batch.run_rules`` over the shipped library and
    knowledge tables, plus the region's physician registry when given) as ``fn(persons, visits, lines,
    settled)``, and each rule's kind; ``(None, {})`` while the rule library is not installed."""
    try:
        batch = importlib.import_module("yibao.audit.rules.batch")
        model = importlib.import_module("yibao.audit.rules.model")
        know = importlib.import_module("yibao.audit.knowledge")
    except ImportError:
        return None, {}
    library = model.load_library()
    if knowledge is None:
        knowledge = know.load_knowledge()
    if physicians is not None:
        knowledge = know.with_physicians(knowledge, physicians)
    kinds = {str(r.code): str(r.kind) for r in library.rules}

    def run(
        persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame, settled: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        out = batch.run_rules(library, knowledge, persons, visits, lines, settled=settled, moment="after")
        if not isinstance(out, pl.DataFrame):
            raise FieldError(
                "run_rules", f"返回的不是疑点表 returned {type(out).__name__}, expected a flag frame"
            )
        return conform(out)

    return run, kinds


@dataclass
class Evaluation:
    seed: int
    persons: int
    scores: list[Score]
    rows: dict[str, int]
    timings: dict[str, float]
    rules_used: bool
    flags: pl.DataFrame
    detectors: pl.DataFrame
    queue: pl.DataFrame
    demoted: pl.DataFrame
    metrics: list[dict[str, Any]]
    calibration: pl.DataFrame  # this region's (rule_code, flagged, confirmed): summed over tuning seeds
    points: pl.DataFrame  # this region's (rule_code, strength, confirmed): isotonic curves over tuning seeds


def run_audit(
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    lines: pl.DataFrame,
    institutions: pl.DataFrame | None,
    settled: pl.DataFrame | None,
    use_rules: bool = True,
    *,
    physicians: pl.DataFrame | None = None,
    knowledge: Any | None = None,
) -> tuple[pl.DataFrame, dict[str, str], bool]:
    """Rules (when available) plus models → one flag frame; also each rule's check kind.  ``physicians``:
    the region's physician registry (医保医师库), which the title rule needs; ``knowledge``: the
    bureau's knowledge tables (default: the EXAMPLE tables)."""
    from yibao.audit.models import course_regimens, course_sessions, run_models

    sessions = course_sessions(knowledge) if knowledge is not None else None
    regimens = course_regimens(knowledge) if knowledge is not None else None
    session_dx = course_sessions(knowledge, "session_diagnosis") if knowledge is not None else None
    frames = [
        run_models(
            persons,
            visits,
            lines,
            settled,
            institutions=institutions,
            session_prefixes=sessions,
            regimens=regimens,
            session_diagnoses=session_dx,
        )
    ]
    fn, checks = find_rules(physicians, knowledge) if use_rules else (None, {})
    if fn is not None:
        frames.append(fn(persons, visits, lines, settled))
    return pl.concat([empty_flags(), *frames]), checks, fn is not None


def read_physicians(data_dir: str | Path) -> pl.DataFrame | None:
    """A synthetic region's physician registry (``physicians.parquet``), or None when it has none."""
    path = Path(data_dir) / "physicians.parquet"
    return pl.read_parquet(path) if path.exists() else None


def load_conventions(name: str) -> Any:
    """The generator's billing conventions from a preset of ``evaluation.yaml`` (``conventions:``) or a
    YAML file of :class:`yibao.synth.generator.Conventions` fields."""
    from dataclasses import fields

    from yibao.synth.generator import Conventions

    presets = attribution().get("conventions", {})
    if name in presets:
        data = presets[name]
    elif Path(name).exists():
        data = yaml.safe_load(Path(name).read_text(encoding="utf-8"))
    else:
        raise FieldError(
            "conventions", f"未知的预设或文件 unknown preset or file: {name!r} (presets: {sorted(presets)})"
        )
    known = {f.name for f in fields(Conventions)}
    if not isinstance(data, dict) or set(data) - known - {"rationale"}:
        raise FieldError("conventions", f"字段应为 fields must be among {sorted(known)}")
    return Conventions(**{k: v for k, v in data.items() if k in known})


def region_knowledge(data_dir: str | Path, knowledge_dir: str | Path | None = None) -> Any:
    """The knowledge tables of ``knowledge_dir`` (default: the EXAMPLE tables) with the region's own
    registers read from ``data_dir`` (physicians, 门慢门特 registrations, institution types)."""
    from yibao.audit.knowledge import load_knowledge, with_region

    return with_region(load_knowledge(knowledge_dir), data_dir)


def settle(
    region: str | Path, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame
) -> pl.DataFrame:
    """Per-visit payments from the batch settlement (visit_id, fund_pay_sumamt, acct_pay, medfee_sumamt)."""
    from yibao.batch.settle import settle_batch
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import load_region

    res = settle_batch(PolicyBook(load_region(region)), persons, visits, lines)
    return res.visits.select("visit_id", "fund_pay_sumamt", "acct_pay", "medfee_sumamt")


def evaluate(
    seed: int,
    persons: int = 20_000,
    region: str | Path | None = None,
    *,
    use_rules: bool = True,
    with_settlement: bool = True,
    work_dir: str | Path | None = None,
    knowledge_dir: str | Path | None = None,
    conventions: Any | None = None,
) -> Evaluation:
    """Generate a region (seed, persons) with every scenario injected, run the whole audit, score it."""
    from yibao.audit.scenarios import SCENARIOS
    from yibao.audit.scenarios.apply import inject_dir
    from yibao.policy.loader import example_path
    from yibao.synth.generator import generate

    if persons < 1000:
        raise FieldError(
            "persons",
            "至少需要 1000 人才能形成同类比较组 at least 1000 persons are needed for peer groups to exist",
        )
    region_path = Path(region) if region is not None else example_path("xian")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="yibao-audit-eval-") as tmp:
        d = Path(work_dir) if work_dir is not None else Path(tmp)
        t0 = time.perf_counter()
        generate(region_path, d, persons, seed=seed, limits=prescribing_limits(), conventions=conventions)
        rows = inject_dir(d, SCENARIOS, seed)
        timings["generate_s"] = time.perf_counter() - t0
        p, v, ln = (pl.read_parquet(d / f"{f}.parquet") for f in ("persons", "visits", "lines"))
        inst = pl.read_parquet(d / "institutions.parquet")
        doctors = read_physicians(d)
        knowledge = region_knowledge(d, knowledge_dir)
    t0 = time.perf_counter()
    settled = settle(region_path, p, v, ln) if with_settlement else None
    timings["settle_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    flags, checks, used = run_audit(
        p, v, ln, inst, settled, use_rules, physicians=doctors, knowledge=knowledge
    )
    timings["audit_s"] = time.perf_counter() - t0
    from yibao.audit.queue import fit_calibration, score_flags, strength_points, visit_queue

    scored, report = score_flags(flags, v.height, knowledge.flag_calibration, curves=knowledge.flag_isotonic)
    queue = visit_queue(scored)
    own_flags = scored.filter(pl.col("visit_id").is_in(queue.filter(pl.col("own"))["visit_id"].implode()))
    own_flags = own_flags.filter(~pl.col("demoted") & (pl.col("severity") != "warn")).select(flags.columns)
    scores = score(v, own_flags, list(SCENARIOS), checks)
    return Evaluation(
        seed,
        persons,
        scores,
        rows,
        {k: round(x, 3) for k, x in timings.items()},
        used,
        flags,
        detector_scores(v, flags),
        queue,
        report.filter(pl.col("demoted")),
        queue_metrics(v, ln, queue),
        fit_calibration(v, flags),
        strength_points(v, flags),
    )
