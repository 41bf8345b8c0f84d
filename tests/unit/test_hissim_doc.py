"""docs/NATIONAL_INTERFACE.md carries the field tables exactly as the spec data prints them."""

from pathlib import Path

from hissim.cli import render_all
from hissim.spec import load_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "NATIONAL_INTERFACE.md"
START = "<!-- hissim:tables:start"
END = "<!-- hissim:tables:end -->"


def test_the_doc_tables_match_the_spec_data():
    text = DOC.read_text(encoding="utf-8")
    begin = text.index("\n", text.index(START)) + 1
    block = text[begin : text.index(END)]
    assert block == render_all(load_spec()), "regenerate with: python -m hissim spec all"


def test_the_doc_keeps_a_section_for_the_server_side():
    assert "## What yibao does with them / not supported yet" in DOC.read_text(encoding="utf-8")
