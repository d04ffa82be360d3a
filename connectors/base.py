"""The polling connector: snapshot, then incremental reads that survive late commits, restarts and deletes.

Adapters describe their table (cursor column, primary key) and supply a pure `map_row`; this class owns
the loop, batching, retries, checkpoints and row state (in Kafka), dead letters and graceful stop.

Why not plain timestamp+id polling (Kafka Connect JDBC): a transaction that takes its timestamp early and
commits late lands behind the cursor and is never read. Here every poll re-reads a *lag window* behind
the watermark and publishes only row versions not yet published (the row state), and a periodic
*reconciliation* compares every key and version with the row state, which catches commits later than the
window and detects deletes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import gc
import hashlib
from typing import Callable, NamedTuple, Protocol

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from casehub.gcpause import gc_paused
from casehub.logs import get_logger
from connectors import metrics
from connectors.batches import BatchPublisher
from connectors.checkpoints import KafkaCheckpointStore
from connectors.rowstate import RowState, encode_entry, published_entry
from schemas.codec import EncodeError

MAX_FIELD_CHARS = 4000


class MappingError(Exception):
    """A row cannot become an event. Names the field, the reason and the dead-letter error kind."""

    def __init__(self, field: str | None, reason: str, kind: str = "OTHER"):
        super().__init__(f"{field or 'row'}: {reason}")
        self.field, self.reason, self.kind = field, reason, kind


class Mapped(NamedTuple):
    """One row's output: the event for the agency topic and the full identities for the restricted topic.

    Named tuples here and in Outcome: made for every row, they cost half what a dataclass does.
    """

    event: dict
    identities: list[dict] | tuple = ()


class Adapter(Protocol):
    name: str  # connector name: checkpoint and row-state key
    system: str  # source system id, as written in events
    agency: str  # MEDIATION | ARBITRATION | COURT | INSPECTION
    table: sa.Table
    pk: str  # primary-key column
    cursor: str  # last-change column (timestamp string, epoch ms...)

    def window_start(self, watermark, lag_seconds: float): ...

    def map_row(self, row: dict, ingested_at: dt.datetime) -> Mapped: ...


def event_id(system: str, record_id: str, version: str) -> str:
    """Deterministic event id: the same row version always gives the same id, so re-reads are recognised."""
    digest = hashlib.sha256(f"{system}\x1f{record_id}\x1f{version}".encode("utf-8")).hexdigest()[:24]
    return f"{system}:{record_id}:{digest}"


def dead_letter(stage: str, topic: str, kind: str, reason: str, *, system=None, record_id=None, field=None, payload_text=None, payload=None, partition=None, offset=None) -> dict:
    """A DeadLetter record (schemas/avro/cn.casehub.DeadLetter.avsc) with a deterministic id."""
    ident = hashlib.sha256(f"{stage}|{topic}|{system}|{record_id}|{field}|{reason}|{partition}|{offset}".encode("utf-8")).hexdigest()[:32]
    return {
        "dead_letter_id": ident, "failed_at": dt.datetime.now(dt.timezone.utc), "stage": stage, "error_kind": kind, "reason": reason,
        "source_system": system, "record_id": record_id, "field": field, "topic": topic, "partition": partition, "offset": offset,
        "payload": payload, "payload_text": payload_text,
    }


def as_dicts(result: sa.CursorResult) -> list[dict]:
    """Rows as plain dicts (a third faster than dict(row._mapping) per row)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, r)) for r in result.fetchall()]


def rows_by_key(adapter, conn: sa.Connection, keys: list, chunk: int = 1000) -> list[dict]:
    """The rows (with their related rows) whose primary key is in `keys`; IN lists of at most `chunk`
    keys, the lowest limit among the databases we target (Oracle-compatible ones allow 1,000)."""
    t, rows, key = adapter.table, [], adapter.key_expression()
    for i in range(0, len(keys), chunk):
        rows += as_dicts(conn.execute(sa.select(t).where(key.in_(keys[i:i + chunk]))))
    return with_related(adapter, conn, rows)


