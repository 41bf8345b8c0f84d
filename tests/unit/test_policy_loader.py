"""Loading a region file: the fixture loads, and every malformed file is refused with a PolicyError
naming the file, the path inside it and the reason."""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.policy.catalogue import CLASS_A, CLASS_B, CLASS_C
from yibao.policy.loader import PolicyError, example_path, load_region, load_region_text

FIXTURES = Path(__file__).parent.parent / "fixtures"
FIXTURE_TEXT = (FIXTURES / "region.yaml").read_text(encoding="utf-8")
CATALOGUE_ROWS = (FIXTURES / "catalogue.csv").read_text(encoding="utf-8").splitlines()

Raw = dict[str, Any]


def fixture_raw() -> Raw:
    return copy.deepcopy(yaml.safe_load(FIXTURE_TEXT))


def write_region(
    tmp_path: Path, raw: Raw | None = None, *, text: str | None = None, catalogue: list[str] | None = None
) -> Path:
    """Write a (mutated) region into ``tmp_path`` with the catalogue alongside; return the YAML path."""
    path = tmp_path / "region.yaml"
    if text is None:
        text = yaml.safe_dump(raw if raw is not None else fixture_raw(), allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    if catalogue is None:
        shutil.copy(FIXTURES / "catalogue.csv", tmp_path / "catalogue.csv")
    else:
        (tmp_path / "catalogue.csv").write_text("\n".join(catalogue) + "\n", encoding="utf-8")
    return path


def load_error(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as ei:
        load_region(path)
    return ei.value


def mutated(change: Callable[[Raw], None]) -> Raw:
    raw = fixture_raw()
    change(raw)
    return raw


def benefit0(raw: Raw) -> Raw:
    b: Raw = raw["versions"][0]["benefits"][0]
    return b


# --- the fixture --------------------------------------------------------------------------------


def test_the_fixture_loads_with_its_codes_versions_and_catalogue() -> None:
    loaded = load_region(FIXTURES / "region.yaml")
    r = loaded.region
    assert r.region.admdvs == "610100"
    assert [s.code for s in r.schemes] == ["310", "390"]
    assert [p.code for p in r.person_types] == ["11", "21", "31"]
    assert [x.code for x in r.hospital_levels] == ["1", "2", "3"]
    assert [v.id for v in r.versions] == ["T2025"]
    cat = loaded.catalogue_for(r.versions[0])
    assert set(cat) == {"A01", "B10", "C01", "M01", "S01", "B20"}
    assert cat["A01"].cls == CLASS_A and cat["C01"].cls == CLASS_C
    assert (cat["B10"].cls, cat["B10"].selfpay_prop) == (CLASS_B, 1_000)
    assert (cat["M01"].price_cap, cat["B20"].price_cap, cat["B20"].selfpay_prop) == (1000_00, 50_00, 2_000)


def test_amounts_are_held_in_fen_and_ratios_in_ten_thousandths() -> None:
    b = benefit0(load_region(FIXTURES / "region.yaml").region.model_dump())
    assert [row["amount"] for row in b["deductible"]["amounts"]] == [200_00, 500_00, 1200_00]
    assert b["ratios"][0]["ratio"] == 9_000
    assert b["locality_adjustment"] == {"remote_filed": -1_000, "remote_unfiled": -2_000}
    assert b["cap"]["amount"] == 400_000_00


def test_the_policy_book_compiles_the_version_in_force_and_caches_it() -> None:
    book = PolicyBook.from_file(FIXTURES / "region.yaml")
    first = book.for_date(dt.date(2025, 1, 1))
    assert first.version_id == "T2025" and first.admdvs == "610100"
    assert book.for_date(dt.date(2025, 12, 31)) is first  # inclusive bounds, compiled once
    assert first.benefits[("310", "21")].ratio[("3", "21", "remote_unfiled")] == 6_500  # 85% − 20 points
    assert first.benefits[("310", "21")].deductible[("2", "11")] == 500_00


@pytest.mark.parametrize("day", [dt.date(2024, 12, 31), dt.date(2026, 1, 1)])
def test_a_date_outside_every_version_is_refused_naming_the_visit_begin_date(day: dt.date) -> None:
    book = PolicyBook.from_file(FIXTURES / "region.yaml")
    with pytest.raises(NoPolicyVersion) as ei:
        book.for_date(day)
    assert ei.value.field == "visit.begin_date"
    assert ei.value.code == "no_policy"
    assert str(day) in ei.value.reason and "2025-01-01…2025-12-31" in ei.value.reason


@pytest.mark.parametrize("name", ["xian", "weinan"])
def test_the_shipped_example_regions_load_and_compile(name: str) -> None:
    loaded = load_region(example_path(name))
    book = PolicyBook(loaded)
    for v in loaded.region.versions:
        assert book.for_date(v.effective_from).version_id == v.id


def test_an_unknown_example_region_lists_the_known_ones() -> None:
    with pytest.raises(FileNotFoundError, match="xian"):
        example_path("atlantis")


def test_a_copy_of_the_fixture_in_another_directory_loads(tmp_path: Path) -> None:
    assert load_region(write_region(tmp_path)).region.region.admdvs == "610100"


# --- malformed files -------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Raw], None]:
    """A change that sets ``raw<path>`` (a Python subscript chain) to ``value``."""

    def change(raw: Raw) -> None:
        *head, last = _keys(path)
        target: Any = raw
        for k in head:
            target = target[k]
        target[last] = value

    return change


def _keys(path: str) -> list[Any]:
    out: list[Any] = []
    for part in path.replace("]", "").split("[")[1:]:
        out.append(int(part) if part.isdigit() else part.strip("'\""))
    return out


def _overlapping_version(raw: Raw) -> None:
    later = copy.deepcopy(raw["versions"][0])
    later.update(id="T2025b", effective_from=dt.date(2025, 6, 1), effective_to=dt.date(2026, 6, 30))
    raw["versions"].append(later)


def _drop_retired_tertiary_ratio(raw: Raw) -> None:
    rows = benefit0(raw)["ratios"]
    assert rows[5] == {"level": "3", "person_type": "21", "ratio": "0.85"}
    del rows[5]


def _drop_tertiary_deductible(raw: Raw) -> None:
    del benefit0(raw)["deductible"]["amounts"][2]


B0 = "['versions'][0]['benefits'][0]"


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        pytest.param(
            _set(f"{B0}['ratios'][1]['ratio']", 0.94),
            "versions[0].benefits[0].ratios[1].ratio",
            "not float",
            id="float-ratio",
        ),
        pytest.param(
            _set(f"{B0}['ratios'][1]['ratio']", "1.5"),
            "versions[0].benefits[0].ratios[1].ratio",
            "above 1",
            id="ratio-above-one",
        ),
        pytest.param(
            _set(f"{B0}['ratios'][1]['ratio']", "94.5%%"),
            "versions[0].benefits[0].ratios[1].ratio",
            "not a decimal ratio",
            id="garbled-ratio",
        ),
        pytest.param(
            _set(f"{B0}['deductible']['amounts'][0]['amount']", 200.5),
            "versions[0].benefits[0].deductible.amounts[0].amount",
            "not float",
            id="float-amount",
        ),
        pytest.param(
            _set(f"{B0}['deductible']['amounts'][0]['amount']", "200.005"),
            "versions[0].benefits[0].deductible.amounts[0].amount",
            "more than two decimals",
            id="sub-fen-amount",
        ),
        pytest.param(
            _set(f"{B0}['colour']", "red"), "versions[0].benefits[0].colour", "unknown key", id="unknown-key"
        ),
        pytest.param(
            _set("['region']['postcode']", "710000"), "region.postcode", "unknown key", id="unknown-key-top"
        ),
        pytest.param(
            _set(f"{B0}['ratios'][0]['level']", "9"),
            "versions[0].benefits[0].ratios[0].level",
            "unknown hospital level '9'",
            id="unknown-level-in-ratio",
        ),
        pytest.param(
            _set(f"{B0}['ratios'][0]['person_type']", "99"),
            "versions[0].benefits[0].ratios[0].person_type",
            "unknown person type '99'",
            id="unknown-person-type-in-ratio",
        ),
        pytest.param(
            _drop_retired_tertiary_ratio,
            "versions[0].benefits[0].ratios",
            "no ratio for hospital level '3' and person type '21'",
            id="missing-ratio",
        ),
        pytest.param(
            _drop_tertiary_deductible,
            "versions[0].benefits[0].deductible.amounts",
            "no deductible for level '3'",
            id="missing-deductible",
        ),
        pytest.param(
            _overlapping_version,
            "versions[1].effective_from",
            "overlaps version 'T2025'",
            id="overlapping-versions",
        ),
        pytest.param(
            _set("['versions'][0]['effective_to']", dt.date(2024, 1, 1)),
            "versions[0].effective_to",
            "before effective_from",
            id="version-ends-before-it-starts",
        ),
        pytest.param(
            _set(f"{B0}['source']", "nope"),
            "versions[0].benefits[0].source",
            "unknown source 'nope'",
            id="unknown-source",
        ),
        pytest.param(
            _set(f"{B0}['cap']['source']", "nope"),
            "versions[0].benefits[0].cap.source",
            "unknown source",
            id="unknown-cap-source",
        ),
        pytest.param(
            _set("['versions'][0]['layers'][2]['eligible_identities']", ["DB", "XX"]),
            "versions[0].layers[2].eligible_identities[1]",
            "unknown identity 'XX'",
            id="unknown-identity",
        ),
        pytest.param(
            _set(f"{B0}['scheme']", "999"),
            "versions[0].benefits[0].scheme",
            "unknown scheme",
            id="unknown-scheme",
        ),
        pytest.param(
            _set(f"{B0}['visit_types']", ["21", "77"]),
            "versions[0].benefits[0].visit_types[1]",
            "unknown visit type",
            id="unknown-visit-type",
        ),
        pytest.param(
            _set("['versions'][0]['benefits'][1]['visit_types']", ["21"]),
            "versions[0].benefits[1].visit_types[0]",
            "already covered by benefit 'emp-ip'",
            id="two-benefits-for-one-visit-type",
        ),
        pytest.param(
            _set(f"{B0}['deductible']['repeat']", {"step": "0.2", "floor": "200", "schedule": ["1"]}),
            "versions[0].benefits[0].deductible.repeat",
            "either 'schedule' or 'step'",
            id="repeat-both-kinds",
        ),
        pytest.param(
            _set(f"{B0}['deductible']['repeat']", {"step": "0.2"}),
            "versions[0].benefits[0].deductible.repeat",
            "'step' needs a 'floor'",
            id="step-without-floor",
        ),
        pytest.param(
            _set(f"{B0}['deductible']['counter']", None),
            "versions[0].benefits[0].deductible",
            "needs a 'counter'",
            id="deductible-without-counter",
        ),
        pytest.param(
            _set("['versions'][0]['layers'][1]['segments']", [{"upto": "5000", "ratio": "0.6"}]),
            "versions[0].layers[1]",
            "upto must be above the deductible",
            id="segment-below-deductible",
        ),
        pytest.param(
            _set(
                "['versions'][0]['layers'][1]['segments']",
                [{"upto": None, "ratio": "0.6"}, {"upto": "90000", "ratio": "0.7"}],
            ),
            "versions[0].layers[1]",
            "only the last segment may be open-ended",
            id="open-segment-first",
        ),
        pytest.param(
            _set("['versions'][0]['layers'][0]['field']", "bonus_pay"),
            "versions[0].layers[0].field",
            "Input should be",
            id="unknown-layer-field",
        ),
        pytest.param(
            _set(f"{B0}['fund_pay_type']", "3101"),
            "versions[0].benefits[0].fund_pay_type",
            "pattern",
            id="short-fund-pay-type",
        ),
        pytest.param(_set("['format']", "yibao.policy/2"), "format", "yibao.policy/1", id="wrong-format"),
        pytest.param(
            _set("['catalogue']", "missing.csv"), "catalogue", "cannot read catalogue", id="missing-catalogue"
        ),
    ],
)
def test_a_malformed_region_is_refused_naming_file_path_and_reason(
    tmp_path: Path, change: Callable[[Raw], None], where: str, reason: str
) -> None:
    path = write_region(tmp_path, mutated(change))
    err = load_error(path)
    assert err.file == str(path)
    assert any(p.path == where and reason in p.reason for p in err.problems), err.problems
    assert f"{path}: {where}: " in str(err)
    assert reason in str(err)


