"""The shipped candidate policies (``simulate/examples/*.yaml``) and how a name on the command line
finds a policy file."""

from __future__ import annotations

from pathlib import Path

from yibao.policy.loader import example_path

EXAMPLES_DIR = Path(__file__).parent / "examples"


def resolve_policy(name: Path | str) -> Path:
    """A policy file path, a shipped region name (``xian``) or a shipped candidate (``xian-lower-deductible``)."""
    p = Path(name)
    if p.exists():
        return p
    candidate = EXAMPLES_DIR / f"{name}.yaml"
    if candidate.exists():
        return candidate
    try:
        return example_path(str(name))
    except FileNotFoundError as exc:
        shipped = sorted(x.stem for x in EXAMPLES_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"示例不存在 {exc}; simulator examples: {', '.join(shipped)}") from exc
