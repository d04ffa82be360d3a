"""Entry points of the long-running components (registry, connect, sink, web): one asyncio loop each, stopped by SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from aiokafka import AIOKafkaProducer

from casehub.kafka_admin import TopicSpec, ensure_topics
from casehub.logs import get_logger
from casehub.settings import Settings


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the hub uses, with its partitions and policy."""
    t, n = settings.topics, settings.partitions
    compact = {"cleanup.policy": "compact"}
    return [
        TopicSpec(t.mediation, n), TopicSpec(t.arbitration, n), TopicSpec(t.court, n), TopicSpec(t.inspection, n),
        TopicSpec(t.cases, n, compact),  # the latest record per case id is what consumers need
        TopicSpec(t.deadletter, 1), TopicSpec(t.identities, 1, compact), TopicSpec(t.alerts, 1),
        TopicSpec(t.confirmation_requests, 1), TopicSpec(t.confirmation_responses, 1),
    ]


async def _until_signal(stop_callbacks) -> asyncio.Event:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal():
        for cb in stop_callbacks:
            cb()
        stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return stopped


def register_contract(settings: Settings) -> dict[str, int]:
    """Register every casehub schema with the configured registry (embedded or external)."""
    from schemas.codec import AvroCodec
    from schemas.registry.client import RegistryClient

    return AvroCodec(RegistryClient(settings.registry_url), prefix=settings.topic_prefix).register_all()


def run_registry(settings: Settings) -> None:
    from schemas.registry.server import serve
    from schemas.registry.store import KafkaSchemaStore

    async def main():
        log = get_logger("registry")
        store = KafkaSchemaStore(settings.bootstrap, settings.topics.schemas, settings.replication_factor)
        runner = await serve(store, settings.registry_host, settings.registry_port)
        log.info("schema registry listening", url=settings.registry_url, topic=settings.topics.schemas)
        # The hub's own schemas are registered at start, so consumers find them before any data flows.
        ids = await asyncio.to_thread(register_contract, settings)
        log.info("contract registered", subjects=len(ids))
        stopped = await _until_signal([])
        await stopped.wait()
        await runner.cleanup()
        await store.stop()
        log.info("schema registry stopped")

    asyncio.run(main())


def run_web(settings: Settings) -> None:
    from sinks.web import serve

    async def main():
        log = get_logger("web")
        runner = await serve(settings.case_view, settings.web_host, settings.web_port)
        log.info("web view listening", url=settings.web_url)
        stopped = await _until_signal([])
        await stopped.wait()
        await runner.cleanup()

    asyncio.run(main())


def run_sink(settings: Settings) -> None:
    from schemas.codec import AvroCodec
    from schemas.registry.client import RegistryClient
    from sinks.case_view_sink import make_sink

    async def main():
        codec = AvroCodec(RegistryClient(settings.registry_url), prefix=settings.topic_prefix)
        sink = make_sink(settings, codec)
        await _until_signal([sink.stop])
        await sink.run()

    asyncio.run(main())


def run_connect(settings: Settings) -> None:
    import sqlalchemy as sa

    from connectors.adapters.mediation import MediationPlatformAdapter
    from connectors.base import PollingConnector
    from connectors.checkpoints import KafkaCheckpointStore
    from connectors.privacy import Protector
    from connectors.rowstate import RowState
    from schemas.codec import AvroCodec
    from schemas.registry.client import RegistryClient

    async def main():
        log = get_logger("connect")
        engine = sa.create_engine(settings.mediation_db)
        with engine.connect() as conn:
            if "tj_ajxx" not in sa.inspect(conn).get_table_names():
                raise SystemExit(f"connect: the mediation database {engine.url.render_as_string(hide_password=True)} has no table tj_ajxx; "
                                 "set CASEHUB_MEDIATION_DB_URL to the platform's database, or run `casehub sample` to create one")
        codec = AvroCodec(RegistryClient(settings.registry_url), prefix=settings.topic_prefix)
        t = settings.topics
        for topic in (t.mediation, t.deadletter, t.identities):
            await asyncio.to_thread(codec.register, topic)
        await ensure_topics(settings.bootstrap, topic_specs(settings), settings.replication_factor)
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
        await producer.start()
        checkpoints = KafkaCheckpointStore(settings.bootstrap, t.connector_offsets, settings.replication_factor)
        await checkpoints.start(producer)
        adapter = MediationPlatformAdapter(Protector(settings.hmac_secret))
        rowstate = RowState(settings.bootstrap, t.connector_rows, adapter.name, settings.replication_factor)
        connector = PollingConnector(adapter, engine, codec, producer, checkpoints, rowstate, t.mediation, t.deadletter, t.identities,
                                     poll_interval=settings.poll_interval, lag_seconds=settings.connector_lag_seconds, reconcile_every=settings.reconcile_every)
        await _until_signal([connector.stop])
        try:
            await connector.run()
        finally:
            await producer.stop()
            log.info("connect stopped", **connector.stats)

    asyncio.run(main())
