"""What a connector has already published: row id -> row version, kept in a compacted Kafka topic.

It lets a connector re-read a window of rows without publishing them twice, notice rows that changed
or appeared behind its cursor (late commits), and notice rows that disappeared (deletes).
"""

from __future__ import annotations

import json

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from casehub.kafka_admin import TopicSpec, ensure_topics

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
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            mine = self.connector + SEP
            while await consumer.position(tp) < end:
                for msg in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    key = msg.key.decode()
                    if not key.startswith(mine):
                        continue
                    if msg.value is None:
                        self.versions.pop(key[len(mine):], None)
                    else:
                        self.versions[key[len(mine):]] = json.loads(msg.value)
        finally:
            await consumer.stop()

    def is_new(self, record_id: str, version: str) -> bool:
        state = self.versions.get(record_id)
        return state is None or state["v"] != version

    async def record(self, changes: dict[str, dict | None]) -> None:
        """Persist published versions (None: deleted) and wait until Kafka has them."""
        from connectors.batches import BatchPublisher

        assert self._producer is not None, "row state not started"
        out = BatchPublisher(self._producer)
        for record_id, version in changes.items():
            value = None if version is None else json.dumps(version, ensure_ascii=False).encode()
            await out.add(self.topic, (self.connector + SEP + record_id).encode(), value)
        await out.flush()
        for record_id, version in changes.items():
            if version is None:
                self.versions.pop(record_id, None)
            else:
                self.versions[record_id] = version
