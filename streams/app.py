"""The faust worker: link agency events to cases (repartition by case id), merge them in a changelog-backed table, publish case records.

Thin shell: decoding, linking (`streams.cases.case_id_for`) and merging (`streams.cases.merge`) are plain
functions; this module only wires topics, the table and dead letters.
"""

from __future__ import annotations

import asyncio
import io

import fastavro
import faust

from casehub.logs import get_logger
from casehub.settings import Settings
from connectors.base import dead_letter
from schemas.codec import AvroCodec, DecodeError, EncodeError
from schemas.registry.client import RegistryClient
from streams.cases import case_id_for, merge

# Internal topic value: agency kind, a NUL byte, then the original Confluent-framed Avro message.
SEP = b"\x00"


class CaseCodec:
    """Schemaless Avro for the case table's values (the changelog), with the contract's CaseRecord schema."""

    def __init__(self, codec: AvroCodec):
        self.schema = fastavro.parse_schema(codec.contract.expanded("cn.casehub.CaseRecord"))

    def dumps(self, case: dict) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.schema, case)
        return buf.getvalue()

    def loads(self, data: bytes) -> dict:
        return fastavro.schemaless_reader(io.BytesIO(data), self.schema, None)


def build_app(settings: Settings, codec: AvroCodec | None = None) -> faust.App:
    """Create the faust application and its agents for these settings (nothing connects until it starts)."""
    topics = settings.topics
    codec = codec or AvroCodec(RegistryClient(settings.registry_url), prefix=settings.topic_prefix)
    cases_codec = CaseCodec(codec)
    log = get_logger("streams")
    datadir = settings.home / "faust" / settings.group_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        settings.group_id,
        broker=f"kafka://{settings.bootstrap}",
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
    agency_by_topic = {topics.mediation: "MEDIATION", topics.arbitration: "ARBITRATION", topics.court: "COURT", topics.inspection: "INSPECTION"}
    raw = dict(key_serializer="raw", value_serializer="raw")
    agency_topics = app.topic(*agency_by_topic, **raw)
    linked = app.topic(topics.name("casehub.linked"), partitions=settings.partitions, internal=True, **raw)
    cases_out = app.topic(topics.cases, **raw)
    deadletters = app.topic(topics.deadletter, **raw)
    table = app.Table("cases", partitions=settings.partitions, key_type=bytes, value_type=bytes)

    async def decode(data: bytes, topic: str, partition: int, offset: int) -> dict:
        if codec.needs_fetch(data):
            # a registry round trip blocks: do it off the event loop, once per schema id
            return await asyncio.to_thread(codec.decode, data, topic, partition, offset)
        return codec.decode(data, topic, partition, offset)

    async def to_deadletter(exc: Exception, stage: str, topic: str, partition: int, offset: int, payload: bytes | None, kind: str) -> None:
        letter = dead_letter(stage, topic, kind, str(exc), partition=partition, offset=offset, payload=payload)
        log.warning("message to dead letters", topic=topic, partition=partition, offset=offset, reason=str(exc))
        await deadletters.send(key=letter["dead_letter_id"].encode(), value=await asyncio.to_thread(codec.encode, topics.deadletter, letter))

    @app.task
    async def register_schemas() -> None:
        for topic in (topics.cases, topics.deadletter):
            await asyncio.to_thread(codec.register, topic)

    @app.agent(agency_topics)
    async def link(stream):
        async for event in stream.events():
            msg = event.message
            try:
                value = await decode(msg.value, msg.topic, msg.partition, msg.offset)
                case_id = case_id_for(value)
            except (DecodeError, KeyError, TypeError) as exc:
                await to_deadletter(exc, "streams:link", msg.topic, msg.partition, msg.offset, msg.value, "DECODE_ERROR")
                continue
            log.debug("linked", topic=msg.topic, event_id=value["event_id"], case_id=case_id)
            await linked.send(key=case_id.encode(), value=agency_by_topic[msg.topic].encode() + SEP + msg.value)

    @app.agent(linked)
    async def merge_cases(stream):
        async for event in stream.events():
            msg = event.message
            case_id = msg.key.decode()
            agency, _, payload = msg.value.partition(SEP)
            try:
                value = await decode(payload, msg.topic, msg.partition, msg.offset)
            except DecodeError as exc:
                await to_deadletter(exc, "streams:merge", msg.topic, msg.partition, msg.offset, payload, "DECODE_ERROR")
                continue
            try:
                stored = table.get(msg.key)
                current = cases_codec.loads(stored) if stored else None
                case = merge(current, agency.decode(), value, case_id)
                record = await asyncio.to_thread(codec.encode, topics.cases, case)
            except Exception as exc:  # noqa: BLE001 - one event the rules cannot fold must not stop every case
                kind = "SCHEMA_MISMATCH" if isinstance(exc, EncodeError) else "OTHER"
                await to_deadletter(exc, "streams:merge", msg.topic, msg.partition, msg.offset, payload, kind)
                continue
            if case is not current:
                # assign, never mutate in place: only assignment reaches the changelog
                table[msg.key] = cases_codec.dumps(case)
            # Publish even for a duplicate: after a crash between the table write and this send, the
            # redelivered event is the only thing that can still get the record out. Sinks are idempotent.
            await cases_out.send(key=case_id.encode(), value=record)
            log.info("case updated", event_id=value["event_id"], case_id=case_id, version=case["version"], topic=topics.cases)

    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until SIGINT or SIGTERM (blocks)."""
    from faust.worker import Worker

    app = build_app(settings)
    # casehub configures logging (structlog JSON); faust must not replace it.
    Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True, redirect_stdouts=False).execute_from_commandline()