def with_related(adapter, conn: sa.Connection, rows: list[dict]) -> list[dict]:
    """The rows with their related tables' rows attached, for adapters that have related tables."""
    attach = getattr(adapter, "attach_related", None)
    return attach(conn, rows) if attach else rows


def check_row(row: dict, max_chars: int = MAX_FIELD_CHARS) -> None:
    """Checks every adapter gets for free: oversized text fields."""
    for value in row.values():  # the usual row (short text, numbers, nulls) in one pass without names
        if type(value) is str:
            if len(value) > max_chars:
                break
        elif value is not None and type(value) is not int:
            break
    else:
        return
    for name, value in row.items():
        kind = type(value)
        if value is None or kind is int:  # most columns: decided with no isinstance call
            continue
        if kind is str or kind is bytes or isinstance(value, (str, bytes, bytearray)):
            if len(value) > max_chars:
                raise MappingError(name, f"{len(value)} characters, more than the {max_chars} allowed", "OVERSIZED")
        elif kind is dict:  # child rows of related tables
            for children in value.values():
                for child in children:
                    check_row(child, max_chars)


def record_id_for(key_columns: tuple[str, ...], row: dict) -> str:
    """The text record id of a row: its key, or for a composite key the parts joined by "|" ("|" and "\\"
    inside a part escaped with a backslash, so two different keys never give the same id)."""
    if len(key_columns) == 1:
        return str(row[key_columns[0]])
    return "|".join(str(row[c]).replace("\\", "\\\\").replace("|", "\\|") for c in key_columns)


def record_id_of(adapter, row: dict) -> str:
    return adapter.record_id(row)


