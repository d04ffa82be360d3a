"""The case-view sink's batch handling without Kafka: upserts into SQLite, dead letters into the in-memory publisher."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa

from casehub.ground.deadletter import DeadLetters
from casehub.ground.publish import MemoryPublisher
from casehub.ground.topics import Topics
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.sinks.case_view import create_engine
from casehub.sinks.case_view_sink import CaseViewWriter
from casehub.sinks.view_tables import case_events, cases
from tests.support.events import EVENTS, fold

T = Topics("unit.")


class Msg(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes


async def test_a_batch_is_upserted_and_a_bad_message_dead_lettered(tmp_path):
    codec = AvroCodec(MemoryRegistry(), prefix=T.prefix)
    engine = create_engine(f"sqlite:///{tmp_path / 'view.db'}")
    letters = DeadLetters(codec, T.deadletter, MemoryPublisher())
    writer = CaseViewWriter(engine, codec, T.cases, letters)
    old, new = fold(EVENTS[:2]), fold(EVENTS)
    batch = [
        Msg(T.cases, 0, 0, codec.encode(T.cases, new)),
        Msg(T.cases, 0, 1, b"junk"),
        Msg(T.cases, 0, 2, codec.encode(T.cases, old)),
    ]
    assert await writer.handle(batch) == 1  # the stale version in the same batch changes nothing
    with engine.connect() as conn:
        assert conn.execute(sa.select(cases.c.version)).scalars().all() == [len(EVENTS)]
        assert conn.execute(sa.select(sa.func.count()).select_from(case_events)).scalar_one() == len(EVENTS)
    ((_, value),) = letters.publisher.on(T.deadletter)
    letter = codec.decode(value)
    assert (letter["stage"], letter["error_kind"], letter["offset"]) == ("sink:case_view", "DECODE_ERROR", 1)
    engine.dispose()
