"""The ledger's stored JSON documents are the text the standard library would write: the fast writer
(orjson) may not change a stored byte, since stored documents enter hashes and are compared later."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from yibao.ledger.journal import row_hash
from yibao.ledger.rows import canonical_bytes, dumps, dumps_ordered

_text = st.text(max_size=12)  # Chinese, control characters, quotes, escapes, lone surrogates
_scalar = st.none() | st.booleans() | st.integers(-(2**62), 2**62) | _text
_doc = st.recursive(
    _scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4)
)


@given(_doc)
def test_stored_documents_are_the_standard_canonical_json(doc: object) -> None:
    assert dumps(doc) == json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@given(_doc)
def test_ordered_documents_keep_the_key_order_of_the_standard_writer(doc: object) -> None:
    assert dumps_ordered(doc) == json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


_valid_text = st.text(max_size=12, alphabet=st.characters(blacklist_categories=("Cs",)))
_hash_input = st.lists(st.none() | st.integers(-(2**62), 2**62) | _valid_text, max_size=10)


@given(_hash_input)
def test_hashed_arrays_are_the_standard_compact_json_bytes(values: list[object]) -> None:
    assert canonical_bytes(values) == json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()


@given(_valid_text, st.integers(1, 2**40), _valid_text, st.integers(-(2**62), 2**62))
def test_journal_row_hashes_are_those_of_the_standard_writer(
    chain: str, seq: int, item: str, amount: int
) -> None:
    import hashlib

    prev = "ab" * 32
    body = json.dumps(
        [chain, seq, "s", "m", "fund", item, "hifp_pay", amount, "2026-01-01T00:00:00+00:00"],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    expected = hashlib.sha256((prev + body).encode("utf-8")).hexdigest()
    assert (
        row_hash(prev, chain, seq, "s", "m", "fund", item, "hifp_pay", amount, "2026-01-01T00:00:00+00:00")
        == expected
    )


# a settlement line as the settle path stores it: setl_id, DIGEST_LINE_COLS (fund_pay a stored JSON document),
# commercial_pay; texts both plain (the formatted path) and not (quotes, backslashes, controls, Chinese)
_plain = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_any_text = _plain | _valid_text
_money = st.integers(-(2**62), 2**62)
_line = st.tuples(
    st.just("S1"),
    st.integers(1, 9999),
    _any_text,
    _any_text,
    *[_money] * 8,
    st.dictionaries(_any_text, _money, max_size=3).map(dumps),
    _money,
    _money,
    st.sampled_from([0, 0, 1, -3, 2**40]),
)


@given(st.lists(_any_text | _money, max_size=4), st.lists(_line, max_size=6))
def test_a_settlements_lines_digest_as_one_update_is_the_digest_line_by_line(
    header: list[object], lines: list[tuple[object, ...]]
) -> None:
    from yibao.ledger.rows import ContentDigest

    at_once, one_by_one = ContentDigest(header), ContentDigest(header)
    at_once.lines(lines)
    for row in lines:
        one_by_one.line(row[1:-1], row[-1])
    assert at_once.hex() == one_by_one.hex()
