"""The two stages of the worker as plain classes, so they are tested without faust or a broker: `Linker`
finds an event's case, `Merger` folds it into the case record. The faust agents (casehub.streams.app) only
feed them messages and send what they return.
"""

from __future__ import annotations

import asyncio
import io
from typing import NamedTuple

import fastavro

from casehub.domain.cases import case_id_for, merge
from casehub.ground.deadletter import DeadLetters
from casehub.ground.logs import get_logger
from casehub.schemas.codec import AvroCodec, DecodeError, EncodeError

# Internal topic value: agency kind, a NUL byte, then the original Confluent-framed Avro message.
SEP = b"\x00"


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


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


async def decode(codec: AvroCodec, msg: Message, payload: bytes | None = None) -> dict:
    data = msg.value if payload is None else payload
    if codec.needs_fetch(data):
        # a registry round trip blocks: do it off the event loop, once per schema id
        return await asyncio.to_thread(codec.decode, data, msg.topic, msg.partition, msg.offset)
    return codec.decode(data, msg.topic, msg.partition, msg.offset)


class Linker:
    """Agency event -> (case id key, internal value) for the linked topic; undecodable messages to dead letters."""

    def __init__(self, codec: AvroCodec, agency_by_topic: dict[str, str], letters: DeadLetters):
        self.codec, self.agency_by_topic, self.letters = codec, agency_by_topic, letters
        self.log = get_logger("streams")

    async def handle(self, msg: Message) -> tuple[bytes, bytes] | None:
        try:
            value = await decode(self.codec, msg)
            case_id = case_id_for(value)
        except (DecodeError, KeyError, TypeError) as exc:
            await self.letters.undecodable("streams:link", msg, exc)
            return None
        self.log.debug("linked", topic=msg.topic, event_id=value["event_id"], case_id=case_id)
        return case_id.encode(), self.agency_by_topic[msg.topic].encode() + SEP + msg.value


class Merger:
    """Linked event + the stored case -> the new stored case and the encoded record to publish.

    `table` is any mutable mapping of case key -> stored bytes (faust's changelog-backed table in the
    worker); values are reassigned, never mutated, since only assignment reaches the changelog.
    """

    def __init__(self, codec: AvroCodec, cases_topic: str, letters: DeadLetters, table):
        self.codec, self.cases_topic, self.letters, self.table = codec, cases_topic, letters, table
        self.cases = CaseCodec(codec)
        self.log = get_logger("streams")

    async def handle(self, msg: Message) -> tuple[bytes, bytes] | None:
        case_id = msg.key.decode()
        agency, _, payload = msg.value.partition(SEP)
        try:
            value = await decode(self.codec, msg, payload)
        except DecodeError as exc:
            await self.letters.undecodable("streams:merge", msg, exc, payload)
            return None
        try:
            stored = self.table.get(msg.key)
            current = self.cases.loads(stored) if stored else None
            case = merge(current, agency.decode(), value, case_id)
            record = await asyncio.to_thread(self.codec.encode, self.cases_topic, case)
        except Exception as exc:
            kind = "SCHEMA_MISMATCH" if isinstance(exc, EncodeError) else "OTHER"
            await self.letters.undecodable("streams:merge", msg, exc, payload, kind)
            return None
        if case is not current:
            self.table[msg.key] = self.cases.dumps(case)  # assign, never mutate in place
        # Publish even for a duplicate: after a crash between the table write and this send, the
        # redelivered event is the only thing that can still get the record out. Sinks are idempotent.
        self.log.info(
            "case updated", event_id=value["event_id"], case_id=case_id, version=case["version"], topic=self.cases_topic
        )
        return case_id.encode(), record
