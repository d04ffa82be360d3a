"""The compiled Avro writer writes exactly fastavro's bytes, and leaves everything else to fastavro."""

from __future__ import annotations

import collections
import datetime as dt
import io

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.schemas.codec import AvroCodec, EncodeError
from casehub.schemas.compiled import Unhandled, compile_writer
from casehub.schemas.contract import TOPIC_RECORDS, default_contract
from casehub.schemas.examples import example
from casehub.schemas.registry.memory import MemoryRegistry

CONTRACT = default_contract()
RECORDS = sorted(set(TOPIC_RECORDS.values()))


def parsed(record: str):
    return fastavro.parse_schema(CONTRACT.expanded(record))


def fastavro_bytes(schema, value) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, value)
    return buf.getvalue()


def values_for(schema, named: dict):
    """A hypothesis strategy for values that fit a parsed schema (edges included: big numbers, old dates, any text)."""
    if isinstance(schema, list):
        return st.one_of([values_for(b, named) for b in schema])
    if isinstance(schema, str):
        if schema in named:
            return st.deferred(lambda: values_for(named[schema], named))
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "string": st.text(max_size=30),
            "bytes": st.binary(max_size=20),
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "float": st.floats(width=32, allow_nan=False),
            "double": st.floats(allow_nan=False),
        }[schema]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        zones = st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]
        )
        return st.one_of(
            st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=zones),
            st.integers(-(2**50), 2**50),
        )
    if logical == "date":
        return st.one_of(st.dates(), st.integers(-100000, 100000))
    kind = schema["type"]
    if kind == "record":
        named[schema["name"]] = schema
        return st.fixed_dictionaries({f["name"]: values_for(f["type"], named) for f in schema["fields"]})
    if kind == "enum":
        named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values_for(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), values_for(schema["values"], named), max_size=3)
    return values_for(kind, named)


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("fill_optional", [True, False])
def test_examples_are_written_byte_for_byte_like_fastavro(record, fill_optional):
    schema = parsed(record)
    value = example(CONTRACT.expanded(record), fill_optional=fill_optional)
    if record == "cn.casehub.EnrichedEvent":
        # a union of records: a plain dict is left to fastavro (which tries the branches in turn); the tuple
        # notation (name, value) names the branch, and the compiled writer writes it
        with pytest.raises(Unhandled):
            compile_writer(schema)(value)
        value["event"] = ("cn.casehub.MediationEvent", value["event"])
    assert compile_writer(schema)(value) == fastavro_bytes(schema, value)


@pytest.mark.parametrize("record", RECORDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_values_are_written_byte_for_byte_like_fastavro(record, data):
    schema = parsed(record)
    value = data.draw(values_for(schema, {}))
    write = compile_writer(schema)
    try:
        fast = write(value)
    except Unhandled:
        return  # left to fastavro: the codec test below shows the fallback
    assert fast == fastavro_bytes(schema, value)


def test_missing_optional_fields_take_their_defaults():
    schema = parsed("cn.casehub.MediationEvent")
    value = example(CONTRACT.expanded("cn.casehub.MediationEvent"), fill_optional=False)
    for name in ("agreement", "mediator", "online", "documents"):
        value.pop(name)
    assert compile_writer(schema)(value) == fastavro_bytes(schema, value)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda v: v.update(occurred_at=dt.datetime(2024, 1, 1, 8)), "naive datetime: fastavro reads it as local time"),
        (lambda v: v.update(worker_count=True), "bool where an int is expected"),
        (lambda v: v.update(worker_count=2**40), "beyond Avro int"),
        (lambda v: v.update(event_type="NOT_A_SYMBOL"), "unknown enum symbol"),
        (lambda v: v.pop("event_id"), "required field missing"),
        (
            lambda v: v.update(
                refs=({"kind": "MEDIATION", "system": "s", "number": "n", "normalised": None} for _ in range(1))
            ),
            "a generator, not a list",
        ),
        (
            lambda v: v.update(
                source=collections.defaultdict(str, {k: x for k, x in v["source"].items() if k != "record_version"})
            ),
            "a nested record as a defaultdict: it would invent the missing field",
        ),
        (
            lambda v: v.update(
                refs=[{"kind": "MEDIATION", "system": "s", "number": "n", "normalised": collections.UserString("n")}]
            ),
            "an object with .encode() in a nullable string: fastavro picks union branches by isinstance(str)",
        ),
    ],
)
def test_what_the_compiled_writer_leaves_to_fastavro(change, expected):
    schema = parsed("cn.casehub.MediationEvent")
    value = example(CONTRACT.expanded("cn.casehub.MediationEvent"))
    change(value)
    with pytest.raises(Unhandled):
        compile_writer(schema)(value)


def test_codec_falls_back_to_fastavro_for_the_same_result_or_error():
    codec = AvroCodec(MemoryRegistry())
    topic = "casehub.mediation.events"
    schema = parsed("cn.casehub.MediationEvent")
    value = example(CONTRACT.expanded("cn.casehub.MediationEvent"))
    value["occurred_at"] = dt.datetime(2024, 1, 1, 8)  # naive: the compiled writer declines, fastavro writes it its way
    assert codec.encode(topic, value)[5:] == fastavro_bytes(schema, value)
    for bad in (True, 2**40):
        value["worker_count"] = bad
        with pytest.raises(EncodeError, match="MediationEvent"):
            codec.encode(topic, value)
    value["worker_count"] = 3
    value.pop("event_id")
    with pytest.raises(EncodeError, match="MediationEvent"):
        codec.encode(topic, value)
