"""Connector checkpoints kept in a compacted Kafka topic, so a restarted or moved connector resumes where it stopped."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from casehub.kafka_admin import ensure_topics, read_to_end, state_topic


class KafkaCheckpointStore:
    """Last committed cursor per connector name (key) in one compacted partition."""

    def __init__(self, bootstrap: str, topic: str, replication: int = 1):
        self.bootstrap, self.topic, self.replication = bootstrap, topic, replication
        self._producer: AIOKafkaProducer | None = None

    async def start(self, producer: AIOKafkaProducer) -> None:
        await ensure_topics(self.bootstrap, [state_topic(self.topic)], self.replication)
        self._producer = producer

    async def load(self, name: str) -> dict | None:
        """The newest checkpoint saved under `name`, or None (read to the end of the topic)."""
        latest = None
        async for msg in read_to_end(self.bootstrap, self.topic, [0]):
            if msg.key and msg.key.decode() == name:
                latest = json.loads(msg.value) if msg.value is not None else None
        return latest

    async def save(self, name: str, checkpoint: dict) -> None:
        assert self._producer is not None, "checkpoint store not started"
        await self._producer.send_and_wait(self.topic, key=name.encode(), value=json.dumps(checkpoint, ensure_ascii=False, default=str).encode())
