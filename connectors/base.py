"""The polling connector: reads new rows after a persisted cursor, maps them, publishes events and dead letters.

Adapters supply a source query and a pure `map_row`; this class owns the loop, batching, retries,
checkpoints (in Kafka), dead letters and graceful stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Protocol

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from casehub.logs import get_logger
from connectors.checkpoints import KafkaCheckpointStore


class MappingError(Exception):
    """A row cannot become an event. Names the field, the reason and the dead-letter error kind."""

    def __init__(self, field: str | None, reason: str, kind: str = "OTHER"):
        super().__init__(f"{field or 'row'}: {reason}")
        self.field, self.reason, self.kind = field, reason, kind


@dataclass
class Mapped:
    """One row's output: the event for the agency topic and the full identities for the restricted topic."""

    event: dict
    identities: list[dict] = field(default_factory=list)


class Adapter(Protocol):
    name: str  # connector name: checkpoint key and consumer of the cursor
    system: str  # source system id, as written in events
    agency: str  # MEDIATION | ARBITRATION | COURT | INSPECTION

    def query(self, cursor: tuple | None, limit: int) -> sa.Select: ...

    def cursor_of(self, row: dict) -> tuple: ...

    def record_id(self, row: dict) -> str: ...

    def map_row(self, row: dict, ingested_at: dt.datetime) -> Mapped: ...


def event_id(system: str, record_id: str, version: str) -> str:
    """Deterministic event id: the same row version always gives the same id, so re-reads are recognised."""
    digest = hashlib.sha256(f"{system}\x1f{record_id}\x1f{version}".encode("utf-8")).hexdigest()[:24]
    return f"{system}:{record_id}:{digest}"


def dead_letter(stage: str, topic: str, kind: str, reason: str, *, system=None, record_id=None, field=None, payload_text=None, payload=None, partition=None, offset=None) -> dict:
    """A DeadLetter record (schemas/avro/cn.casehub.DeadLetter.avsc) with a deterministic id."""
    ident = hashlib.sha256(f"{stage}|{topic}|{system}|{record_id}|{field}|{reason}|{partition}|{offset}".encode("utf-8")).hexdigest()[:32]
    return {
        "dead_letter_id": ident,
        "failed_at": dt.datetime.now(dt.timezone.utc),
        "stage": stage,
        "error_kind": kind,
        "reason": reason,
        "source_system": system,
        "record_id": record_id,
        "field": field,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "payload": payload,
        "payload_text": payload_text,
    }


class PollingConnector:
    """Runs one adapter against one database until stopped.

    Args:
        adapter: what to read and how to map it.
        engine: SQLAlchemy engine of the agency database.
        codec: schemas.codec.AvroCodec.
        topic, deadletter_topic, identity_topic: where events, dead letters and full identities go.
        checkpoints: KafkaCheckpointStore (started by `run`).
    """

    def __init__(self, adapter: Adapter, engine: sa.Engine, codec, producer: AIOKafkaProducer, checkpoints: KafkaCheckpointStore,
                 topic: str, deadletter_topic: str, identity_topic: str, batch_size: int = 500, poll_interval: float = 1.0,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)):
        self.adapter, self.engine, self.codec, self.producer, self.checkpoints = adapter, engine, codec, producer, checkpoints
        self.topic, self.deadletter_topic, self.identity_topic = topic, deadletter_topic, identity_topic
        self.batch_size, self.poll_interval, self.clock = batch_size, poll_interval, clock
        self.log = get_logger("connector").bind(connector=adapter.name, topic=topic)
        self.stats = {"rows": 0, "events": 0, "dead_letters": 0}
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def _retrying(self, fn, *args):
        async for attempt in AsyncRetrying(retry=retry_if_exception_type((sa.exc.OperationalError, sa.exc.InterfaceError, KafkaError, OSError)),
                                           wait=wait_exponential(multiplier=0.5, max=10), stop=stop_after_delay(300), reraise=True):
            with attempt:
                return await fn(*args)

    def _fetch(self, cursor: tuple | None) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(self.adapter.query(cursor, self.batch_size))]

    async def run_once(self, cursor: tuple | None) -> tuple[tuple | None, int]:
        """Read, map and publish one batch after `cursor`; return the new cursor and the number of rows read."""
        rows = await self._retrying(asyncio.to_thread, self._fetch, cursor)
        if not rows:
            return cursor, 0
        now = self.clock()
        sends = []
        for row in rows:
            rid = self.adapter.record_id(row)
            try:
                mapped = self.adapter.map_row(row, now)
            except MappingError as exc:
                self.stats["dead_letters"] += 1
                self.log.warning("row to dead letters", record_id=rid, field=exc.field, reason=exc.reason)
                letter = dead_letter(f"connector:{self.adapter.name}", self.topic, exc.kind, exc.reason, system=self.adapter.system, record_id=rid, field=exc.field, payload_text=self.adapter.describe(row) if hasattr(self.adapter, "describe") else None)
                sends.append(await self.producer.send(self.deadletter_topic, key=rid.encode(), value=self.codec.encode(self.deadletter_topic, letter)))
                continue
            key = mapped.event.get("_key") or rid
            event = {k: v for k, v in mapped.event.items() if not k.startswith("_")}
            sends.append(await self.producer.send(self.topic, key=key.encode(), value=self.codec.encode(self.topic, event)))
            for ident in mapped.identities:
                sends.append(await self.producer.send(self.identity_topic, key=ident["id_hash"].encode(), value=self.codec.encode(self.identity_topic, ident)))
            self.stats["events"] += 1
        # Checkpoint only after every send of the batch is acknowledged: a crash re-reads, never skips.
        await asyncio.gather(*sends)
        new_cursor = self.adapter.cursor_of(rows[-1])
        await self.checkpoints.save(self.adapter.name, {"cursor": list(new_cursor), "saved_at": now.isoformat()})
        self.stats["rows"] += len(rows)
        return new_cursor, len(rows)

    async def run(self) -> None:
        saved = await self.checkpoints.load(self.adapter.name)
        cursor = tuple(saved["cursor"]) if saved else None
        self.log.info("connector started", cursor=cursor)
        while not self._stop.is_set():
            cursor, n = await self.run_once(cursor)
            if n:
                self.log.info("batch published", batch=n, cursor=cursor, **self.stats)
            if n < self.batch_size:
                try:
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval)
                except asyncio.TimeoutError:
                    pass
        self.log.info("connector stopped", **self.stats)
