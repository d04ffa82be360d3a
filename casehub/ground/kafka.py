"""Kafka clients for every component: how they are configured, waiting for a broker, creating topics, reading a topic
to its end."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from casehub.ground.topics import TopicSpec


class TopicMismatch(RuntimeError):
    """An existing state topic is not what the hub relies on; the message says what differs and the fix."""


@dataclass(frozen=True)
class KafkaClients:
    """How every Kafka client of a process is made: the bootstrap servers and the client options shared
    by producers, consumers and admin clients (the one place a connection is configured).

    Functions of this module take a KafkaClients or, for convenience, a bootstrap string.
    """

    bootstrap: str
    options: dict = field(default_factory=dict, repr=False)  # may hold a SASL password: never printed

    def common(self, **overrides) -> dict:
        return {"bootstrap_servers": self.bootstrap, **self.options, **overrides}

    def producer(self, profile: str = "default", **overrides) -> AIOKafkaProducer:
        """A producer (not started) with one of the hub's profiles (PRODUCER_PROFILES), overrides winning."""
        return AIOKafkaProducer(**self.common(**{**PRODUCER_PROFILES[profile], **overrides}))

    def consumer(self, *topics: str, **options) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(*topics, **self.common(**options))

    def admin(self, **options) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self.common(**options))


# Producer settings of the hub, by use. Every producer waits for all in-sync replicas and is idempotent.
PRODUCER_PROFILES: dict[str, dict] = {
    "default": {"acks": "all", "enable_idempotence": True, "linger_ms": 5},
    # connectors and benchmarks publish batches of thousands of messages: larger batches, fewer requests
    "bulk": {"acks": "all", "enable_idempotence": True, "linger_ms": 5, "max_batch_size": 256 * 1024},
}


def clients(kafka: KafkaClients | str) -> KafkaClients:
    return kafka if isinstance(kafka, KafkaClients) else KafkaClients(kafka)


def clients_for(settings) -> KafkaClients:
    """The KafkaClients of a process, from its settings: bootstrap servers and security (SASL, TLS)."""
    return KafkaClients(settings.bootstrap, security_options(settings))


def security_options(settings) -> dict:
    """aiokafka's options for the cluster's security settings (CASEHUB_KAFKA_SECURITY_PROTOCOL and the rest):
    the same for producers, consumers and admin clients (the stream worker's too)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    return options


def ssl_context(settings):
    """A TLS context that checks the brokers' certificates (CA file or the system's) and, if given, presents the
    client certificate."""
    from aiokafka.helpers import create_ssl_context

    return create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        password=settings.kafka_ssl_key_password,
    )


async def broker_answers(kafka: KafkaClients | str, timeout: float = 3.0) -> bool:
    """True if a broker at `bootstrap` answers a metadata request within `timeout` seconds."""
    admin = clients(kafka).admin(request_timeout_ms=int(timeout * 1000))
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # "connection refused" while a broker starts is the expected answer, not an error
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.describe_cluster(), timeout)
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        try:
            await admin.close()
        except Exception:
            pass
        quiet.setLevel(level)


async def wait_for_broker(kafka: KafkaClients | str, timeout: float = 60.0, alive=lambda: True) -> None:
    """Poll until the broker answers metadata requests, `timeout` seconds at most.

    Args:
        alive: called between polls; returning False (e.g. the broker process died) stops the wait early.
    Raises:
        TimeoutError: no answer in time, or `alive()` turned False.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await broker_answers(kafka, timeout=min(3.0, max(0.5, deadline - time.monotonic()))):
            return
        if not alive():
            raise TimeoutError(f"the broker process at {clients(kafka).bootstrap} exited before it answered")
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no Kafka broker answered at {clients(kafka).bootstrap} within {timeout:.0f}s")


async def ensure_topics(kafka: KafkaClients | str, specs: list[TopicSpec], replication: int = 1) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Existing topics are left as they are.

    Args:
        replication: replicas per partition (CASEHUB_REPLICATION_FACTOR; 1 for the local single node).
    """
    admin = clients(kafka).admin()
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await _check_strict(admin, [s for s in specs if s.strict and s.name in existing])
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name, num_partitions=s.partitions, replication_factor=replication, topic_configs=s.config
                    )
                    for s in missing
                ]
            )
        except TopicAlreadyExistsError:
            pass  # created by another process meanwhile
        return [s.name for s in missing]
    finally:
        await admin.close()


async def _check_strict(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Raise TopicMismatch when an existing strict topic has other partitions or settings than its spec."""
    if not specs:
        return
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    problems = []
    described = {t["topic"]: t for t in await admin.describe_topics([s.name for s in specs])}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs])
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            configs[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
    for spec in specs:
        partitions = len(described.get(spec.name, {}).get("partitions", []))
        if partitions != spec.partitions:
            problems.append(
                f"topic {spec.name} has {partitions} partitions, the hub needs {spec.partitions} "
                f"(it reads state from partition 0; recreate the topic with {spec.partitions})"
            )
        for key, want in spec.config.items():
            have = configs.get(spec.name, {}).get(key)
            if have != want:
                problems.append(
                    f"topic {spec.name} has {key}={have}, the hub needs {key}={want} (kafka-configs.sh --alter "
                    f"--entity-type topics --entity-name {spec.name} --add-config {key}={want})"
                )
    if problems:
        raise TopicMismatch("; ".join(problems))


async def read_to_end(
    kafka: KafkaClients | str, topic: str, partitions: list[int] | None = None, committed_only: bool = False
):
    """Yield every message now in `topic` (given partitions, default all), from the beginning to the current end.

    How the hub rebuilds state kept in compacted topics (registry, checkpoints, row state) at start.
    """
    consumer = clients(kafka).consumer(
        enable_auto_commit=False, isolation_level="read_committed" if committed_only else "read_uncommitted"
    )
    await consumer.start()
    try:
        if partitions is None:
            cluster = await consumer._client.fetch_all_metadata()
            partitions = sorted(cluster.partitions_for_topic(topic) or [])
        parts = [TopicPartition(topic, p) for p in partitions]
        if not parts:
            raise LookupError(f"topic {topic} does not exist")
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            idle = 0
            while await consumer.position(tp) < ends[tp]:
                batch = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
                for msg in batch:
                    if msg.offset < ends[tp]:
                        yield msg
                # transaction markers take offsets but are never returned: stop once nothing more comes
                idle = 0 if batch else idle + 1
                if idle >= 3:
                    break
    finally:
        await consumer.stop()
