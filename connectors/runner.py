"""Run the configured connectors: which mappings run against which databases, each supervised, until stopped."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from casehub.connectors.mapping import Mapping, available_mappings
from casehub.connectors.polling import PollingConnector
from casehub.connectors.wiring import build_connector
from casehub.ground.kafka import clients_for, ensure_topics
from casehub.ground.logs import get_logger
from casehub.ground.publish import KafkaPublisher
from casehub.ground.secrets import hmac_secret
from casehub.ground.settings import Settings
from casehub.schemas.codec import codec_for


@dataclass(frozen=True)
class Source:
    mapping: Mapping
    url: str


def resolve(settings: Settings, names: list[str] | None = None) -> list[Source]:
    """The sources to run: the named ones (all must have a database) or every mapping whose database is configured or
    sampled.

    Raises:
        LookupError: a named connector has no mapping or no database.
    """
    available = available_mappings(settings.mapping_dir)
    wanted = names or (
        [n.strip() for n in settings.connectors.split(",") if n.strip()] if settings.connectors else None
    )
    out = []
    for name in wanted or sorted(available):
        if name not in available:
            raise LookupError(f"no mapping named {name!r}; known: {', '.join(sorted(available))}")
        mapping = available[name]
        url = mapping.url or settings.database_url(mapping.database)
        if url is None:
            if wanted:
                raise LookupError(
                    f"connector {name!r} has no database: set CASEHUB_{mapping.database.upper()}_DB_URL (or `url` in "
                    f"{mapping.path})"
                )
            continue
        out.append(Source(mapping, url))
    return out


async def supervise(connector: PollingConnector, stop: asyncio.Event, log, max_backoff: float = 60.0) -> None:
    """Run one connector; if it fails, log why and start it again (it resumes from Kafka) after a growing pause.

    One connector's broken database or unexpected row must not stop the others.
    """
    backoff = 1.0
    while not stop.is_set():
        try:
            await connector.run()
            return
        except Exception as exc:
            log.error(
                "connector failed; restarting",
                connector=connector.adapter.name,
                error=f"{type(exc).__name__}: {exc}",
                retry_in=backoff,
            )
            try:
                await asyncio.wait_for(stop.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, max_backoff)


async def run_connectors(
    settings: Settings, names: list[str] | None = None, stop: asyncio.Event | None = None, codec=None
) -> dict:
    """Run every resolved source until `stop` is set; returns the connectors' statistics."""
    log = get_logger("connect")
    sources = resolve(settings, names)
    if not sources:
        raise LookupError(
            "no connector has a database: set CASEHUB_MEDIATION_DB_URL (and the others), or run `casehub sample`"
        )
    hmac_secret(
        settings, {s.mapping.name: s.url for s in sources}, log
    )  # before any connection: refuse or say which key
    codec = codec or codec_for(settings)
    kafka, t = clients_for(settings), settings.topics
    await ensure_topics(kafka, t.specs(settings.partitions), settings.replication_factor)
    for topic in {t.for_agency(s.mapping.agency) for s in sources} | {t.deadletter, t.identities}:
        await asyncio.to_thread(codec.register, topic)
    producer = kafka.producer("bulk")
    await producer.start()
    publisher = KafkaPublisher(producer)
    connectors = []
    try:
        for source in sources:
            connector = build_connector(settings, source.mapping, source.url, codec, publisher)
            connectors.append(connector)
            log.info(
                "connector configured",
                connector=source.mapping.name,
                url=connector.engine.url.render_as_string(hide_password=True),
                table=source.mapping.table,
                workers=connector.pool.workers if connector.pool else 0,
            )
            if connector.adapter.index_advice():
                log.warning(
                    "cursor column not indexed", connector=source.mapping.name, advice=connector.adapter.index_advice()
                )
        if settings.metrics_port:
            from casehub.connectors import metrics

            metrics.serve(settings.metrics_host, settings.metrics_port)
            log.info("connector metrics", url=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics")
        stop = stop or asyncio.Event()

        async def stopper():
            await stop.wait()
            for c in connectors:
                c.stop()

        watcher = asyncio.create_task(stopper())
        try:
            await asyncio.gather(*(supervise(c, stop, log) for c in connectors))
        finally:
            watcher.cancel()
    finally:
        for c in connectors:
            c.close()
        await producer.stop()
    return {c.adapter.name: c.stats for c in connectors}
