"""Connector checkpoints kept in a compacted Kafka topic, so a restarted or moved connector resumes where it stopped."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from casehub.kafka_admin import TopicSpec, ensure_topics


class KafkaCheckpointStore:
    """Last committed cursor per connector name (key) in one compacted partition."""

    def __init__(self, bootstrap: str, topic: str, replication: int = 1):
        self.bootstrap, self.topic, self.replication = bootstrap, topic, replication
        self._producer: AIOKafkaProducer | None = None

    async def start(self, producer: AIOKafkaProducer) -> None:
        await ensure_topics(self.bootstrap, [TopicSpec(self.topic, 1, {"cleanup.policy": "compact"})], self.replication)
        self._producer = producer

    async def load(self, name: str) -> dict | None:
        """The newest checkpoint saved under `name`, or None (read to the end of the topic)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        latest = None
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                for msg in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    if msg.key and msg.key.decode() == name:
                        latest = json.loads(msg.value) if msg.value is not None else None
        finally:
            await consumer.stop()
        return latest

    async def save(self, name: str, checkpoint: dict) -> None:
        assert self._producer is not None, "checkpoint store not started"
        await self._producer.send_and_wait(self.topic, key=name.encode(), value=json.dumps(checkpoint, ensure_ascii=False, default=str).encode())
