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


def run_connect(settings: Settings, names: list[str] | None = None) -> None:
    from connectors.runner import run_connectors

    async def main():
        log = get_logger("connect")
        stop = asyncio.Event()
        await _until_signal([stop.set])
        try:
            stats = await run_connectors(settings, names, stop)
        except LookupError as exc:
            raise SystemExit(f"connect: {exc}") from exc
        log.info("connect stopped", **{k: v for k, v in stats.items()})

    asyncio.run(main())


async def _producer_and_codec(settings: Settings):
    from schemas.codec import AvroCodec
    from schemas.registry.client import RegistryClient

    await ensure_topics(settings.bootstrap, topic_specs(settings), settings.replication_factor)
    codec = AvroCodec(RegistryClient(settings.registry_url), prefix=settings.topic_prefix)
    await asyncio.to_thread(codec.register_all)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    return producer, codec


def run_intake(settings: Settings) -> None:
    from connectors.intake import serve

    async def main():
        log = get_logger("intake")
        producer, codec = await _producer_and_codec(settings)
        runner = await serve(settings, codec, producer)
        log.info("push intake listening", url=f"http://{settings.web_host}:{settings.intake_port}/intake/<source>")
        stopped = await _until_signal([])
        await stopped.wait()
        await runner.cleanup()
        await producer.stop()

    asyncio.run(main())


def run_import(settings: Settings, source: str, path: str, encoding: str, sheet: str | None) -> list[dict]:
    """Import one spreadsheet through a source's mapping; returns the per-record results."""
    from connectors.intake import IntakeProcessor, read_table_file

    async def main():
        rows = read_table_file(path, encoding, sheet)
        producer, codec = await _producer_and_codec(settings)
        try:
            processor = IntakeProcessor(settings, codec, producer)
            results = []
            for i in range(0, len(rows), 1000):
                results += await processor.submit(source, rows[i:i + 1000], "import")
                print(f"casehub: imported {min(i + 1000, len(rows))}/{len(rows)} rows", flush=True)
            return results
        finally:
            await producer.stop()

    return asyncio.run(main())