def canonical(value) -> str:
    """A row version as text that does not depend on the driver or the session time zone."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def version_of(adapter, row: dict) -> str:
    return canonical(row[adapter.cursor])


def deleted_event(adapter, record_id: str, state: dict, now: dt.datetime) -> dict:
    """The event reporting that a published row is gone from the source; it carries the refs the row had.

    It happened when the connector first found the row gone (`gone_at` in the row state, recorded before
    the event is published), so an event published again after a crash is the same event.
    """
    version = state.get("v", "")
    occurred = dt.datetime.fromisoformat(state["gone_at"]) if state.get("gone_at") else now
    return {
        "event_id": event_id(adapter.system, record_id, f"deleted|{version}"),
        "event_type": "SOURCE_RECORD_DELETED",
        "source": {"system": adapter.system, "agency_kind": adapter.agency, "record_id": record_id, "record_version": f"deleted|{version}"},
        "occurred_at": occurred, "ingested_at": now, "refs": state.get("refs", []), "parties": [], "claims": [], "documents": [],
        "group_dispute": False, "worker_count": None,
    }


class Outcome(NamedTuple):
    """What one row became: an event (with identities) or a dead letter."""

    record_id: str
    version: str
    mapped: Mapped | None = None
    error: MappingError | None = None


def map_rows(adapter, rows: list[dict], now: dt.datetime) -> list[Outcome]:
    """Pure: map rows, turning every failure into an outcome that names the field. Used by run and --dry-run."""
    out, seen = [], {}
    for row in rows:
        rid, version = record_id_of(adapter, row), version_of(adapter, row)
        if rid in seen and seen[rid] != version:
            out.append(Outcome(rid, version, error=MappingError(adapter.pk, f"primary key {rid} appears twice in one read with different versions", "DUPLICATE_KEY")))
            continue
        seen[rid] = version
        try:
            check_row(row)
            out.append(Outcome(rid, version, mapped=adapter.map_row(row, now)))
        except MappingError as exc:
            out.append(Outcome(rid, version, error=exc))
    return out


class Prepared(NamedTuple):
    """One row, ready to publish: its messages (topic, key, value), its row-state entry, and the error if it failed.

    A tuple of plain values so that worker processes can send it back cheaply (3-4 times cheaper to
    pickle than a dataclass). `state` is the row-state entry already serialised; for a dead letter it is
    None, because its entry keeps the refs of the row's last good version, which only the connector knows.
    """

    record_id: str
    version: str
    messages: list[tuple[str, bytes, bytes]]
    error: tuple[str | None, str, str] | None = None  # field, kind, reason
    state: bytes | None = None


def prepare_rows(adapter, codec, rows: list[dict], now: dt.datetime, topic: str, deadletter_topic: str, identity_topic: str) -> list[Prepared]:
    """Map and encode rows (CPU only, no I/O once the codec's schemas are registered): runs in worker processes too."""
    with gc_paused():
        return _prepare_rows(adapter, codec, rows, now, topic, deadletter_topic, identity_topic)


def _prepare_rows(adapter, codec, rows, now, topic, deadletter_topic, identity_topic) -> list[Prepared]:
    out = []
    for row, outcome in zip(rows, map_rows(adapter, rows, now)):
        rid = outcome.record_id
        if outcome.error is not None:
            exc = outcome.error
            letter = dead_letter(f"connector:{adapter.name}", topic, exc.kind, exc.reason, system=adapter.system,
                                 record_id=rid, field=exc.field, payload_text=adapter.describe(row)[:2000])
            # a bad version is reported once; a corrected row (new version) is read again
            out.append(Prepared(rid, outcome.version, [(deadletter_topic, rid.encode(), codec.encode(deadletter_topic, letter))],
                                (exc.field, exc.kind, exc.reason)))
            continue
        event = outcome.mapped.event
        try:
            messages = [(topic, rid.encode(), codec.encode(topic, event))]
            messages += [(identity_topic, i["id_hash"].encode(), codec.encode(identity_topic, i)) for i in outcome.mapped.identities]
        except EncodeError as exc:
            # e.g. an amount beyond Avro's long: the reason names the record type, never the row's values
            reason = f"the mapped event does not fit {exc.record} ({exc.cause})"
            letter = dead_letter(f"connector:{adapter.name}", topic, "SCHEMA_MISMATCH", reason, system=adapter.system,
                                 record_id=rid, payload_text=adapter.describe(row)[:2000])
            out.append(Prepared(rid, outcome.version, [(deadletter_topic, rid.encode(), codec.encode(deadletter_topic, letter))],
                                (None, "SCHEMA_MISMATCH", reason)))
            continue
        state = published_entry(outcome.version, event.get("refs", []))
        out.append(Prepared(rid, outcome.version, messages, None, state))
    return out


class PollingConnector:
    """Runs one adapter against one database until stopped.

    Args:
        lag_seconds: how far behind the watermark each poll re-reads; must exceed the longest write
            transaction in the source database (default 300 s).
        reconcile_every: seconds between full key/version comparisons (deletes, very late commits).
    """

    def __init__(self, adapter, engine: sa.Engine, codec, producer: AIOKafkaProducer, checkpoints: KafkaCheckpointStore, rowstate: RowState,
                 topic: str, deadletter_topic: str, identity_topic: str, batch_size: int = 1000, poll_interval: float = 1.0,
                 lag_seconds: float = 300.0, reconcile_every: float = 300.0, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)):
        self.adapter, self.engine, self.codec, self.producer, self.checkpoints, self.rowstate = adapter, engine, codec, producer, checkpoints, rowstate
        self.topic, self.deadletter_topic, self.identity_topic = topic, deadletter_topic, identity_topic
        self.batch_size, self.poll_interval, self.lag_seconds, self.reconcile_every, self.clock = batch_size, poll_interval, lag_seconds, reconcile_every, clock
        self.log = get_logger("connector").bind(connector=adapter.name, topic=topic)
        self.stats = {"rows": 0, "events": 0, "dead_letters": 0, "deleted": 0, "skipped_seen": 0}
        self.watermark = None
        self.pool = None  # connectors.parallel.MappingPool: map and encode in worker processes
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def _retrying(self, fn, *args):
        async for attempt in AsyncRetrying(retry=retry_if_exception_type((sa.exc.OperationalError, sa.exc.InterfaceError, KafkaError, OSError)),
                                           wait=wait_exponential(multiplier=0.5, max=10), stop=stop_after_delay(300), reraise=True):
            with attempt:
                return await fn(*args)

    # -- reading ---------------------------------------------------------------------------------
    def _select(self, window_from, after: tuple | None) -> sa.Select:
        a = self.adapter
        t, cursor, key = a.table, a.table.c[a.cursor], a.key_expression()
        q = sa.select(t).where(cursor.is_not(None))  # rows without a cursor value are left to reconciliation
        if window_from is not None:
            q = q.where(cursor >= window_from)
        if after is not None:
            q = q.where(sa.or_(cursor > after[0], sa.and_(cursor == after[0], key > a.key_literal(after[1]))))
        return q.order_by(cursor, *a.key_order()).limit(self.batch_size)

    def _fetch(self, window_from, after) -> list[dict]:
        with gc_paused(), self.engine.connect() as conn:
            return with_related(self.adapter, conn, as_dicts(conn.execute(self._select(window_from, after))))

    def _keys(self) -> dict[str, tuple]:
        """Every row's key: text id -> (the key as the driver returned it, canonical version)."""
        a = self.adapter
        with self.engine.connect() as conn:
            rows = as_dicts(conn.execute(sa.select(*a.key_order(), a.table.c[a.cursor])))
        return {a.record_id(r): (a.key_of(r), canonical(r[a.cursor])) for r in rows}

    def _rows_by_key(self, keys: list) -> list[dict]:
        with gc_paused(), self.engine.connect() as conn:
            return rows_by_key(self.adapter, conn, keys)

    def _fetch_keys(self, window_from, after) -> list[tuple]:
        """(key, cursor value) of the next batch, in cursor order: all a connector whose workers read rows needs."""
        a = self.adapter
        query = self._select(window_from, after).with_only_columns(*a.key_order(), a.table.c[a.cursor])
        n = len(a.key_columns)
        with self.engine.connect() as conn:
            if n == 1:
                return [(r[0], r[1]) for r in conn.execute(query)]
            return [(tuple(r[:n]), r[n]) for r in conn.execute(query)]

    # -- publishing ------------------------------------------------------------------------------
    async def publish(self, rows: list[dict]) -> int:
        """Map and publish the rows whose version is not yet published; returns how many were new."""
        return await self._retrying(self._send, await self._prepare(rows))

    async def _prepare_keys(self, keys: list[tuple]) -> list[Prepared]:
        """Like _prepare, for (key, cursor value) pairs: the worker processes read the rows."""
        # the rowstate.is_new test, unrolled: this runs for every row the connector reads
        versions, record_id = self.rowstate.versions, self.adapter.record_id_of_key
        if len(self.adapter.key_columns) == 1:
            record_id = str
        fresh = [k for k, c in keys if versions.get(record_id(k)) != (c if type(c) is str else canonical(c))]
        self.stats["skipped_seen"] += len(keys) - len(fresh)
        return await self.pool.prepare_keys(fresh, self.clock()) if fresh else []

    async def _prepare(self, rows: list[dict]) -> list[Prepared]:
        """Map and encode the rows not yet published in this version (in worker processes if there is a pool)."""
        now = self.clock()
        fresh = [r for r in rows if self.rowstate.is_new(record_id_of(self.adapter, r), version_of(self.adapter, r))]
        self.stats["skipped_seen"] += len(rows) - len(fresh)
        if not fresh:
            return []
        if self.pool is not None:
            return await self.pool.prepare(fresh, now)
        return prepare_rows(self.adapter, self.codec, fresh, now, self.topic, self.deadletter_topic, self.identity_topic)

    async def _send(self, prepared: list[Prepared]) -> int:
        """Publish prepared rows, wait for every acknowledgement, then record their versions; safe to repeat."""
        if not prepared:
            return 0
        out, entries, events, errors = BatchPublisher(self.producer), {}, 0, []
        for record_id, version, messages, error, state in prepared:  # plain tuples from worker processes too
            for topic, key, value in messages:
                if not out.add_nowait(topic, key, value):
                    await out.add(topic, key, value)
            if error:
                # a bad version is reported once (a corrected row, a new version, is read again); its entry
                # keeps what the last good version told, so that a later delete still finds its case
                before = self.rowstate.entry(record_id)
                state = encode_entry({"v": version, "refs": before.get("refs", []), "published": before.get("published", False), "dead": True})
                errors.append((record_id, error))
            else:
                events += 1
            entries[record_id] = (version, state)
        await out.flush()
        # Row state only after the events are acknowledged: a crash publishes again (same event ids), never skips.
        await self.rowstate.record(entries)
        for record_id, (field, kind, reason) in errors:
            metrics.DEAD.labels(self.adapter.name, kind).inc()
            self.log.warning("row to dead letters", record_id=record_id, field=field, reason=reason, kind=kind)
        self.stats["dead_letters"] += len(errors)
        self.stats["events"] += events
        metrics.EVENTS.labels(self.adapter.name).inc(events)
        return len(entries)

    async def poll(self) -> int:
        """One sweep from the lag window behind the watermark to the newest row; returns rows published.

        Reading, mapping and publishing overlap: while one batch is being published (and its
        acknowledgements awaited), the next ones are read and mapped (in worker processes, if any).
        Batches are still published, recorded and checkpointed strictly in cursor order.
        """
        window_from = None
        if self.watermark is not None:
            try:
                window_from = self.adapter.window_start(self.watermark, self.lag_seconds)
            except (ValueError, TypeError) as exc:
                self.log.error("watermark unusable, sweeping the whole table", watermark=str(self.watermark), error=str(exc))
        ahead: asyncio.Queue = asyncio.Queue(maxsize=(self.pool.workers if self.pool else 0) + 1)
        reader = asyncio.create_task(self._read_ahead(window_from, ahead))
        published, pending, batches = 0, [], 0
        try:
            # The batches in flight are thousands of small tuples each: with the collector running, every
            # collection walks them again (and one per batch, when a pause per batch ended, cost 6-9 ms:
            # 2 us a row in `casehub bench connector`). So it is paused for the sweep, and the few dozen
            # cyclic objects a batch leaves (tasks, futures) are collected every 50 batches. The pause is
            # process-wide: other connectors in the process go without full collections meanwhile, which
            # costs little memory (their garbage is mostly acyclic, freed by reference counting).
            with gc_paused():
                while (item := await ahead.get()) is not None:
                    cursors, preparing = item
                    pending.append(preparing)
                    published += await self._retrying(self._send, await preparing)
                    pending.remove(preparing)
                    self._advance(cursors)
                    batches += 1
                    if batches % 50 == 0:
                        gc.collect(0)
                await reader  # a read that failed for good raises here
        finally:
            reader.cancel()
            while not ahead.empty():
                item = ahead.get_nowait()
                if item is not None:
                    pending.append(item[1])
            for task in pending:
                task.cancel()
        await self._retrying(self.checkpoints.save, self.adapter.name, {"watermark": canonical(self.watermark) if self.watermark is not None else None,
                                                                       "saved_at": self.clock().isoformat()})
        metrics.LAST_POLL.labels(self.adapter.name).set_to_current_time()
        return published

    async def _read_ahead(self, window_from, ahead: asyncio.Queue) -> None:
        """Read batches in cursor order and start mapping each; (rows, mapping task) go to `ahead`, then None."""
        after, cursor = None, self.adapter.cursor
        reads_in_workers = self.pool is not None and self.pool.reads
        try:
            while not self._stop.is_set():
                if reads_in_workers:
                    # only keys and cursors here; the workers read the rows themselves (no rows pickled across)
                    batch = await self._retrying(asyncio.to_thread, self._fetch_keys, window_from, after)
                    cursors, preparing = [c for _, c in batch], self._prepare_keys(batch)
                else:
                    rows = await self._retrying(asyncio.to_thread, self._fetch, window_from, after)
                    batch, cursors, preparing = rows, [r[cursor] for r in rows], self._prepare(rows)
                if not batch:
                    preparing.close()
                    break
                self.stats["rows"] += len(batch)
                metrics.ROWS.labels(self.adapter.name).inc(len(batch))
                await ahead.put((cursors, asyncio.ensure_future(preparing)))
                if len(batch) < self.batch_size:
                    break
                last = batch[-1]
                after = (last[1], last[0]) if reads_in_workers else (last[cursor], self.adapter.key_of(last))
        except Exception:
            await ahead.put(None)  # the publishing side stops, then gets this error when it awaits the reader
            raise
        await ahead.put(None)

    def _advance(self, cursors: list) -> None:
        """Move the watermark to the newest cursor that is a valid value and not in the future.

        A malformed cursor (dead-lettered anyway) or a typo far in the future must not move the window
        past every real change, nor make the next poll fail. Rows come in cursor order, so the newest
        acceptable value is the first one found from the end: usually one parse per batch.
        """
        now = self.clock()
        for raw in reversed(cursors):
            value = self.adapter.cursor_value(raw, now)
            if value is None:
                self.stats["bad_cursors"] = self.stats.get("bad_cursors", 0) + 1
                continue
            if self.watermark is None or value > self.watermark:
                self.watermark = value
            return

    async def reconcile(self) -> dict:
        """Compare every key and version in the source with what was published: publish missed versions, report deletes."""
        current = await self._retrying(asyncio.to_thread, self._keys)
        known = dict(self.rowstate.versions)
        gone = [rid for rid in known if rid not in current]
        missed = [current[rid][0] for rid, (_, v) in current.items() if known.get(rid) != v]
        published = 0
        for i in range(0, len(missed), self.batch_size):
            rows = await self._retrying(asyncio.to_thread, self._rows_by_key, missed[i:i + self.batch_size])
            published += await self.publish(rows)
        now, out = self.clock(), BatchPublisher(self.producer)
        # First record when each row was found gone: a crash before the tombstones below makes the next
        # reconciliation publish the same delete again, and it must then say the same thing.
        entries, marks = {rid: self.rowstate.entry(rid) for rid in gone}, {}
        for rid, entry in entries.items():
            if entry.get("published", True) and not entry.get("gone_at"):
                entry["gone_at"] = now.isoformat()
                marks[rid] = (known[rid], encode_entry(entry))
        if marks:
            await self._retrying(self.rowstate.record, marks)
        reported = 0
        for rid, entry in entries.items():
            if not entry.get("published", True):
                continue  # only ever dead-lettered: nothing downstream to tell
            event = deleted_event(self.adapter, rid, entry, now)
            await out.add(self.topic, rid.encode(), self.codec.encode(self.topic, event))
            reported += 1
            self.log.warning("source row deleted", record_id=rid)
        await out.flush()
        await self._retrying(self.rowstate.record, {rid: None for rid in gone})
        self.stats["deleted"] += reported
        metrics.DELETED.labels(self.adapter.name).inc(reported)
        return {"missed": published, "deleted": reported}

    async def start(self) -> None:
        await self.rowstate.start(self.producer)
        saved = await self.checkpoints.load(self.adapter.name)
        restored = saved.get("watermark") if saved else None
        self.watermark = self.adapter.cursor_value(restored, None) if restored is not None else None

    async def run(self) -> None:
        await self.start()
        self.log.info("connector started", watermark=self.watermark, known_rows=len(self.rowstate.versions))
        loop = asyncio.get_running_loop()
        next_reconcile = loop.time()  # reconcile once at start: catches deletes and commits missed while stopped
        while not self._stop.is_set():
            published = await self.poll()
            if published:
                self.log.info("published", new=published, watermark=self.watermark, **self.stats)
            if loop.time() >= next_reconcile:
                result = await self.reconcile()
                if any(result.values()):
                    self.log.info("reconciled", **result)
                next_reconcile = loop.time() + self.reconcile_every
            try:
                await asyncio.wait_for(self._stop.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass
        self.log.info("connector stopped", **self.stats)
