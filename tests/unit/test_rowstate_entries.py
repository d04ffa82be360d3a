"""Row-state entries built directly are byte for byte what the general JSON encoder writes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from casehub.connectors.rowstate import encode_entry, published_entry

text = st.text(max_size=20)  # any Unicode, quotes, backslashes and control characters included
refs = st.lists(
    st.dictionaries(
        st.sampled_from(["kind", "system", "number", "normalised", "引"]), st.one_of(st.none(), text), max_size=4
    ),
    max_size=3,
)


@given(version=text, refs=refs)
def test_published_entry_is_what_the_json_encoder_writes(version, refs):
    built = published_entry(version, refs)
    assert built == encode_entry({"v": version, "refs": refs, "published": True})
    assert json.loads(built) == {"v": version, "refs": refs, "published": True}


def test_refs_with_other_values_take_the_general_encoder():
    odd = [{"kind": "MEDIATION", "number": 42, "extra": {"nested": [1.5, True]}}]
    assert published_entry("7", odd) == encode_entry({"v": "7", "refs": odd, "published": True})
    assert json.loads(published_entry(12, [])) == {"v": 12, "refs": [], "published": True}


@given(version=text, refs=refs, digest=st.text(alphabet="0123456789abcdef", min_size=24, max_size=24))
def test_published_entry_with_a_digest_is_what_the_json_encoder_writes(version, refs, digest):
    built = published_entry(version, refs, digest)
    assert built == encode_entry({"v": version, "d": digest, "refs": refs, "published": True})


def test_the_digest_tells_content_apart_and_ignores_related_rows():
    from casehub.connectors.mapping import RELATED
    from casehub.connectors.rows import row_digest

    row = {"ajid": 1, "zt": "60", "gxsj": "2026-05-01 09:00:00", "bz": None}
    assert row_digest(row) == row_digest(dict(row))
    assert row_digest({**row, "zt": "80"}) != row_digest(row)
    assert row_digest({**row, RELATED: {"workers": [{"name": "王"}]}}) == row_digest(row)
