"""Read a scheme file (YAML, JSON, or JSON compressed with xz / gzip), validate it, compile it."""

from __future__ import annotations

import gzip
import json
import lzma
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from yibao.drg.engine import Compiled, compile_scheme
from yibao.drg.model import Scheme
from yibao.errors import FieldError, validation_reason

SCHEMES_DIR = Path(__file__).parent / "schemes"
SUFFIXES = (".yaml", ".json", ".json.xz", ".json.gz")


class SchemeError(FieldError):
    """A scheme that cannot be used: ``field`` is ``file: path.in.scheme``, ``reason`` says why."""


def scheme_ids() -> list[str]:
    """The ids of the schemes shipped with yibao."""
    ids = set()
    for p in SCHEMES_DIR.iterdir():
        for suf in SUFFIXES:
            if p.name.endswith(suf):
                ids.add(p.name[: -len(suf)])
    return sorted(ids)


def _path_for(name: str | Path) -> Path:
    p = Path(name)
    if p.exists():
        return p
    for suf in SUFFIXES:
        q = SCHEMES_DIR / f"{name}{suf}"
        if q.exists():
            return q
    raise SchemeError(
        "scheme", f"分组方案不存在 no scheme {str(name)!r}; shipped: {', '.join(scheme_ids())}", "unknown"
    )


def read_raw(path: Path) -> Any:
    """The parsed content of a scheme file (before validation)."""
    name = path.name
    try:
        if name.endswith(".yaml") or name.endswith(".yml"):
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        if name.endswith(".xz"):
            with lzma.open(path, "rt", encoding="utf-8") as f:
                return json.load(f)
        if name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return json.load(f)
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError, lzma.LZMAError) as exc:
        raise SchemeError(
            str(path), f"无法读取分组方案文件 cannot read the scheme file: {exc}", "unreadable"
        ) from exc


def validate(raw: Any, file: str = "<scheme>") -> Scheme:
    """Validate raw scheme data; the first problem is raised as ``file: path: reason``."""
    try:
        return Scheme.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e["loc"]) or "<root>"
            problems.append(f"{loc}: {validation_reason(e)}")
        raise SchemeError(file, "; ".join(problems[:5]) + (" …" if len(problems) > 5 else "")) from exc


@lru_cache(maxsize=8)
def _load(path: str) -> Compiled:
    p = Path(path)
    return compile_scheme(validate(read_raw(p), p.name))


def load_scheme(name: str | Path) -> Compiled:
    """A shipped scheme by id (``chs-drg-demo``, ``ms-drg-v43``) or a scheme file path, compiled (cached)."""
    return _load(str(_path_for(name).resolve()))
