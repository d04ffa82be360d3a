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
