"""The batch's ways of going faster change no fen: the kernel's parts side by side, the line stage on
lines in any order, and the general (Polars) line path all give the same year."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.batch import settle, settle_batch
from yibao.batch.io import read_inputs
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.model import SettlementError
from yibao.synth import generate


@pytest.fixture(scope="module")
def year(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PolicyBook, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    out = tmp_path_factory.mktemp("parts") / "xian"
    generate(example_path("xian"), out, persons=900, year=2025, seed=21, limits=prescribing_limits())
    persons, visits, lines = read_inputs(out)
    return PolicyBook.from_file(example_path("xian")), persons, visits, lines


def _settled(
    book: PolicyBook, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame | pl.LazyFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    r = settle_batch(book, persons, visits, lines)
    return r.visits.sort("visit_id"), r.closing().sort("psn_id", "year", "counter")


def test_the_kernel_in_one_part_or_three_settles_the_same_year(
    year: tuple[PolicyBook, pl.DataFrame, pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    book, persons, visits, lines = year
    assert (visits["account_payer_id"] >= 0).sum() > 0  # family accounts join persons into components
    monkeypatch.setattr(settle, "KERNEL_PARTS", 1)
    one = _settled(book, persons, visits, lines)
    monkeypatch.setattr(settle, "KERNEL_PARTS", 3)
    three = _settled(book, persons, visits, lines)
    assert one[0].equals(three[0]) and one[1].equals(three[1])
    assert one[0]["fund_pay_sumamt"].sum() > 0


def test_the_parts_share_no_person_and_no_account(
    year: tuple[PolicyBook, pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    _, persons, visits, _ = year
    psn = visits["psn_id"].to_numpy()
    payer = visits["account_payer_id"].to_numpy()
    perm, starts, part_rounds = settle._rounds(psn, payer, int(persons["psn_id"].to_numpy().max()) + 1, 2)
    assert part_rounds[0] == 0 and part_rounds[-1] == len(starts) - 1
    owners = []
    for p in range(2):
        rows = perm[starts[part_rounds[p]] : starts[part_rounds[p + 1]]]
        owners.append(set(psn[rows]) | set(payer[rows][payer[rows] >= 0]))
        for r in range(part_rounds[p], part_rounds[p + 1]):  # a round: each person and account once
            at = perm[starts[r] : starts[r + 1]]
            assert len(set(psn[at])) == len(at)
    assert owners[0] and owners[1] and not owners[0] & owners[1]
    assert sorted(perm.tolist()) == list(range(len(psn)))


def test_lines_in_any_order_and_the_general_line_path_give_the_same_year(
    year: tuple[PolicyBook, pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    book, persons, visits, lines = year
    base = _settled(book, persons, visits, lines)
    shuffled = lines.sample(fraction=1.0, shuffle=True, seed=3)
    assert not shuffled["visit_id"].is_sorted()
    assert _settled(book, persons, visits, shuffled)[0].equals(base[0])
    # a lazy frame takes the general Polars path (joins on the catalogue frame)
    assert _settled(book, persons, visits, lines.lazy())[0].equals(base[0])
    # visits listed out of time order, and a visit without lines
    rev = visits.reverse()
    assert _settled(book, persons, rev, lines)[0].equals(base[0])
    first = int(lines["visit_id"][0])
    dropped = _settled(book, persons, visits, lines.filter(pl.col("visit_id") != first))[0]
    row = dropped.filter(pl.col("visit_id") == first)
    assert row["medfee_sumamt"].to_list() == [0]
    assert np.array_equal(
        dropped.filter(pl.col("visit_id") != first)["visit_id"].to_numpy(),
        base[0].filter(pl.col("visit_id") != first)["visit_id"].to_numpy(),
    )


def test_item_codes_as_text_or_as_categories_give_the_same_year(
    year: tuple[PolicyBook, pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    """``read_inputs`` gives the codes as a Categorical (decoded from the file's dictionary); text codes,
    an Enum of other names and a Categorical all settle the same year, and an unknown code is named."""
    book, persons, visits, lines = year
    assert isinstance(lines["code"].dtype, pl.Categorical)
    base = _settled(book, persons, visits, lines)
    text = lines.with_columns(pl.col("code").cast(pl.String))
    assert _settled(book, persons, visits, text)[0].equals(base[0])
    names = sorted(set(text["code"].to_list()) | {"NOT-IN-CATALOGUE"}, reverse=True)
    as_enum = text.with_columns(pl.col("code").cast(pl.Enum(names)))
    assert _settled(book, persons, visits, as_enum)[0].equals(base[0])
    bad = text.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("NOT-IN-CATALOGUE")).otherwise("code").alias("code")
    )
    for codes in (bad, bad.with_columns(pl.col("code").cast(pl.Categorical))):
        with pytest.raises(SettlementError, match="NOT-IN-CATALOGUE") as err:
            settle_batch(book, persons, visits, codes)
        assert err.value.code == "unknown_item"
