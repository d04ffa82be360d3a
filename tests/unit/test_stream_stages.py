"""The worker's stages without faust or a broker: the in-memory registry and publisher stand in for Kafka."""

from __future__ import annotations

import datetime as dt

import pytest

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.sample import mediation_rows
from casehub.domain.cases import case_id_for
from casehub.domain.identities import Protector
from casehub.ground.deadletter import DeadLetters
from casehub.ground.publish import MemoryPublisher
from casehub.ground.topics import Topics
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.streams.stages import SEP, Linker, Merger, Message

T = Topics("unit.")
NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


@pytest.fixture
def codec():
    return AvroCodec(MemoryRegistry(), prefix=T.prefix)


@pytest.fixture
def letters(codec):
    return DeadLetters(codec, T.deadletter, MemoryPublisher())


def mediation_events(n: int, **changes) -> list[dict]:
    adapter = MappedAdapter(builtin_mappings()["mediation"], Protector("k"))
    return [adapter.map_row({**row, **changes}, NOW).event for row in mediation_rows(n, seed=3)]


async def test_the_linker_keys_an_event_by_its_case_and_keeps_the_original_bytes(codec, letters):
    event = mediation_events(1)[0]
    value = codec.encode(T.mediation, event)
    out = await Linker(codec, T.agency_of(), letters).handle(Message(T.mediation, 1, 7, b"k", value))
    assert out == (case_id_for(event).encode(), b"MEDIATION" + SEP + value)
    assert letters.publisher.messages == []


async def test_the_linker_dead_letters_what_it_cannot_decode_with_where_it_was(codec, letters):
    assert await Linker(codec, T.agency_of(), letters).handle(Message(T.court, 2, 41, b"k", b"\x07junk")) is None
    ((key, value),) = letters.publisher.on(T.deadletter)
    letter = codec.decode(value)
    assert (letter["stage"], letter["error_kind"], letter["topic"], letter["partition"], letter["offset"]) == (
        "streams:link",
        "DECODE_ERROR",
        T.court,
        2,
        41,
    )
    assert letter["payload"] == b"\x07junk" and "magic byte 7" in letter["reason"]


async def test_the_merger_folds_events_once_and_publishes_every_time(codec, letters):
    applied, accepted = mediation_events(1)[0], mediation_events(1, zt="20", gxsj="2024-12-01 10:00:00")[0]
    table: dict[bytes, bytes] = {}
    merger = Merger(codec, T.cases, letters, table)
    key = case_id_for(applied).encode()

    def linked(event, offset):
        return Message(T.linked, 0, offset, key, b"MEDIATION" + SEP + codec.encode(T.mediation, event))

    first = await merger.handle(linked(applied, 0))
    second = await merger.handle(linked(accepted, 1))
    again = await merger.handle(linked(applied, 2))  # redelivered: no change, but published again
    versions = [codec.decode(out[1])["version"] for out in (first, second, again)]
    assert versions == [1, 2, 2]
    assert list(table) == [key] and merger.cases.loads(table[key])["version"] == 2
    assert letters.publisher.messages == []


async def test_the_merger_dead_letters_a_payload_it_cannot_decode(codec, letters):
    merger = Merger(codec, T.cases, letters, {})
    assert await merger.handle(Message(T.linked, 0, 3, b"CH1", b"MEDIATION" + SEP + b"\x00\x00")) is None
    ((_, value),) = letters.publisher.on(T.deadletter)
    assert codec.decode(value)["stage"] == "streams:merge"
