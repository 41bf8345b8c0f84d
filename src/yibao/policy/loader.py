"""Read and validate a region file.  Every error names the file, the path inside it and the reason."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from yibao.errors import validation_reason
from yibao.policy.catalogue import CatalogueError, CatalogueItem, parse_catalogue
from yibao.policy.model import WILDCARD, LayerTerms, Region, Version

EXAMPLES_DIR = Path(__file__).parent / "regions"


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


class PolicyError(ValueError):
    """A region file that cannot be used; ``problems`` lists every (path, reason) found."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {p.path or '<root>'}: {p.reason}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass
class LoadedRegion:
    """A validated region with its catalogues, ready to pick a version and compile it."""

    file: str
    region: Region
    catalogues: dict[str, dict[str, CatalogueItem]] = field(default_factory=dict)

    def version_for(self, day: dt.date) -> Version | None:
        """The version in force on ``day`` (inclusive bounds), or None."""
        for v in self.region.versions:
            if v.effective_from <= day <= v.effective_to:
                return v
        return None

    def catalogue_for(self, version: Version) -> dict[str, CatalogueItem]:
        return self.catalogues[version.catalogue or self.region.catalogue]


def example_path(name: str) -> Path:
    """Path of a shipped example region (``xian``, ``weinan``)."""
    p = EXAMPLES_DIR / f"{name}.yaml"
    if not p.exists():
        known = sorted(x.stem for x in EXAMPLES_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"示例地区不存在 no example region {name!r}; known: {', '.join(known)}")
    return p


