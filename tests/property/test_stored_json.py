"""The ledger's stored JSON documents are the text the standard library would write: the fast writer
(orjson) may not change a stored byte, since stored documents enter hashes and are compared later."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from yibao.ledger.rows import dumps, dumps_ordered

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