def test_schema_problems_give_the_chinese_reason_first(tmp_path: Path) -> None:
    err = load_error(write_region(tmp_path, mutated(_set("['region']['postcode']", "710000"))))
    reasons = {p.path: p.reason for p in err.problems}
    assert reasons["region.postcode"] == "未知的键 unknown key (not part of the yibao.policy/1 format)"


def test_a_missing_field_is_named_with_a_chinese_reason(tmp_path: Path) -> None:
    err = load_error(write_region(tmp_path, mutated(lambda raw: raw["region"].pop("name"))))
    reasons = {p.path: p.reason for p in err.problems}
    assert reasons["region.name"].startswith("缺少必填项 ")


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    def two_problems(raw: Raw) -> None:
        benefit0(raw)["source"] = "nope"
        raw["versions"][0]["layers"][0]["source"] = "nada"

    err = load_error(write_region(tmp_path, mutated(two_problems)))
    paths = [p.path for p in err.problems]
    assert "versions[0].benefits[0].source" in paths and "versions[0].layers[0].source" in paths
    assert len(str(err).splitlines()) == len(err.problems)


def test_bad_yaml_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    text = "format: yibao.policy/1\nregion: {admdvs: '610100', name: x\nschemes: []\n"
    path = write_region(tmp_path, text=text)
    err = load_error(path)
    assert len(err.problems) == 1
    assert err.problems[0].path == "line 3, column 8"
    assert "not valid YAML" in err.problems[0].reason
    assert str(err).startswith(f"{path}: line 3, column 8: 不是有效的 YAML not valid YAML")


