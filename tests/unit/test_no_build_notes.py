"""No build notes in what ships: the team brief (DOMAIN.md), machine paths and its source tags
([V] [T] [M] [X]) must not appear in code strings, comments, region and parameter files, pages or data.
Text for people cites the original document (title and number, URL) instead; docs/SOURCES.md lists them.
Whether a figure is read, compiled, to check or illustrative is a YAML field (``tag:``, ``basis:``)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

BUILD_NOTE = re.compile(r"DOMAIN\.md|/work/|\.\./shared|\[(?:V|T|M|X)\]")

# Directories and files other helpers were editing in parallel when this test was written; remove each
# line once that branch is merged and its files are cleaned (the lead's job after the merge).
NOT_YET: tuple[str, ...] = (
    "yibao/audit",
    "yibao/synth",
    "yibao/web/national.py",
    "hissim",
)

TEXT_SUFFIXES = (".yaml", ".yml", ".html", ".csv")


def _excluded(path: Path, root: Path) -> bool:
    rel = path.relative_to(root).as_posix()
    return any(rel == x or rel.startswith(x + "/") for x in NOT_YET)


def _python_text(path: Path) -> list[tuple[int, str]]:
    """The string literals and comments of a Python file with their line numbers (code itself may say
    ``x[M]``, an index, not a tag)."""
    out: list[tuple[int, str]] = []
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        kinds = (tokenize.STRING, tokenize.COMMENT)
        fstring_middle = getattr(tokenize, "FSTRING_MIDDLE", None)
        if tok.type in kinds or (fstring_middle is not None and tok.type == fstring_middle):
            out.append((tok.start[0], tok.string))
    return out


def _plain_text(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


def build_notes(root: Path = SRC) -> list[str]:
    """Every ``file:line: text`` under ``root`` carrying a build note."""
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or _excluded(path, root):
            continue
        if path.suffix == ".py":
            pieces = _python_text(path)
        elif path.suffix in TEXT_SUFFIXES:
            pieces = _plain_text(path)
        else:
            continue
        for line, text in pieces:
            m = BUILD_NOTE.search(text)
            if m:
                found.append(f"{path.relative_to(root)}:{line}: {m.group(0)}")
    return found


def test_shipped_files_carry_no_build_notes() -> None:
    found = build_notes()
    assert not found, "build notes in shipped files:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.yaml", "source: see DOMAIN.md §1.3\n"),
        ("b.yaml", "note: read from /work/shared/seeds\n"),
        ("c.html", "<p>[X] local service commitment</p>\n"),
        ("d.csv", "code,name\n1,../shared/x\n"),
        ("e.py", 'S = "ratio [T]"\n'),
        ("f.py", "x = 1  # figure [M]\n"),
    ],
)
def test_each_kind_of_build_note_is_found(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert len(build_notes(tmp_path)) == 1


def test_code_that_indexes_with_a_capital_letter_is_not_a_tag(tmp_path: Path) -> None:
    (tmp_path / "g.py").write_text("M = 0\nx = [1][M]\n", encoding="utf-8")
    assert build_notes(tmp_path) == []
