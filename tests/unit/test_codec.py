"""The codec: round trips for every record, exact bytes, Confluent framing, and typed decode errors."""

from __future__ import annotations

import io
import json

import avro.io
import avro.schema
import fastavro
import pytest

from casehub.schemas.codec import AvroCodec, DecodeError, EncodeError, frame, subject_for, unframe
from casehub.schemas.contract import TOPIC_RECORDS, default_contract
from casehub.schemas.examples import example
from casehub.schemas.registry.memory import MemoryRegistry

CONTRACT = default_contract()
TOPICS = list(TOPIC_RECORDS)


@pytest.fixture
def codec():
    return AvroCodec(MemoryRegistry(), CONTRACT)


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("fill", [True, False], ids=["all-fields", "nulls"])
def test_round_trip_every_record(codec, topic, fill):
    value = example(CONTRACT.expanded(TOPIC_RECORDS[topic]), fill_optional=fill)
    data = codec.encode(topic, value)
    assert data[0] == 0
    assert codec.decode(data, topic, 0, 0) == value


@pytest.mark.parametrize("topic", TOPICS)
def test_fastavro_and_apache_avro_write_the_same_bytes(codec, topic):
    expanded = CONTRACT.expanded(TOPIC_RECORDS[topic])
    value = example(expanded)
    body = codec.encode(topic, value)[5:]
    writer = avro.io.DatumWriter(avro.schema.parse(json.dumps(expanded)))
    out = io.BytesIO()
    writer.write(value, avro.io.BinaryEncoder(out))
    assert out.getvalue() == body


def test_exact_bytes_of_framing_and_a_small_record():
    assert frame(42, b"") == b"\x00\x00\x00\x00\x2a"
    money = fastavro.parse_schema(CONTRACT.expanded("cn.casehub.Money"))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, money, {"amount_fen": 860050, "currency": "CNY"})
    # zig-zag varint of 860050 = 1720100 = 0x1A3F24 -> a4 fe 68; then string length 3 (06) and "CNY"
    assert buf.getvalue() == bytes.fromhex("a4fe68") + b"\x06CNY"


def test_subject_uses_topic_name_strategy(codec):
    codec.register("casehub.cases")
    assert subject_for("casehub.cases") == "casehub.cases-value"
    assert codec.registry.state.live("casehub.cases-value")


def test_prefixed_topics_map_to_their_records():
    codec = AvroCodec(MemoryRegistry(), CONTRACT, prefix="t1.")
    value = example(CONTRACT.expanded("cn.casehub.Alert"))
    assert codec.decode(codec.encode("t1.casehub.alerts", value)) == value


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "too short"),
        (b"\x01\x00\x00\x00\x01abc", "magic byte 1"),
        (b"\x00\x00\x00\x03\xe7\x02", "schema id 999"),
    ],
)
def test_decode_errors_are_typed_and_say_where(codec, data, reason):
    with pytest.raises(DecodeError) as err:
        codec.decode(data, "casehub.cases", 2, 77)
    assert (err.value.topic, err.value.partition, err.value.offset) == ("casehub.cases", 2, 77)
    assert reason in str(err.value)


def test_truncated_and_trailing_bodies_are_rejected(codec):
    value = example(CONTRACT.expanded("cn.casehub.Alert"))
    data = codec.encode("casehub.alerts", value)
    with pytest.raises(DecodeError, match="does not match"):
        codec.decode(data[:-3], "casehub.alerts", 0, 1)
    with pytest.raises(DecodeError, match="trailing bytes"):
        codec.decode(data + b"\x00", "casehub.alerts", 0, 1)


def test_encode_error_names_the_record(codec):
    with pytest.raises(EncodeError, match="cn.casehub.Alert"):
        codec.encode("casehub.alerts", {"alert_id": 5})


def test_unframe_splits_id_and_body():
    schema_id, body = unframe(b"\x00\x00\x00\x01\x07\x02")
    assert schema_id == 263
    assert bytes(body) == b"\x02"
