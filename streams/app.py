"""The faust worker: link agency events to cases (repartition by case id), merge them in a changelog-backed table,
publish case records.

Thin shell: the stages (casehub.streams.stages) decode, link and merge with the pure rules of
casehub.domain.cases; this module only wires topics, the table and dead letters.
"""

from __future__ import annotations

import asyncio

import faust

from casehub.ground.deadletter import DeadLetters
from casehub.ground.faustauth import faust_credentials
from casehub.ground.logs import get_logger
from casehub.ground.settings import Settings
from casehub.schemas.codec import AvroCodec, codec_for
from casehub.streams.stages import Linker, Merger, Message


class _FaustPublisher:
    """The Publisher interface (casehub.ground.publish) over faust's own producer, for dead letters."""

    def __init__(self, topics: dict):
        self.topics = topics

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        await self.topics[topic].send(key=key, value=value)


def _message(event) -> Message:
    msg = event.message
    return Message(msg.topic, msg.partition, msg.offset, msg.key, msg.value)


def build_app(settings: Settings, codec: AvroCodec | None = None) -> faust.App:
    """Create the faust application and its agents for these settings (nothing connects until it starts)."""
    topics = settings.topics
    codec = codec or codec_for(settings)
    log = get_logger("streams")
    datadir = settings.home / "faust" / settings.group_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        settings.group_id,
        broker=f"kafka://{settings.bootstrap}",
        broker_credentials=faust_credentials(settings),  # SASL / TLS from the settings, as every other client
        store="memory://",  # state is rebuilt from the changelog topic on start
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=False,
        autodiscover=False,
        datadir=str(datadir),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        processing_guarantee="at_least_once",
    )
    raw = dict(key_serializer="raw", value_serializer="raw")
    agency_topics = app.topic(*topics.event_topics(), **raw)
    linked = app.topic(topics.linked, partitions=settings.partitions, internal=True, **raw)
    cases_out = app.topic(topics.cases, **raw)
    letters = DeadLetters(
        codec, topics.deadletter, _FaustPublisher({topics.deadletter: app.topic(topics.deadletter, **raw)}), log
    )
    table = app.Table("cases", partitions=settings.partitions, key_type=bytes, value_type=bytes)
    linker = Linker(codec, topics.agency_of(), letters)
    merger = Merger(codec, topics.cases, letters, table)

    @app.task
    async def register_schemas() -> None:
        for topic in (topics.cases, topics.deadletter):
            await asyncio.to_thread(codec.register, topic)

    @app.agent(agency_topics)
    async def link(stream):
        async for event in stream.events():
            out = await linker.handle(_message(event))
            if out:
                await linked.send(key=out[0], value=out[1])

    @app.agent(linked)
    async def merge_cases(stream):
        async for event in stream.events():
            out = await merger.handle(_message(event))
            if out:
                await cases_out.send(key=out[0], value=out[1])

    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until SIGINT or SIGTERM (blocks)."""
    from faust.worker import Worker

    app = build_app(settings)
    # casehub configures logging (structlog JSON); faust must not replace it.
    Worker(
        app, loglevel=settings.log_level, override_logging=False, quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