def test_bad_indentation_is_reported_with_its_line(tmp_path: Path) -> None:
    err = load_error(write_region(tmp_path, text="format: yibao.policy/1\nregion:\n  admdvs: '1'\n bad: 2\n"))
    assert err.problems[0].path.startswith("line 4, column ")


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    err = load_error(write_region(tmp_path, text="- a\n- b\n"))
    assert err.problems[0].reason.startswith("文件顶层须为映射表 the file must hold a mapping")
    assert "<root>" in str(err)


def test_a_missing_region_file_is_a_policy_error_naming_it(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nowhere.yaml")
    assert "nowhere.yaml" in str(err) and "cannot read file" in str(err)


def test_text_without_a_file_name_is_reported_as_text() -> None:
    with pytest.raises(PolicyError) as ei:
        load_region_text("a: [", base_dir=FIXTURES)
    assert str(ei.value).startswith("<text>: line ")


# --- catalogue errors -------------------------------------------------------------------------


def _catalogue(edit: Callable[[list[str]], list[str]]) -> list[str]:
    return edit(list(CATALOGUE_ROWS))


@pytest.mark.parametrize(
    ("rows", "row", "column", "reason"),
    [
        pytest.param(
            _catalogue(lambda r: [r[0], r[1], r[2].replace(",02,0.10,", ",04,0.10,"), *r[3:]]),
            3,
            "class",
            "'04' is not 01",
            id="bad-class",
        ),
        pytest.param(
            _catalogue(lambda r: [r[0], r[1].replace(",09,01,,", ",09,01,0.1,"), *r[2:]]),
            2,
            "selfpay_prop",
            "only 乙类 (02) items carry a pay-first ratio",
            id="selfpay-on-class-a",
        ),
        pytest.param(
            _catalogue(lambda r: [r[0], r[3].replace(",09,03,,", ",09,03,0.2,"), *r[1:3], *r[4:]]),
            2,
            "selfpay_prop",
            "only 乙类",
            id="selfpay-on-class-c",
        ),
        pytest.param(
            _catalogue(lambda r: [*r, r[1]]), 8, "code", "duplicate item code 'A01'", id="duplicate-code"
        ),
        pytest.param(
            _catalogue(lambda r: [r[0], r[1].replace(",09,01,", ",15,01,"), *r[2:]]),
            2,
            "category",
            "'15' is not a med_chrgitm_type",
            id="bad-category",
        ),
        pytest.param(
            _catalogue(lambda r: [r[0], r[1], r[2].replace(",0.10,", ",1.5,"), *r[3:]]),
            3,
            "selfpay_prop",
            "above 1",
            id="selfpay-above-one",
        ),
        pytest.param(
            _catalogue(lambda r: [*r[:4], r[4].replace(",1000.00,", ",1000.005,"), *r[5:]]),
            5,
            "price_cap",
            "more than two decimals",
            id="sub-fen-price-cap",
        ),
        pytest.param(
            _catalogue(lambda r: [r[0], r[1].replace("A01,", ",", 1), *r[2:]]),
            2,
            "code",
            "must not be empty",
            id="empty-code",
        ),
        pytest.param(
            _catalogue(lambda r: [r[0].replace(",class,", ",klass,"), *r[1:]]),
            1,
            "class",
            "required column is missing",
            id="missing-column",
        ),
    ],
)
def test_a_bad_catalogue_is_refused_naming_the_row_and_column(
    tmp_path: Path, rows: list[str], row: int, column: str, reason: str
) -> None:
    path = write_region(tmp_path, catalogue=rows)
    err = load_error(path)
    assert len(err.problems) == 1
    p = err.problems[0]
    assert p.path == "catalogue"
    assert p.reason.startswith(f"catalogue.csv: row {row}, column '{column}': ")
    assert reason in p.reason
    assert str(err).startswith(f"{path}: catalogue: catalogue.csv: row {row}, column '{column}'")


def test_a_counter_shared_by_a_deductible_and_a_cap_is_refused(tmp_path: Path) -> None:
    text = FIXTURE_TEXT.replace("cap: {counter: emp-op-paid", "cap: {counter: emp-op-ded")
    (tmp_path / "region.yaml").write_text(text, encoding="utf-8")
    shutil.copy(FIXTURES / "catalogue.csv", tmp_path / "catalogue.csv")
    with pytest.raises(PolicyError) as ei:
        load_region(tmp_path / "region.yaml")
    assert "versions[0].benefits[1].cap.counter" in str(ei.value)
