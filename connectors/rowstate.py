"""What a connector has already published: row id -> row version, kept in a compacted Kafka topic.

It lets a connector re-read a window of rows without publishing them twice, notice rows that changed
or appeared behind its cursor (late commits), and notice rows that disappeared (deletes).
"""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from casehub.kafka_admin import TopicSpec, ensure_topics, read_to_end

SEP = "\x1f"


class RowState:
    """In-memory map of published row versions for one connector, persisted per row (tombstone on delete)."""

    def __init__(self, bootstrap: str, topic: str, connector: str, replication: int = 1):
        self.bootstrap, self.topic, self.connector, self.replication = bootstrap, topic, connector, replication
        self.versions: dict[str, dict] = {}  # record id -> {"v": version, "refs": [...], "dead": bool}
        self._producer: AIOKafkaProducer | None = None

    async def start(self, producer: AIOKafkaProducer) -> None:
        await ensure_topics(self.bootstrap, [TopicSpec(self.topic, 1, {"cleanup.policy": "compact"})], self.replication)
        self._producer = producer
        mine = self.connector + SEP
        async for msg in read_to_end(self.bootstrap, self.topic, [0]):
            key = msg.key.decode()
            if not key.startswith(mine):
                continue
            if msg.value is None:
                self.versions.pop(key[len(mine):], None)
            else:
                self.versions[key[len(mine):]] = json.loads(msg.value)

    def is_new(self, record_id: str, version: str) -> bool:
        state = self.versions.get(record_id)
        return state is None or state["v"] != version

    async def record(self, changes: dict[str, dict | None], encoded: dict[str, bytes] | None = None) -> None:
        """Persist published versions (None: deleted) and wait until Kafka has them.

        `encoded` may hold the entries already serialised (worker processes do that), by record id.
        """
        from connectors.batches import BatchPublisher

        assert self._producer is not None, "row state not started"
        out, encoded, prefix = BatchPublisher(self._producer), encoded or {}, self.connector + SEP
        for record_id, version in changes.items():
            value = None if version is None else (encoded.get(record_id) or json.dumps(version, ensure_ascii=False).encode())
            await out.add(self.topic, (prefix + record_id).encode(), value)
        await out.flush()
        for record_id, version in changes.items():
            if version is None:
                self.versions.pop(record_id, None)
            else:
                self.versions[record_id] = version
