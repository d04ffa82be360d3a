"""Composite primary keys: record ids that never collide, and mapping files that say what is not supported."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import record_id_for
from connectors.mapping import MappingFileError, load_mapping

BASE = """
[source]
name = "c"
system = "s"
agency = "MEDIATION"
table = "t"
primary_key = {key}
cursor = "changed"
cursor_type = "int"
[event]
type = {{ const = "APPLIED" }}
occurred_at = {{ column = "at", type = "time", format = "epoch_ms" }}
{extra}
"""


def test_single_column_ids_are_unchanged():
    assert record_id_for(("id",), {"id": 42}) == "42"


@given(st.tuples(st.text(max_size=6), st.text(max_size=6)), st.tuples(st.text(max_size=6), st.text(max_size=6)))
def test_different_composite_keys_never_share_a_record_id(a, b):
    cols = ("x", "y")
    same = record_id_for(cols, dict(zip(cols, a))) == record_id_for(cols, dict(zip(cols, b)))
    assert same == (a == b)


def test_mapping_accepts_a_list_of_key_columns(tmp_path):
    (tmp_path / "m.toml").write_text(BASE.format(key='["org", "seq"]', extra=""), encoding="utf-8")
    mapping = load_mapping(tmp_path / "m.toml")
    assert mapping.key_columns == ("org", "seq") and mapping.primary_key == "org,seq"


@pytest.mark.parametrize("key, extra, message", [
    ('["org", "org"]', "", "distinct column names"),
    ('["org", "changed"]', "", "cursor cannot be part of a composite"),
    ('["org", "seq"]', '[[related]]\nname = "w"\ntable = "w"\nforeign_key = "case_id"\n', "single-column primary key"),
])
def test_what_composite_keys_cannot_do_is_said_when_the_mapping_loads(tmp_path, key, extra, message):
    (tmp_path / "m.toml").write_text(BASE.format(key=key, extra=extra), encoding="utf-8")
    with pytest.raises(MappingFileError, match=message):
        load_mapping(tmp_path / "m.toml")
