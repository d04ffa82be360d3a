"""Evolution: the current contract reads data written with every released version; breaking changes fail with subject
and field."""

from __future__ import annotations

import copy
import io
import json
import re

import fastavro
import pytest

from casehub.schemas.compat import check_compatibility, check_level
from casehub.schemas.contract import AVRO_DIR, TOPIC_RECORDS, load_contract
from casehub.schemas.evolution import check, released
from casehub.schemas.examples import example

CONTRACT = load_contract()
RECORDS = sorted(set(TOPIC_RECORDS.values()))
VERSIONS = [(r, v, s) for r in RECORDS for v, s in released(r)]


def test_every_record_has_a_released_version():
    assert {r for r, _, _ in VERSIONS} == set(RECORDS)


def test_current_contract_is_compatible_with_every_release():
    problems = check(CONTRACT)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("record, version, old", VERSIONS, ids=[f"{r}-v{v}" for r, v, _ in VERSIONS])
@pytest.mark.parametrize("fill", [True, False], ids=["all-fields", "nulls"])
def test_data_written_with_a_release_reads_with_the_current_schema(record, version, old, fill):
    written = example(old, fill_optional=fill)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(copy.deepcopy(old)), written)
    buf.seek(0)
    read = fastavro.schemaless_reader(
        buf, fastavro.parse_schema(copy.deepcopy(old)), fastavro.parse_schema(CONTRACT.expanded(record))
    )
    for field in old["fields"]:
        assert _holds(read[field["name"]], written[field["name"]]), field["name"]


def _holds(read, written) -> bool:
    """`read` carries everything `written` had: equal, except that records may have gained defaulted fields
    (a field added to a nested record, e.g. Party, since the release)."""
    if isinstance(written, dict):
        return isinstance(read, dict) and all(k in read and _holds(read[k], v) for k, v in written.items())
    if isinstance(written, list):
        return isinstance(read, list) and len(read) == len(written) and all(map(_holds, read, written))
    return read == written


def _with_party_change(change):
    """The contract with cn.casehub.Party changed by `change` (a function over the Party schema JSON)."""
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    for path in AVRO_DIR.glob("*.avsc"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if path.name == "cn.casehub.Party.avsc":
            change(schema)
        (tmp / path.name).write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    return load_contract(tmp)


def test_a_required_field_added_fails_naming_subject_and_field():
    contract = _with_party_change(
        lambda s: s["fields"].append({"name": "nationality", "type": "string", "doc": "Nationality (国籍)"})
    )
    messages = [str(p) for p in check(contract)]
    assert any(
        "casehub.mediation.events-value" in m and "parties[].nationality" in m and "without a default" in m
        for m in messages
    ), messages
    assert any("casehub.cases-value" in m for m in messages)


def test_a_type_change_fails_naming_the_field():
    def change(s):
        next(f for f in s["fields"] if f["name"] == "name")["type"] = "int"

    messages = [str(p) for p in check(_with_party_change(change))]
    assert any(re.search(r"parties\[\]\.name: type changed from string", m) for m in messages), messages


def test_an_optional_field_with_a_default_passes():
    contract = _with_party_change(
        lambda s: s["fields"].append(
            {"name": "nationality", "type": ["null", "string"], "default": None, "doc": "Nationality (国籍)"}
        )
    )
    assert check(contract) == []


@pytest.mark.parametrize(
    "reader, writer, ok",
    [
        ("long", "int", True),
        ("int", "long", False),
        ("string", "bytes", True),
        (["null", "string"], "string", True),
        ("string", ["null", "string"], False),
        (
            {"type": "enum", "name": "E", "symbols": ["A"], "default": "A"},
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            True,
        ),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, {"type": "enum", "name": "E", "symbols": ["A", "B"]}, False),
        ({"type": "record", "name": "R", "fields": []}, {"type": "record", "name": "S", "fields": []}, False),
        (
            {"type": "record", "name": "R", "aliases": ["S"], "fields": []},
            {"type": "record", "name": "S", "fields": []},
            True,
        ),
        ({"type": "array", "items": "long"}, {"type": "array", "items": "int"}, True),
        ({"type": "map", "values": "int"}, {"type": "map", "values": "string"}, False),
    ],
)
def test_resolution_rules(reader, writer, ok):
    assert (check_compatibility(reader, writer) == []) is ok


def test_levels():
    v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    v2 = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0}],
    }
    v3 = {"type": "record", "name": "R", "fields": [{"name": "b", "type": "int"}]}
    assert check_level("BACKWARD", v2, [v1]) == []
    assert check_level("BACKWARD", v3, [v1, v2]) == []  # reads v2 (has b)
    assert check_level("BACKWARD_TRANSITIVE", v3, [v1, v2]) != []  # cannot read v1 (no b, no default)
    assert check_level("NONE", v3, [v1]) == []
    assert check_level("FORWARD", v1, [v2]) == []


def test_every_field_and_enum_is_documented_in_both_languages():
    han = re.compile(r"[\u4e00-\u9fff]")
    for name, schema in CONTRACT.raw.items():
        assert han.search(schema.get("doc", "")), f"{name}: doc needs the Chinese term"
        for field in schema.get("fields", []):
            assert field.get("doc") and han.search(field["doc"]), (
                f"{name}.{field['name']}: doc needs English meaning and Chinese term"
            )
        for symbol in schema.get("symbols", []):
            assert symbol in schema["doc"], f"{name}: enum doc does not explain {symbol}"
