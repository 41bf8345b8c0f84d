"""The batch lean path reads the code lists from the Arrow buffers and looks the codes up in hash
tables over packed codes: the same rows, groups and traces as splitting the lists in Python and looking
the codes up in the dicts."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from yibao.drg import group_frame, load_scheme
from yibao.drg import vector as vec


def test_hash_table_gives_the_dict_value_of_every_code_and_the_default_otherwise() -> None:
    rng = random.Random(3)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789é"
    codes = {"".join(rng.choices(alphabet, k=rng.randint(1, 8))): i + 1 for i in range(5_000)}
    codes = {c: v for c, v in codes.items() if len(c.encode()) <= 8}
    ix = vec.code_index(codes, -7)
    assert ix is not None
    asked = [
        *codes,
        "",
        "X" * 9,
        "ABCDEFGHJ",
        "Q",
        "é" * 5,
        *("".join(rng.choices(alphabet, k=4)) for _ in range(3_000)),
    ]
    col = pl.Series("sdx", ["|".join(asked)])
    got = vec._codes_packed(col)
    assert got is not None
    keys, first, total = got
    assert total == len(asked) and first.tolist() == [0]
    assert vec.lookup(ix, keys).tolist() == [codes.get(c, -7) for c in asked]
    assert vec.code_index({"A": 1, "": 2}, 0) is None  # an empty code cannot be packed
    assert vec.code_index({"A": 1, "ABCDEFGHJ": 2}, 0) is None  # nor one of more than 8 bytes


def test_code_lists_split_as_the_per_case_path_splits_them() -> None:
    texts = ["", "A", "A|B", "|A", "A|", "||", "A||BC", "é|ÉÉÉÉÉ|x", "LONGERTHAN8|Z"]
    col = pl.Series("sdx", texts)
    got = vec._codes_packed(col)
    assert got is not None
    keys, first, total = got
    flat, starts = vec._flat(texts)
    assert total == len(flat) and first.tolist() == starts.tolist()
    expect = [vec._pack(c) if c and len(c.encode()) <= 8 else (0 if not c else int(vec._LONG)) for c in flat]
    assert keys.tolist() == expect
    assert vec.list_counts(col).tolist() == [0 if not s else s.count("|") + 1 for s in texts]  # type: ignore[union-attr]
    # a text with a space (codes are then stripped one by one) or a NUL is left to the Python split
    assert vec._codes_packed(pl.Series("sdx", ["A | B"])) is None
    assert vec._codes_packed(pl.Series("sdx", ["A\0"])) is None
    # a slice of a column (an Arrow array with an offset) reads its own rows
    sl = vec._codes_packed(col.slice(2, 3))
    assert sl is not None and sl[2] == len(vec._flat(texts[2:5])[0])


@pytest.mark.parametrize("trace", [False, True])
def test_packed_and_python_paths_group_alike(trace: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from yibao.drg.conformance import HOLDOUT, build_suite

    cs = load_scheme("ms-drg-v43")
    df = build_suite(cs, 3_000, 23, HOLDOUT)
    odd = df.head(8).with_columns(
        pl.Series("sdx", ["I5021|LONGERTHAN8", "", "I5021||E119", "É", "I5021|I5021", "E119|", "|", "N179"]),
        pl.Series("sdx_poa", ["N|Y", "", "N|N|Y", "", "N|N", "Y|Y", "Y|Y", ""]),
        pl.Series("procedures", ["", "0SR9019|0SRB019", "LONGERTHAN8", "|", "02703DZ", "", "é", ""]),
        pl.Series("pdx", ["I214", "M1611", "A419|J189", "LONGERTHAN8", "J189", "I214", "É", "XXXX"]),
        pl.Series("discharge_status", ["20", "1", "01", "LONGSTATUS", "", "7", "20", "02"]),
    )
    df = pl.concat([df, odd])
    packed_calls: list[bool] = []
    real = vec._packed

    def spy(t: vec.Tables, frame: pl.DataFrame) -> vec.Packed | None:
        got = real(t, frame)
        packed_calls.append(got is not None)
        return got

    monkeypatch.setattr(vec, "_packed", spy)
    fast = group_frame(cs, df, workers=1, trace=trace)
    assert packed_calls == [True]
    monkeypatch.setattr(vec, "_packed", lambda t, frame: None)
    slow = group_frame(cs, df, workers=1, trace=trace)
    assert fast.equals(slow)
    assert np.unique(fast["drg"].to_numpy()).size > 50
