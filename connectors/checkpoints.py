"""Connector checkpoints kept in a compacted Kafka topic, so a restarted or moved connector resumes where it stopped."""

from __future__ import annotations

import json

from casehub.ground.kafka import KafkaClients, clients, ensure_topics, read_to_end
from casehub.ground.publish import Publisher
from casehub.ground.topics import state_topic


class KafkaCheckpointStore:
    """Last committed cursor per connector name (key) in one compacted partition."""

    def __init__(self, kafka: KafkaClients | str, topic: str, replication: int = 1):
        self.kafka, self.topic, self.replication = clients(kafka), topic, replication
        self._publisher: Publisher | None = None

    async def start(self, publisher: Publisher) -> None:
        await ensure_topics(self.kafka, [state_topic(self.topic)], self.replication)
        self._publisher = publisher

    async def load(self, name: str) -> dict | None:
        """The newest checkpoint saved under `name`, or None (read to the end of the topic)."""
        latest = None
        async for msg in read_to_end(self.kafka, self.topic, [0]):
            if msg.key and msg.key.decode() == name:
                latest = json.loads(msg.value) if msg.value is not None else None
        return latest

    async def save(self, name: str, checkpoint: dict) -> None:
        assert self._publisher is not None, "checkpoint store not started"
        await self._publisher.send(
            self.topic, name.encode(), json.dumps(checkpoint, ensure_ascii=False, default=str).encode()
        )
