"""Knowledge tables of billing conventions (optional tables, defaults), the catalogue importer, and the
service date every generated fee line carries."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from yibao.audit.knowledge import KnowledgeError, from_frames, load_knowledge
from yibao.audit.knowledge.importer import import_catalogue


def test_example_ships_the_convention_tables() -> None:
    k = load_knowledge()
    assert k.item_pack.height > 0 and k.item_pack["pack_units_q"].min() >= 10_000  # type: ignore[operator]
    assert set(k.days_limit["max_days"].unique().to_list()) == {7, 14, 28}
    assert set(k.duplicate_pairs["scope"].unique().to_list()) == {"day", "visit"}
    assert k.care_markers.height > 0 and k.course_markers.height > 0
    assert k.registered_conditions.height == 0  # region data: not shipped


def test_optional_columns_take_their_default_and_bad_values_name_the_field() -> None:
    pairs = pl.DataFrame({"code_a": ["A"], "code_b": ["B"]})
    assert from_frames(duplicate_pairs=pairs).duplicate_pairs["scope"].to_list() == ["visit"]
    with pytest.raises(KnowledgeError, match=r"duplicate_pairs\.scope"):
        from_frames(duplicate_pairs=pairs.with_columns(pl.lit("week").alias("scope")))
    with pytest.raises(KnowledgeError, match=r"item_pack\.pack_units"):
        from_frames(item_pack=pl.DataFrame({"code": ["A"], "pack_units": ["x"], "daily_max": ["3"]}))


def test_importer_writes_the_item_tables_from_the_catalogue_and_copies_the_rest(tmp_path: Path) -> None:
    cat = tmp_path / "catalogue.csv"
    pl.DataFrame(
        {
            "code": ["D1", "D2", "S1"],
            "name": ["一号药", "二号药", "床位"],
            "sex": ["", "F", ""],
            "unit_price": ["0.5", "12", "30"],
            "pack_units": ["24", "1", ""],
            "daily_max": ["3", "2", ""],
            "max_days": ["7", "28", ""],
            "days_class": ["acute", "chronic", ""],
            "max_per_day": ["", "", "1"],
        }
    ).write_csv(cat)
    k = import_catalogue(cat, tmp_path / "kb")
    assert dict(k.item_pack.select("code", "pack_units_q").iter_rows()) == {"D1": 240_000, "D2": 10_000}
    assert dict(k.days_limit.select("code", "max_days").iter_rows()) == {"D1": 7, "D2": 28}
    assert k.item_sex["code"].to_list() == ["D2"]
    assert dict(k.price_standard.select("code", "standard_price_fen").iter_rows())["D1"] == 50
    assert k.frequency["code"].to_list() == ["S1"]
    assert k.care_markers.height == load_knowledge().care_markers.height  # copied from the base
    assert k.item_age.height == load_knowledge().item_age.height  # no age columns: the base's table


def test_importer_refuses_a_bad_cell_and_writes_nothing(tmp_path: Path) -> None:
    cat = tmp_path / "catalogue.csv"
    pl.DataFrame({"code": ["D1"], "name": ["x"], "daily_max": ["three"]}).write_csv(cat)
    with pytest.raises(KnowledgeError, match=r"item_pack\.daily_max|supply\.max_units_per_day"):
        import_catalogue(cat, tmp_path / "kb")
    assert not (tmp_path / "kb").exists() and not (tmp_path / "kb.importing").exists()