def load_region(path: str | Path) -> LoadedRegion:
    """Load a region file (YAML) and the catalogue CSVs it names, validating everything."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            str(p), [Problem("", f"无法读取文件 cannot read file: {exc.strerror or exc}")]
        ) from exc
    return load_region_text(text, file=str(p), base_dir=p.parent)


def load_region_text(text: str, *, file: str = "<text>", base_dir: Path | None = None) -> LoadedRegion:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(
            file, [Problem(where, f"不是有效的 YAML not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from exc
    if not isinstance(raw, dict):
        raise PolicyError(
            file, [Problem("", "文件顶层须为映射表 the file must hold a mapping (key: value) at the top")]
        )
    try:
        region = Region.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(file, [_problem(e) for e in exc.errors()]) from exc
    problems = check_references(region)
    catalogues: dict[str, dict[str, CatalogueItem]] = {}
    names = {region.catalogue} | {v.catalogue for v in region.versions if v.catalogue}
    for name in sorted(names):
        cpath = (base_dir or Path(".")) / name
        try:
            catalogues[name] = parse_catalogue(cpath.read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(
                Problem(
                    "catalogue",
                    f"无法读取目录文件 cannot read catalogue {str(cpath)!r}: {exc.strerror or exc}",
                )
            )
        except CatalogueError as exc:
            problems.append(Problem("catalogue", f"{cpath.name}: {exc}"))
    if problems:
        raise PolicyError(file, problems)
    return LoadedRegion(file=file, region=region, catalogues=catalogues)


def _problem(err: Any) -> Problem:
    path = ""
    for part in err.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (not part of the yibao.policy/1 format)"
    return Problem(path, validation_reason({**err, "msg": msg}))


def check_references(region: Region) -> list[Problem]:
    """Cross-field checks pydantic cannot express: codes exist, sources exist, versions don't overlap."""
    out: list[Problem] = []
    schemes = {s.code for s in region.schemes}
    levels = {x.code for x in region.hospital_levels}
    vtypes = {x.code for x in region.visit_types}
    idents = {x.code for x in region.identities}
    ptypes = {x.code: x for x in region.person_types}
    sources = set(region.sources)

    def need(path: str, value: str | None, known: set[str], what: str, wildcard: bool = False) -> None:
        if value is None or (wildcard and value == WILDCARD):
            return
        if value not in known:
            out.append(
                Problem(
                    path,
                    f"引用的代码未声明 unknown {what} {value!r}; declared: {', '.join(sorted(known)) or 'none'}",
                )
            )

    for i, pt in enumerate(region.person_types):
        need(f"person_types[{i}].scheme", pt.scheme, schemes, "scheme")
    need("settlement_date.source", region.settlement_date.source, sources, "source")

    def terms_sources(path: str, t: LayerTerms) -> None:
        need(f"{path}.deductible_source", t.deductible_source, sources, "source")
        need(f"{path}.cap_source", t.cap_source, sources, "source")
        for k, seg in enumerate(t.segments):
            need(f"{path}.segments[{k}].source", seg.source, sources, "source")

    versions = sorted(enumerate(region.versions), key=lambda iv: iv[1].effective_from)
    for (_, earlier), (j, later) in itertools.pairwise(versions):
        if later.effective_from <= earlier.effective_to:
            out.append(
                Problem(
                    f"versions[{j}].effective_from",
                    f"版本有效期重叠 overlaps version {earlier.id!r} (ends {earlier.effective_to})",
                )
            )
    for vi, v in enumerate(region.versions):
        vp = f"versions[{vi}]"
        if v.effective_to < v.effective_from:
            out.append(Problem(f"{vp}.effective_to", "结束日期早于开始日期 is before effective_from"))
        seen: dict[tuple[str, str], str] = {}
        for bi, b in enumerate(v.benefits):
            bp = f"{vp}.benefits[{bi}]"
            need(f"{bp}.scheme", b.scheme, schemes, "scheme")
            need(f"{bp}.source", b.source, sources, "source")
            need(f"{bp}.cap.source", b.cap.source, sources, "source")
            if b.deductible.counter is not None and b.deductible.counter == b.cap.counter:
                out.append(
                    Problem(
                        f"{bp}.cap.counter",
                        f"封顶计数器与起付线计数器相同 {b.cap.counter!r} is also the deductible's counter; "
                        "a yearly accumulator must count one thing",
                    )
                )
            for k, o in enumerate(b.cap.by_person_type):
                need(f"{bp}.cap.by_person_type[{k}].person_type", o.person_type, set(ptypes), "person type")
                need(f"{bp}.cap.by_person_type[{k}].source", o.source, sources, "source")
            need(f"{bp}.deductible.source", b.deductible.source, sources, "source")
            if b.refuse is not None:
                need(f"{bp}.refuse.source", b.refuse.source, sources, "source")
            for k, vt in enumerate(b.visit_types):
                need(f"{bp}.visit_types[{k}]", vt, vtypes, "visit type")
                if (b.scheme, vt) in seen:
                    out.append(
                        Problem(
                            f"{bp}.visit_types[{k}]",
                            f"该险种和就诊类型已由其他待遇覆盖 scheme {b.scheme} / visit type {vt} is already "
                            f"covered by benefit {seen[(b.scheme, vt)]!r}",
                        )
                    )
                seen[(b.scheme, vt)] = b.id
            for k, row in enumerate(b.deductible.amounts):
                need(f"{bp}.deductible.amounts[{k}].level", row.level, levels, "hospital level", True)
                need(
                    f"{bp}.deductible.amounts[{k}].person_type",
                    row.person_type,
                    set(ptypes),
                    "person type",
                    True,
                )
            for k, r in enumerate(b.ratios):
                need(f"{bp}.ratios[{k}].level", r.level, levels, "hospital level", True)
                need(f"{bp}.ratios[{k}].person_type", r.person_type, set(ptypes), "person type", True)
                need(f"{bp}.ratios[{k}].source", r.source, sources, "source")
            scheme_pts = [c for c, p in ptypes.items() if p.scheme == b.scheme]
            for lv in sorted(levels):
                for pt_code in scheme_pts:
                    if not any(_match(r.level, lv) and _match(r.person_type, pt_code) for r in b.ratios):
                        out.append(
                            Problem(
                                f"{bp}.ratios",
                                f"缺少该医院等级和人员类别的支付比例 no ratio for hospital level {lv!r} and person type "
                                f"{pt_code!r} (add a row or a '*' row)",
                            )
                        )
                    if b.deductible.basis != "none" and not any(
                        _match(r.level, lv) and _match(r.person_type, pt_code) for r in b.deductible.amounts
                    ):
                        out.append(
                            Problem(
                                f"{bp}.deductible.amounts",
                                f"缺少该医院等级和人员类别的起付线 no deductible for level {lv!r} and person type {pt_code!r}",
                            )
                        )
        ded_counters = {b.deductible.counter for b in v.benefits if b.deductible.counter}
        cap_counters = {b.cap.counter for b in v.benefits}
        for li, layer in enumerate(v.layers):
            lp = f"{vp}.layers[{li}]"
            if layer.counter in ded_counters | cap_counters:
                out.append(
                    Problem(
                        f"{lp}.counter",
                        f"补充层的计数器已被基本待遇使用 {layer.counter!r} is already a benefit's deductible or cap "
                        "counter; give the layer its own",
                    )
                )
            need(f"{lp}.source", layer.source, sources, "source")
            terms_sources(lp, layer)
            for k, tilt in enumerate(layer.tilts):
                need(f"{lp}.tilts[{k}].source", tilt.source, sources, "source")
                for m, ident in enumerate(tilt.identities):
                    need(f"{lp}.tilts[{k}].identities[{m}]", ident, idents, "identity")
            for k, s in enumerate(layer.schemes):
                need(f"{lp}.schemes[{k}]", s, schemes, "scheme")
            for k, vt in enumerate(layer.visit_types):
                need(f"{lp}.visit_types[{k}]", vt, vtypes, "visit type")
            for k, ident in enumerate(layer.eligible_identities or []):
                need(f"{lp}.eligible_identities[{k}]", ident, idents, "identity")
            for k, var in enumerate(layer.variants):
                need(f"{lp}.variants[{k}].source", var.source, sources, "source")
                terms_sources(f"{lp}.variants[{k}]", var)
                for m, ident in enumerate(var.identities):
                    need(f"{lp}.variants[{k}].identities[{m}]", ident, idents, "identity")
        for ai, acc in enumerate(v.accounts):
            ap = f"{vp}.accounts[{ai}]"
            need(f"{ap}.scheme", acc.scheme, schemes, "scheme")
            need(f"{ap}.source", acc.source, sources, "source")
            need(f"{ap}.funding.source", acc.funding.source, sources, "source")
            for k, vt in enumerate(acc.visit_types):
                need(f"{ap}.visit_types[{k}]", vt, vtypes, "visit type")
    return out


def _match(pattern: str, value: str) -> bool:
    return pattern == WILDCARD or pattern == value
