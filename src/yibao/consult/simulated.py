"""The bridge to the what-if simulator: the impact of a candidate policy, from a stored simulation report
(the JSON ``yibao simulate --json`` writes) or from a real simulation run now against a region's claims."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.consult.core import ConsultError
from yibao.consult.impact import Impact, PolicyNames, impact_from_report
from yibao.policy.book import PolicyBook
from yibao.policy.loader import PolicyError


def policy_names(book: PolicyBook) -> PolicyNames:
    """Benefit, hospital-level and scheme names of a policy, as people know them."""
    region = book.loaded.region
    schemes = {s.code: (s.name, s.name_en) for s in region.schemes}
    visit_types = {v.code: (v.name, v.name_en) for v in region.visit_types}
    benefits: dict[str, tuple[str, str]] = {}
    for version in region.versions:
        for b in version.benefits:
            sz, se = schemes.get(b.scheme, (b.scheme, b.scheme))
            vz = "、".join(visit_types.get(v, (v, v))[0] for v in b.visit_types)
            ve = ", ".join(visit_types.get(v, (v, v))[1] for v in b.visit_types)
            benefits.setdefault(b.id, (f"{sz}{vz}", f"{se} {ve}"))
    levels = {lv.code: (lv.name, lv.name_en) for lv in region.hospital_levels}
    return PolicyNames(benefits, levels, schemes)


@dataclass(frozen=True)
class Candidate:
    """A shipped candidate policy for the baseline's region, named by what it changes."""

    key: str  # the file's name without .yaml
    path: Path
    name_zh: str
    name_en: str


def candidates_for(baseline: PolicyBook, folder: Path | None = None) -> list[Candidate]:
    """The candidate policies shipped with the simulator for the baseline's region, each named by what it
    changes (降低起付线、提高支付比例 …)."""
    from yibao.simulate.candidates import EXAMPLES_DIR
    from yibao.simulate.diff import as_rows, policy_diff
    from yibao.simulate.narrative import policy_phrase

    admdvs = baseline.loaded.region.region.admdvs
    out = []
    for path in sorted((folder or EXAMPLES_DIR).glob("*.yaml")):
        try:
            book = PolicyBook.from_file(path)
        except PolicyError:
            continue  # a broken example is not offered
        if book.loaded.region.region.admdvs != admdvs:
            continue
        zh, en = policy_phrase(as_rows(policy_diff(baseline, book)))
        out.append(Candidate(path.stem, path, zh or "与现行政策相同", en or "same as the current policy"))
    return out


def impact_from_file(path: Path, baseline: PolicyBook) -> Impact:
    """The impact told by a stored simulation report (JSON)."""
    try:
        report: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConsultError(
            "report", f"无法读取模拟报告 cannot read the simulation report {path}: {exc}"
        ) from exc
    if not isinstance(report, dict):
        raise ConsultError("report", "模拟报告须为 JSON 对象 the report must be a JSON object")
    return impact_from_report(report, policy_names(baseline))


def simulate_impact(baseline: PolicyBook, candidate: PolicyBook, data_dir: Path) -> Impact:
    """Run the simulation of ``candidate`` against ``baseline`` on the region's claims in ``data_dir``
    (a synth directory) and tell its impact."""
    from yibao.simulate.core import simulate
    from yibao.simulate.report import to_json

    return impact_from_report(to_json(simulate(baseline, candidate, data_dir)), policy_names(baseline))
