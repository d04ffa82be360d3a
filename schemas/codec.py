"""Avro codec with Confluent framing: magic byte 0, 4-byte big-endian schema id, then the Avro body.

Works on dicts only; subject names follow the topic-name strategy (`<topic>-value`). Writer schemas
are fetched from the registry by id once and parsed once.
"""

from __future__ import annotations

import io
import json
import struct

import fastavro

from casehub.schemas.compiled import Unhandled, compile_writer
from casehub.schemas.contract import Contract, default_contract

MAGIC = 0
HEADER = struct.Struct(">bI")


class DecodeError(Exception):
    """A message could not be decoded; carries where it came from so callers can dead-letter it."""

    def __init__(
        self,
        reason: str,
        topic: str = "",
        partition: int | None = None,
        offset: int | None = None,
        schema_id: int | None = None,
    ):
        where = f"{topic}[{partition}]@{offset}" if topic else "message"
        super().__init__(f"cannot decode {where}: {reason}")
        self.reason, self.topic, self.partition, self.offset, self.schema_id = (
            reason,
            topic,
            partition,
            offset,
            schema_id,
        )


class EncodeError(Exception):
    """A value does not fit the schema of its topic. `record` names the type, `cause` the kind of failure;
    the message never repeats the value (it may hold personal data)."""

    def __init__(self, topic: str, record: str, cause: str):
        super().__init__(f"value for {topic} does not fit {record}: {cause}")
        self.topic, self.record, self.cause = topic, record, cause


def subject_for(topic: str, is_key: bool = False) -> str:
    """Topic-name strategy, as Confluent serializers use by default."""
    return f"{topic}-{'key' if is_key else 'value'}"


def frame(schema_id: int, body: bytes) -> bytes:
    return HEADER.pack(MAGIC, schema_id) + body


def unframe(data: bytes) -> tuple[int, memoryview]:
    """Split Confluent framing; raises ValueError on a short buffer or a wrong magic byte."""
    if data is None or len(data) < HEADER.size:
        raise ValueError(f"too short for Confluent framing ({0 if data is None else len(data)} bytes)")
    magic, schema_id = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"unknown magic byte {magic} (expected 0: Confluent wire format)")
    return schema_id, memoryview(data)[HEADER.size :]


class AvroCodec:
    """Encode and decode the contract's records for topics.

    Args:
        registry: anything with `register(subject, schema_str) -> int` and `schema(id) -> str`.
        contract: the parsed contract (default: schemas/avro).
        prefix: the topic prefix in use, so prefixed topics map to their record types.
    """

    def __init__(self, registry, contract: Contract | None = None, prefix: str = ""):
        self.registry = registry
        self.contract = contract or default_contract()
        self.prefix = prefix
        self._writers: dict[str, tuple[int, object]] = {}  # topic -> (schema id, parsed schema)
        self._readers: dict[int, object] = {}  # schema id -> parsed writer schema
        self._fast: dict[str, tuple] = {}  # topic -> (compiled writer (schemas/compiled.py), framing header)

    def register(self, topic: str) -> int:
        """Register the topic's current schema under `<topic>-value` (once per process) and return its id."""
        if topic not in self._writers:
            name = self.contract.record_for_topic(topic, self.prefix)
            expanded = self.contract.expanded(name)
            schema_id = self.registry.register(
                subject_for(topic), json.dumps(expanded, ensure_ascii=False, separators=(",", ":"))
            )
            self._writers[topic] = (schema_id, fastavro.parse_schema(expanded))
            self._readers.setdefault(schema_id, self._writers[topic][1])
        return self._writers[topic][0]

    def register_all(self) -> dict[str, int]:
        """Register every topic's schema (the hub does this at start); returns subject -> id."""
        from casehub.schemas.contract import TOPIC_RECORDS

        return {subject_for(self.prefix + base): self.register(self.prefix + base) for base in TOPIC_RECORDS}

    def encode(self, topic: str, value: dict) -> bytes:
        fast = self._fast.get(topic)
        if fast is None:
            self.register(topic)
            schema_id, parsed = self._writers[topic]
            writer = compile_writer(parsed)
            fast = self._fast[topic] = (writer, HEADER.pack(MAGIC, schema_id))
        try:
            return fast[0](value, fast[1])
        except Unhandled:
            pass  # fastavro writes what the compiled writer leaves to it, or raises its usual error
        schema_id, parsed = self._writers[topic]
        buf = io.BytesIO()
        buf.write(HEADER.pack(MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(buf, parsed, value)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            cause = f"missing field {exc}" if isinstance(exc, KeyError) else type(exc).__name__
            raise EncodeError(topic, self.contract.record_for_topic(topic, self.prefix), cause) from None
        return buf.getvalue()

    def writer_schema(self, schema_id: int):
        if schema_id not in self._readers:
            self._readers[schema_id] = fastavro.parse_schema(json.loads(self.registry.schema(schema_id)))
        return self._readers[schema_id]

    def needs_fetch(self, data: bytes) -> bool:
        """True when decoding `data` would call the registry (so async callers can do it off the event loop)."""
        try:
            schema_id, _ = unframe(data)
        except ValueError:
            return False
        return schema_id not in self._readers

    def decode(self, data: bytes, topic: str = "", partition: int | None = None, offset: int | None = None) -> dict:
        """Decode one framed message with the schema it was written with.

        Raises:
            DecodeError: bad framing, unknown schema id, or a body that does not match its schema.
        """
        try:
            schema_id, body = unframe(data)
        except ValueError as exc:
            raise DecodeError(str(exc), topic, partition, offset) from exc
        try:
            writer = self.writer_schema(schema_id)
        except Exception as exc:
            raise DecodeError(
                f"schema id {schema_id} not available from the registry: {exc}", topic, partition, offset, schema_id
            ) from exc
        stream = io.BytesIO(body)
        try:
            value = fastavro.schemaless_reader(stream, writer, None)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError... on corrupt bodies
            raise DecodeError(
                f"body does not match schema {schema_id}: {type(exc).__name__}: {exc}",
                topic,
                partition,
                offset,
                schema_id,
            ) from exc
        if stream.tell() != len(body):
            raise DecodeError(
                f"{len(body) - stream.tell()} trailing bytes after the Avro body (schema {schema_id})",
                topic,
                partition,
                offset,
                schema_id,
            )
        return value


def codec_for(settings, registry=None) -> AvroCodec:
    """The codec of a process: the configured schema registry (embedded or external) and topic prefix.

    Args:
        registry: another registry client (e.g. casehub.schemas.registry.memory.MemoryRegistry in tests).
    """
    if registry is None:
        from casehub.schemas.registry.client import RegistryClient

        # the registry's credential, when configured, goes with every request (Confluent, Karapace or the embedded one)
        registry = RegistryClient(
            settings.registry_url, credentials=settings.registry_credentials, token=settings.registry_token
        )
    return AvroCodec(registry, prefix=settings.topic_prefix)
