"""Wire connectors from settings: which mappings run against which databases, the long-running loop, and --dry-run."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from casehub.kafka_admin import ensure_topics
from casehub.logs import get_logger
from casehub.settings import Settings
from connectors.adapter import MappedAdapter
from connectors.base import PollingConnector, as_dicts, map_rows
from connectors.checkpoints import KafkaCheckpointStore
from connectors.mapping import Mapping, builtin_mappings, load_mapping
from connectors.privacy import Protector
from connectors.rowstate import RowState


@dataclass(frozen=True)
class Source:
    mapping: Mapping
    url: str


def mappings(settings: Settings) -> dict[str, Mapping]:
    """Built-in mappings plus those in CASEHUB_MAPPING_DIR (which win on a name clash)."""
    found = builtin_mappings()
    if settings.mapping_dir:
        for path in sorted(Path(settings.mapping_dir).glob("*.toml")):
            m = load_mapping(path)
            found[m.name] = m
    return found


def agency_topic(settings: Settings, agency: str) -> str:
    t = settings.topics
    return {"MEDIATION": t.mediation, "NEGOTIATION": t.mediation, "ARBITRATION": t.arbitration, "COURT": t.court, "INSPECTION": t.inspection}[agency]


def resolve(settings: Settings, names: list[str] | None = None) -> list[Source]:
    """The sources to run: the named ones (all must have a database) or every mapping whose database is configured or sampled.

    Raises:
        LookupError: a named connector has no mapping or no database.
    """
    available = mappings(settings)
    wanted = names or ([n.strip() for n in settings.connectors.split(",") if n.strip()] if settings.connectors else None)
    out = []
    for name in wanted or sorted(available):
        if name not in available:
            raise LookupError(f"no mapping named {name!r}; known: {', '.join(sorted(available))}")
        mapping = available[name]
        url = mapping.url or settings.database_url(mapping.database)
        if url is None:
            if wanted:
                raise LookupError(f"connector {name!r} has no database: set CASEHUB_{mapping.database.upper()}_DB_URL (or `url` in {mapping.path})")
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
        except Exception as exc:  # noqa: BLE001 - any failure: report it and restart from the checkpoint
            log.error("connector failed; restarting", connector=connector.adapter.name, error=f"{type(exc).__name__}: {exc}", retry_in=backoff)
            try:
                await asyncio.wait_for(stop.wait(), backoff)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, max_backoff)


def dry_run(settings: Settings, names: list[str] | None, limit: int) -> list[dict]:
    """Map the first `limit` rows of each source without publishing; one report line per row."""
    protector = Protector(settings.hmac_secret)
    report = []
    for source in resolve(settings, names):
        engine = sa.create_engine(source.url)
        adapter = MappedAdapter(source.mapping, protector).bind(engine)
        if adapter.index_advice():
            print(f"warning: {adapter.index_advice()}", file=sys.stderr)
        with engine.connect() as conn:
            rows = as_dicts(conn.execute(sa.select(adapter.table).order_by(adapter.table.c[adapter.cursor], *adapter.key_order()).limit(limit)))
            adapter.attach_related(conn, rows)
        for row, outcome in zip(rows, map_rows(adapter, rows, dt.datetime.now(dt.timezone.utc))):
            line = {"connector": source.mapping.name, "record_id": outcome.record_id, "version": outcome.version}
            if outcome.error:
                line.update(ok=False, field=outcome.error.field, kind=outcome.error.kind, reason=outcome.error.reason, row=adapter.describe(row))
            else:
                line.update(ok=True, event=outcome.mapped.event, identities=len(outcome.mapped.identities))
            report.append(line)
        engine.dispose()
    return report


def render_dry_run(report: list[dict]) -> str:
    lines = []
    for line in report:
        head = f"{line['connector']} record {line['record_id']} (version {line['version']})"
        if line["ok"]:
            event = line["event"]
            lines.append(f"OK    {head} -> {event['event_type']} refs={[r['number'] for r in event['refs']]} parties={len(event['parties'])} "
                         f"claims={len(event['claims'])} identities to restricted topic={line['identities']}")
        else:
            lines.append(f"ERROR {head}: field {line['field']}: {line['reason']} [{line['kind']}]\n      row: {line['row']}")
    bad = sum(1 for line in report if not line["ok"])
    lines.append(f"{len(report)} rows mapped: {len(report) - bad} ok, {bad} would go to the dead-letter topic")
    return "\n".join(lines)


def dry_run_json(report: list[dict]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, default=str)


async def run_connectors(settings: Settings, names: list[str] | None = None, stop: asyncio.Event | None = None, codec=None) -> dict:
    """Run every resolved source until `stop` is set; returns the connectors' statistics."""
    from casehub.services import topic_specs
    from schemas.codec import AvroCodec
    from schemas.registry.client import RegistryClient

    log = get_logger("connect")
    sources = resolve(settings, names)
    if not sources:
        raise LookupError("no connector has a database: set CASEHUB_MEDIATION_DB_URL (and the others), or run `casehub sample`")
    codec = codec or AvroCodec(RegistryClient(settings.registry_url), prefix=settings.topic_prefix)
    t = settings.topics
    await ensure_topics(settings.bootstrap, topic_specs(settings), settings.replication_factor)
    for topic in {agency_topic(settings, s.mapping.agency) for s in sources} | {t.deadletter, t.identities}:
        await asyncio.to_thread(codec.register, topic)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    checkpoints = KafkaCheckpointStore(settings.bootstrap, t.connector_offsets, settings.replication_factor)
    await checkpoints.start(producer)
    protector = Protector(settings.hmac_secret)
    connectors = []
    for source in sources:
        engine = sa.create_engine(source.url)
        adapter = MappedAdapter(source.mapping, protector).bind(engine)
        connectors.append(PollingConnector(
            adapter, engine, codec, producer, checkpoints, RowState(settings.bootstrap, t.connector_rows, adapter.name, settings.replication_factor),
            agency_topic(settings, adapter.agency), t.deadletter, t.identities,
            batch_size=settings.connector_batch_size, poll_interval=settings.poll_interval, lag_seconds=settings.connector_lag_seconds,
            reconcile_every=settings.reconcile_every))
        if settings.connector_workers:
            from connectors.parallel import MappingPool

            connectors[-1].pool = MappingPool(settings.connector_workers, str(source.mapping.path), settings.hmac_secret, codec,
                                              (connectors[-1].topic, t.deadletter, t.identities), db_url=source.url)
            await asyncio.to_thread(connectors[-1].pool.warm)
        log.info("connector configured", connector=adapter.name, url=engine.url.render_as_string(hide_password=True), table=source.mapping.table)
        if adapter.index_advice():
            log.warning("cursor column not indexed", connector=adapter.name, advice=adapter.index_advice())
    if settings.metrics_port:
        from connectors import metrics

        metrics.serve(settings.web_host, settings.metrics_port)
        log.info("connector metrics", url=f"http://{settings.web_host}:{settings.metrics_port}/metrics")
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
        for c in connectors:
            if c.pool:
                c.pool.close()
        await producer.stop()
    return {c.adapter.name: c.stats for c in connectors}
