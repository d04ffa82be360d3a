"""Where a mapping reads from (a table or a query) and how it names rows (composite keys): what loads, what is
refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casehub.connectors.events import record_id_for
from casehub.connectors.mapping import MappingFileError, load_mapping

BASE = """
[source]
name = "c"
system = "s"
agency = "MEDIATION"
{table}
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
    (tmp_path / "m.toml").write_text(BASE.format(table='table = "t"', key='["org", "seq"]', extra=""), encoding="utf-8")
    mapping = load_mapping(tmp_path / "m.toml")
    assert mapping.key_columns == ("org", "seq") and mapping.primary_key == "org,seq"


@pytest.mark.parametrize(
    "key, extra, message",
    [
        ('["org", "org"]', "", "distinct column names"),
        ('["org", "changed"]', "", "cursor cannot be part of a composite"),
        (
            '["org", "seq"]',
            '[[related]]\nname = "w"\ntable = "w"\nforeign_key = "case_id"\n',
            "single-column primary key",
        ),
    ],
)
def test_what_composite_keys_cannot_do_is_said_when_the_mapping_loads(tmp_path, key, extra, message):
    (tmp_path / "m.toml").write_text(BASE.format(table='table = "t"', key=key, extra=extra), encoding="utf-8")
    with pytest.raises(MappingFileError, match=message):
        load_mapping(tmp_path / "m.toml")


@pytest.mark.parametrize(
    "table, message",
    [
        ('table = "t"\nquery = "SELECT 1"', "either `table` or `query`"),
        ("", "either `table` or `query`"),
        ('query = "DELETE FROM t"', "must be a SELECT"),
    ],
)
def test_a_source_is_a_table_or_a_select(tmp_path, table, message):
    (tmp_path / "m.toml").write_text(BASE.format(table=table, key='"id"', extra=""), encoding="utf-8")
    with pytest.raises(MappingFileError, match=message):
        load_mapping(tmp_path / "m.toml")


def test_a_query_source_loads(tmp_path):
    (tmp_path / "m.toml").write_text(
        BASE.format(table='query = "WITH x AS (SELECT * FROM t) SELECT * FROM x"', key='"id"', extra=""),
        encoding="utf-8",
    )
    assert load_mapping(tmp_path / "m.toml").query.startswith("WITH")
