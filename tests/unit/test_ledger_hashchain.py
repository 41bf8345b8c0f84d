"""Journal hashing and the chain check, on synthetic rows (no database)."""

from __future__ import annotations

from yibao.ledger.journal import GENESIS, ChainCheck, root_digest, row_hash


def _chain(psn: str, amounts: list[int]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    prev = GENESIS
    for seq, amount in enumerate(amounts, 1):
        h = row_hash(
            prev, psn, seq, f"S{seq}", f"M{seq}", "fund", "310100", "hifp_pay", amount, "2025-01-01T00:00:00"
        )
        rows.append(
            (
                psn,
                seq,
                f"S{seq}",
                f"M{seq}",
                "fund",
                "310100",
                "hifp_pay",
                amount,
                "2025-01-01T00:00:00",
                prev,
                h,
            )
        )
        prev = h
    return rows


def _check(rows: list[tuple[object, ...]], heads: dict[str, tuple[int, str]]) -> list[str]:
    check = ChainCheck(heads, [])
    for r in rows:
        check.feed(r)
    check.finish()
    return check.problems


def test_the_row_hash_is_deterministic_and_covers_every_field() -> None:
    base = row_hash(GENESIS, "P1", 1, "S", "M", "fund", "310100", "hifp_pay", 100, "t")
    assert base == row_hash(GENESIS, "P1", 1, "S", "M", "fund", "310100", "hifp_pay", 100, "t")
    variants = [
        row_hash("1" * 64, "P1", 1, "S", "M", "fund", "310100", "hifp_pay", 100, "t"),
        row_hash(GENESIS, "P2", 1, "S", "M", "fund", "310100", "hifp_pay", 100, "t"),
        row_hash(GENESIS, "P1", 2, "S", "M", "fund", "310100", "hifp_pay", 100, "t"),
        row_hash(GENESIS, "P1", 1, "S", "M", "fund", "310100", "hifp_pay", -100, "t"),
        row_hash(GENESIS, "P1", 1, "S", "M", "cash", "310100", "hifp_pay", 100, "t"),
    ]
    assert len({base, *variants}) == 6


def test_a_clean_chain_passes_and_its_head_matches() -> None:
    rows = _chain("P1", [100, 200, -100])
    assert _check(rows, {"P1": (3, str(rows[-1][10]))}) == []


def test_edits_gaps_duplicates_and_head_mismatches_are_reported() -> None:
    rows = _chain("P1", [100, 200, 300, 400])
    head = {"P1": (4, str(rows[-1][10]))}
    edited = [*rows]
    edited[1] = (*rows[1][:7], 201, *rows[1][8:])
    assert any("hash mismatch" in p for p in _check(edited, head))
    assert any("seq gap" in p for p in _check([rows[0], rows[2], rows[3]], head))
    assert any("duplicate seq" in p for p in _check([rows[0], rows[1], rows[1], rows[2], rows[3]], head))
    assert any("chain head" in p for p in _check(rows[:3], head))
    assert any("no rows" in p for p in _check([], head))
    assert any("no person row" in p for p in _check(rows, {}))


def test_the_root_digest_depends_on_every_head_but_not_on_order() -> None:
    a = root_digest([("P1", "a" * 64), ("P2", "b" * 64)])
    assert a == root_digest([("P2", "b" * 64), ("P1", "a" * 64)])
    assert a != root_digest([("P1", "a" * 64), ("P2", "c" * 64)])
