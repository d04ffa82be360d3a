"""Registry state (subjects, versions, ids, compatibility config) kept in a compacted Kafka topic.

The topic is the source of truth: on start the store replays it, so ids survive restarts and every
registry process reading the same topic agrees. One registry process writes at a time (as with
Confluent's leader); other hub processes talk to it over HTTP.
"""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced

from casehub.ground.kafka import KafkaClients, clients, ensure_topics, read_to_end
from casehub.ground.topics import state_topic
from casehub.schemas.compat import COMPATIBILITY_LEVELS
from casehub.schemas.registry.state import RegistryError, RegistryState, normalise_typed


class KafkaSchemaStore:
    """RegistryState persisted in a compacted, single-partition Kafka topic."""

    def __init__(self, kafka: KafkaClients | str, topic: str, replication: int = 1):
        self.kafka, self.topic, self.replication = clients(kafka), topic, replication
        self.state = RegistryState()
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await ensure_topics(self.kafka, [state_topic(self.topic)], self.replication)
        # One writer per registry topic, enforced by Kafka: starting a transactional producer with the topic's
        # transactional id fences any registry that wrote before, and replaying only afterwards includes
        # everything that one wrote. Two registries can then never hand out the same id.
        self._producer = self.kafka.producer(transactional_id=f"{self.topic}.writer", linger_ms=0)
        await self._producer.start()
        await self._replay()

    async def stop(self) -> None:
        if self._producer:
            await self._producer.stop()

    async def _replay(self) -> None:
        async for msg in read_to_end(self.kafka, self.topic, [0], committed_only=True):
            self.state.apply(json.loads(msg.key), json.loads(msg.value) if msg.value is not None else None)

    async def _write(self, key: dict, value: dict) -> None:
        assert self._producer is not None, "store not started"
        try:
            async with self._producer.transaction():
                await self._producer.send_and_wait(
                    self.topic, key=json.dumps(key).encode(), value=json.dumps(value, ensure_ascii=False).encode()
                )
        except ProducerFenced as exc:
            raise RegistryError(
                503,
                50003,
                f"another schema registry process took over {self.topic}; this one no longer writes (restart it or "
                "use the other)",
            ) from exc
        self.state.apply(key, value)

    # -- operations --------------------------------------------------------------------------
    async def register(self, subject: str, schema_str: str, schema_type: str = "AVRO") -> int:
        norm = normalise_typed(schema_str, schema_type)
        async with self._lock:
            schema_id, record = self.state.registration(subject, norm)
            if record is not None:
                await self._write(*record)
            return schema_id

    async def set_level(self, subject: str | None, level: str) -> None:
        if level not in COMPATIBILITY_LEVELS:
            raise RegistryError(
                422, 42203, f"Invalid compatibility level {level!r}; one of {sorted(COMPATIBILITY_LEVELS)}"
            )
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
                    {
                        "subject": subject,
                        "version": v.version,
                        "id": v.id,
                        "schema": v.schema,
                        "schemaType": "AVRO",
                        "deleted": True,
                    },
                )
            return [v.version for v in versions]
