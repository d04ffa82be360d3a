"""Registry state (subjects, versions, ids, compatibility config) kept in a compacted Kafka topic.

The topic is the source of truth: on start the store replays it, so ids survive restarts and every
registry process reading the same topic agrees. One registry process writes at a time (as with
Confluent's leader); other hub processes talk to it over HTTP.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import avro.schema
import fastavro
from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced

from casehub.kafka_admin import ensure_topics, read_to_end, state_topic
from schemas.compat import COMPATIBILITY_LEVELS, Incompatibility, check_level


class RegistryError(Exception):
    """An error with a Confluent error code and HTTP status."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def normalise(schema_str: str) -> str:
    """Whitespace-free JSON form of a schema: the identity of a schema text (docs and defaults kept)."""
    try:
        parsed = json.loads(schema_str)
    except ValueError as exc:
        raise RegistryError(422, 42201, f"Invalid schema: not JSON ({exc})") from exc
    try:
        fastavro.parse_schema(parsed, _write_hint=False)
        # fastavro is lenient (a record without "fields" passes); the Apache implementation is the judge.
        avro.schema.parse(schema_str)
    except Exception as exc:  # both libraries raise several types for a bad schema
        raise RegistryError(422, 42201, f"Invalid schema: {exc}") from exc
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Version:
    subject: str
    version: int
    id: int
    schema: str
    deleted: bool = False


@dataclass
class RegistryState:
    """Pure in-memory state; `apply` folds one topic record into it."""

    subjects: dict[str, list[Version]] = field(default_factory=dict)
    schemas: dict[int, str] = field(default_factory=dict)
    ids_by_schema: dict[str, int] = field(default_factory=dict)
    global_level: str = "BACKWARD"
    subject_levels: dict[str, str] = field(default_factory=dict)

    def apply(self, key: dict, value: dict | None) -> None:
        if key.get("keytype") == "SCHEMA":
            if value is None:
                return
            v = Version(value["subject"], int(value["version"]), int(value["id"]), value["schema"], bool(value.get("deleted", False)))
            versions = self.subjects.setdefault(v.subject, [])
            versions[:] = [x for x in versions if x.version != v.version] + [v]
            versions.sort(key=lambda x: x.version)
            self.schemas[v.id] = v.schema
            self.ids_by_schema.setdefault(v.schema, v.id)
        elif key.get("keytype") == "CONFIG":
            subject = key.get("subject")
            level = (value or {}).get("compatibilityLevel")
            if subject:
                if level:
                    self.subject_levels[subject] = level
                else:
                    self.subject_levels.pop(subject, None)
            elif level:
                self.global_level = level

    def live(self, subject: str) -> list[Version]:
        return [v for v in self.subjects.get(subject, []) if not v.deleted]

    def level(self, subject: str | None) -> str:
        return self.subject_levels.get(subject, self.global_level) if subject else self.global_level

    def find(self, subject: str, norm: str) -> Version | None:
        return next((v for v in self.live(subject) if v.schema == norm), None)

    def problems(self, subject: str, norm: str, against: list[Version] | None = None) -> list[Incompatibility]:
        previous = [json.loads(v.schema) for v in (against if against is not None else self.live(subject))]
        return check_level(self.level(subject), json.loads(norm), previous)


class KafkaSchemaStore:
    """RegistryState persisted in a compacted, single-partition Kafka topic."""

    def __init__(self, bootstrap: str, topic: str, replication: int = 1):
        self.bootstrap, self.topic, self.replication = bootstrap, topic, replication
        self.state = RegistryState()
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, [state_topic(self.topic)], self.replication)
        # One writer per registry topic, enforced by Kafka: starting a transactional producer with the topic's
        # transactional id fences any registry that wrote before, and replaying only afterwards includes
        # everything that one wrote. Two registries can then never hand out the same id.
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, transactional_id=f"{self.topic}.writer", acks="all", enable_idempotence=True)
        await self._producer.start()
        await self._replay()

    async def stop(self) -> None:
        if self._producer:
            await self._producer.stop()

    async def _replay(self) -> None:
        async for msg in read_to_end(self.bootstrap, self.topic, [0], committed_only=True):
            self.state.apply(json.loads(msg.key), json.loads(msg.value) if msg.value is not None else None)

    async def _write(self, key: dict, value: dict) -> None:
        assert self._producer is not None, "store not started"
        try:
            async with self._producer.transaction():
                await self._producer.send_and_wait(self.topic, key=json.dumps(key).encode(), value=json.dumps(value, ensure_ascii=False).encode())
        except ProducerFenced as exc:
            raise RegistryError(503, 50003, f"another schema registry process took over {self.topic}; this one no longer writes (restart it or use the other)") from exc
        self.state.apply(key, value)

    # -- operations --------------------------------------------------------------------------
    async def register(self, subject: str, schema_str: str, schema_type: str = "AVRO") -> int:
        if schema_type not in ("AVRO", None):
            raise RegistryError(422, 42201, f"Invalid schema: only AVRO schemas are supported, not {schema_type}")
        norm = normalise(schema_str)
        async with self._lock:
            existing = self.state.find(subject, norm)
            if existing:
                return existing.id
            problems = self.state.problems(subject, norm)
            if problems:
                raise RegistryError(409, 409, f"Schema being registered is incompatible with an earlier schema for subject \"{subject}\" ({self.state.level(subject)}): " + "; ".join(map(str, problems)))
            schema_id = self.state.ids_by_schema.get(norm) or (max(self.state.schemas, default=0) + 1)
            version = max((v.version for v in self.state.subjects.get(subject, [])), default=0) + 1
            await self._write(
                {"keytype": "SCHEMA", "subject": subject, "version": version},
                {"subject": subject, "version": version, "id": schema_id, "schema": norm, "schemaType": "AVRO", "deleted": False},
            )
            return schema_id

    async def set_level(self, subject: str | None, level: str) -> None:
        if level not in COMPATIBILITY_LEVELS:
            raise RegistryError(422, 42203, f"Invalid compatibility level {level!r}; one of {sorted(COMPATIBILITY_LEVELS)}")
        async with self._lock:
            await self._write({"keytype": "CONFIG", "subject": subject}, {"compatibilityLevel": level})

    async def delete_subject(self, subject: str) -> list[int]:
        async with self._lock:
            versions = self.state.live(subject)
            if not versions:
                raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
            for v in versions:
                await self._write(
                    {"keytype": "SCHEMA", "subject": subject, "version": v.version},
                    {"subject": subject, "version": v.version, "id": v.id, "schema": v.schema, "schemaType": "AVRO", "deleted": True},
                )
            return [v.version for v in versions]
