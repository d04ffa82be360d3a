"""Registry state (subjects, versions, ids, compatibility config) kept in a compacted Kafka topic, and the operations
on it that every registry store shares (register, delete, configure, register the contract, repair).

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
from casehub.schemas.registry.guard import Conflict, ContractGuard
from casehub.schemas.registry.state import RegistryError, RegistryState, Version, normalise_typed


class SchemaStore:
    """The registry's operations over a RegistryState; subclasses persist each record in `_persist`.

    Args:
        guard: casehub's own subjects and the rules protecting them (None: no subject is protected).
    """

    def __init__(self, guard: ContractGuard | None = None):
        self.state = RegistryState()
        self.guard = guard or ContractGuard({})
        self._lock = asyncio.Lock()

    async def _persist(self, key: dict, value: dict) -> None:
        raise NotImplementedError

    async def _write(self, key: dict, value: dict) -> None:
        await self._persist(key, value)
        self.state.apply(key, value)

    async def _delete_version(self, v: Version) -> None:
        await self._write(
            {"keytype": "SCHEMA", "subject": v.subject, "version": v.version},
            {"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema, "schemaType": "AVRO"}
            | {"deleted": True},
        )

    # -- operations --------------------------------------------------------------------------
    async def register(self, subject: str, schema_str: str, schema_type: str = "AVRO", contract: bool = False) -> int:
        """Register a schema under a subject; return its id.

        Args:
            contract: the registry registering casehub's own schema (the guard does not apply).
        Raises:
            RegistryError: 422 invalid schema, 409 incompatible with the subject or with casehub's contract.
        """
        norm = normalise_typed(schema_str, schema_type)
        async with self._lock:
            if not contract and self.state.find(subject, norm) is None:
                self.guard.check_register(subject, norm)
            schema_id, record = self.state.registration(subject, norm)
            if record is not None:
                await self._write(*record)
            return schema_id

    async def set_level(self, subject: str | None, level) -> None:
        if not isinstance(level, str) or level not in COMPATIBILITY_LEVELS:
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
            self.guard.check_delete(subject)
            for v in versions:
                await self._delete_version(v)
            return [v.version for v in versions]

    async def delete_version(self, subject: str, version: Version) -> int:
        async with self._lock:
            self.guard.check_delete(subject)
            await self._delete_version(version)
            return version.version

    async def register_contract(self) -> list[Conflict]:
        """Register every contract subject's schema (what the registry does at start) and return the conflicts,
        which leave the registry serving: one broken subject must not take the hub down."""
        for subject, mine in self.guard.subjects.items():
            try:
                await self.register(subject, mine.schema, contract=True)
            except RegistryError:
                pass  # reported below, with both versions named
        return self.conflicts()

    def conflicts(self) -> list[Conflict]:
        return self.guard.conflicts(self.state)

    async def repair(self) -> list[dict]:
        """Restore the contract in every conflicting subject: soft-delete the versions the contract's schema cannot
        read or be read by, then register the contract's schema again (it keeps its id). Returns what was done."""
        done = []
        for conflict in self.conflicts():
            subject = conflict.subject
            async with self._lock:
                deleted = []
                for v in self.guard.repair_plan(self.state, subject):
                    await self._delete_version(v)
                    deleted.append({"version": v.version, "id": v.id})
            entry = {"subject": subject, "record": conflict.record, "deleted_versions": deleted}
            try:
                entry["contract_id"] = await self.register(subject, self.guard.subjects[subject].schema, contract=True)
                entry["contract_version"] = self.state.find(subject, self.guard.subjects[subject].schema).version
            except RegistryError as exc:
                entry["error"] = exc.message
            done.append(entry)
        return done


class KafkaSchemaStore(SchemaStore):
    """The store persisted in a compacted, single-partition Kafka topic."""

    def __init__(self, kafka: KafkaClients | str, topic: str, replication: int = 1, guard: ContractGuard | None = None):
        super().__init__(guard)
        self.kafka, self.topic, self.replication = clients(kafka), topic, replication
        self._producer: AIOKafkaProducer | None = None

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

    async def _persist(self, key: dict, value: dict) -> None:
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
