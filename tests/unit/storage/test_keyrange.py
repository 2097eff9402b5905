"""Prefix ranges: ``p <= key < prefix_end(p)`` holds exactly for the keys starting with ``p``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from provisioner.services.storage.keyrange import in_range, prefix_end

# Keys are stored as UTF-8, so they never contain lone surrogates.
key_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8)
edge_chars = st.sampled_from(["a", "/", "%", "_", "\x00", "\ud7ff", "\ue000", "\U0010ffff", "\uffff"])
edgy_text = st.lists(edge_chars, max_size=5).map("".join)


@given(prefix=st.one_of(key_text, edgy_text), key=st.one_of(key_text, edgy_text))
def test_the_range_of_a_prefix_holds_exactly_its_keys(prefix: str, key: str) -> None:
    assert in_range(key, prefix, prefix_end(prefix)) == key.startswith(prefix)


@given(prefix=st.one_of(key_text, edgy_text), suffix=st.one_of(key_text, edgy_text))
def test_the_range_holds_every_extension_and_its_end_is_encodable(prefix: str, suffix: str) -> None:
    end = prefix_end(prefix)
    assert in_range(prefix + suffix, prefix, end)
    if end is not None:
        end.encode("utf-8")  # it is bound as a SQLite parameter


def test_examples() -> None:
    assert prefix_end("/pods/") == "/pods0"
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("\ud7ff") == "\ue000"
    assert prefix_end("") is None
    assert prefix_end("\U0010ffff\U0010ffff") is None
