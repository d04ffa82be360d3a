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
import gc
from collections.abc import Callable

import sqlalchemy as sa
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from casehub.connectors import metrics
from casehub.connectors.base import Destinations
from casehub.connectors.checkpoints import KafkaCheckpointStore
from casehub.connectors.events import deleted_event
from casehub.connectors.reads import as_dicts, rows_by_key, with_related
from casehub.connectors.rows import Prepared, canonical, prepare_rows, version_of
from casehub.connectors.rowstate import RowState, encode_entry
from casehub.ground.gcpause import gc_paused
from casehub.ground.logs import get_logger
from casehub.ground.publish import Publisher


class PollingConnector:
    """Runs one adapter against one database until stopped.

    Args:
        lag_seconds: how far behind the watermark each poll re-reads; must exceed the longest write
            transaction in the source database (default 300 s).
        reconcile_every: seconds between full key/version comparisons (deletes, very late commits).
    """

    def __init__(
        self,
        adapter,
        engine: sa.Engine,
        codec,
        publisher: Publisher,
        checkpoints: KafkaCheckpointStore,
        rowstate: RowState,
        destinations: Destinations,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        lag_seconds: float = 300.0,
        reconcile_every: float = 300.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ):
        self.adapter, self.engine, self.codec, self.publisher, self.checkpoints, self.rowstate = (
            adapter,
            engine,
            codec,
            publisher,
            checkpoints,
            rowstate,
        )
        self.destinations = destinations
        self.topic = destinations.events
        self.batch_size, self.poll_interval, self.lag_seconds, self.reconcile_every, self.clock = (
            batch_size,
            poll_interval,
            lag_seconds,
            reconcile_every,
            clock,
        )
        self.log = get_logger("connector").bind(connector=adapter.name, topic=self.topic)
        self.stats = {"rows": 0, "events": 0, "dead_letters": 0, "deleted": 0, "skipped_seen": 0}
        self.watermark = None
        self.pool = None  # casehub.connectors.parallel.MappingPool: map and encode in worker processes
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def _retrying(self, fn, *args):
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((sa.exc.OperationalError, sa.exc.InterfaceError, KafkaError, OSError)),
            wait=wait_exponential(multiplier=0.5, max=10),
            stop=stop_after_delay(300),
            reraise=True,
        ):
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
        fresh = [r for r in rows if self.rowstate.is_new(self.adapter.record_id(r), version_of(self.adapter, r))]
        self.stats["skipped_seen"] += len(rows) - len(fresh)
        if not fresh:
            return []
        if self.pool is not None:
            return await self.pool.prepare(fresh, now)
        return prepare_rows(self.adapter, self.codec, fresh, now, self.destinations)

    async def _send(self, prepared: list[Prepared]) -> int:
        """Publish prepared rows, wait for every acknowledgement, then record their versions; safe to repeat."""
        if not prepared:
            return 0
        out, entries, events, errors = self.publisher.batch(), {}, 0, []
        for record_id, version, messages, error, state in prepared:  # plain tuples from worker processes too
            for topic, key, value in messages:
                if not out.add_nowait(topic, key, value):
                    await out.add(topic, key, value)
            if error:
                # a bad version is reported once (a corrected row, a new version, is read again); its entry
                # keeps what the last good version told, so that a later delete still finds its case
                before = self.rowstate.entry(record_id)
                state = encode_entry(
                    {
                        "v": version,
                        "refs": before.get("refs", []),
                        "published": before.get("published", False),
                        "dead": True,
                    }
                )
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
                self.log.error(
                    "watermark unusable, sweeping the whole table", watermark=str(self.watermark), error=str(exc)
                )
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
        await self._retrying(
            self.checkpoints.save,
            self.adapter.name,
            {
                "watermark": canonical(self.watermark) if self.watermark is not None else None,
                "saved_at": self.clock().isoformat(),
            },
        )
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
        """Compare every key and version in the source with what was published: publish missed versions, report
        deletes."""
        current = await self._retrying(asyncio.to_thread, self._keys)
        known = dict(self.rowstate.versions)
        gone = [rid for rid in known if rid not in current]
        missed = [current[rid][0] for rid, (_, v) in current.items() if known.get(rid) != v]
        published = 0
        for i in range(0, len(missed), self.batch_size):
            rows = await self._retrying(asyncio.to_thread, self._rows_by_key, missed[i : i + self.batch_size])
            published += await self.publish(rows)
        now, out = self.clock(), self.publisher.batch()
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
        report = getattr(self.adapter.mapping, "deletes", "report") == "report"
        for rid, entry in entries.items():
            if not entry.get("published", True) or not report:
                continue  # only ever dead-lettered, or a mapping whose rows are history: nothing downstream to tell
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
        """Load the row state and the checkpoint from Kafka and start the mapping workers, if any."""
        await self.checkpoints.start(self.publisher)
        await self.rowstate.start(self.publisher)
        saved = await self.checkpoints.load(self.adapter.name)
        restored = saved.get("watermark") if saved else None
        self.watermark = self.adapter.cursor_value(restored, None) if restored is not None else None
        if self.pool is not None:
            await asyncio.to_thread(self.pool.warm)

    def close(self) -> None:
        """Stop the mapping workers and release the database engine if this connector made it."""
        if self.pool is not None:
            self.pool.close()
        if getattr(self, "owned_engine", False):
            self.engine.dispose()

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
            except TimeoutError:
                pass
        self.log.info("connector stopped", **self.stats)
