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
from casehub.connectors.reads import fetch_rows, rows_by_key, scan_rows, with_related
from casehub.connectors.rows import Prepared, canonical, prepare_rows, row_digest, version_of
from casehub.connectors.rowstate import RowState, encode_entry
from casehub.connectors.sourcewatch import SourceFileMissing, SqliteFile, watched
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
        streaming_snapshot: bool = True,
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
        self.slow_wait = 5.0  # seconds a read may wait (a lock on the source) before it is logged
        self.source_file = SqliteFile.of(engine)  # a SQLite source file replaced or removed under the connector
        self._reconcile_now = False
        # the first sweep (no watermark) reads the table in one consistent streamed scan, not in pages
        self.streaming_snapshot = streaming_snapshot
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
            before_sleep=self._log_retry,
        ):
            with attempt:
                return await fn(*args)

    def _log_retry(self, state) -> None:
        # each back-off step once (the waits double): a database that stays away is not silent, nor a flood
        error = state.outcome.exception()
        self.log.warning(
            "source or Kafka failing; retrying",
            attempt=state.attempt_number,
            retry_in=round(state.next_action.sleep, 1) if state.next_action else None,
            error=f"{type(error).__name__}: {str(error)[:300]}",
        )

    async def _read(self, fn, *args):
        """A read of the source database in a thread, retried, and logged when it waits long (a lock)."""
        source = f"source database of {self.adapter.name}"
        return await self._retrying(lambda: watched(self.log, source, asyncio.to_thread(fn, *args), self.slow_wait))

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
            return with_related(self.adapter, conn, fetch_rows(self.adapter, conn, self._select(window_from, after)))

    def _keys(self) -> dict[str, tuple]:
        """Every row: text id -> (the key as the driver returned it, canonical version, digest of its content).

        The whole table is read, streamed (rows are digested and dropped as they come): a change that kept
        the cursor value differs only in content.
        """
        a = self.adapter
        out = {}
        with gc_paused(), self.engine.connect() as conn:
            for rows in scan_rows(a, conn, sa.select(a.table), self.batch_size):
                for r in rows:
                    out[a.record_id(r)] = (a.key_of(r), canonical(r[a.cursor]), row_digest(r))
        return out

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
        versions, digests, record_id = self.rowstate.versions, self.rowstate.digests, self.adapter.record_id_of_key
        if len(self.adapter.key_columns) == 1:
            record_id = str
        known = {}
        for k, c in keys:
            rid = record_id(k)
            if versions.get(rid) == (c if type(c) is str else canonical(c)):
                known[rid] = digests.get(rid)  # same version: the workers compare the content
        if not keys:
            return []
        prepared = await self.pool.prepare_keys([k for k, _ in keys], self.clock(), known)
        self.stats["skipped_seen"] += len(keys) - len(prepared)
        return prepared

    async def _prepare(self, rows: list[dict]) -> list[Prepared]:
        """Map and encode the rows not yet published in this version or content (in worker processes if there is a
        pool)."""
        now = self.clock()
        versions, digests, record_id = self.rowstate.versions, self.rowstate.digests, self.adapter.record_id
        known = {}
        for r in rows:
            rid = record_id(r)
            if versions.get(rid) == version_of(self.adapter, r):
                known[rid] = digests.get(rid)  # same version: decided by the content's digest
        if not rows:
            return []
        if self.pool is not None:
            prepared = await self.pool.prepare(rows, now, known)
        else:
            prepared = prepare_rows(self.adapter, self.codec, rows, now, self.destinations, known)
        self.stats["skipped_seen"] += len(rows) - len(prepared)
        return prepared

    async def _send(self, prepared: list[Prepared]) -> int:
        """Publish prepared rows, wait for every acknowledgement, then record their versions; safe to repeat."""
        if not prepared:
            return 0
        out, entries, events, errors = self.publisher.batch(), {}, 0, []
        for record_id, version, messages, error, state, digest in prepared:  # plain tuples from workers too
            for topic, key, value in messages:
                if not out.add_nowait(topic, key, value):
                    await out.add(topic, key, value)
            if error:
                # a bad version is reported once (a corrected row, a new version or content, is read again); its
                # entry keeps what the last good version told, so that a later delete still finds its case
                before = self.rowstate.entry(record_id)
                state = encode_entry(
                    {
                        "v": version,
                        "d": digest,
                        "refs": before.get("refs", []),
                        "published": before.get("published", False),
                        "dead": True,
                    }
                )
                errors.append((record_id, error))
            elif not messages:  # unchanged, its entry written before digests: the digest is recorded, nothing sent
                entry = self.rowstate.entry(record_id)
                entry["d"] = digest
                state = encode_entry(entry)
            else:
                events += 1
            entries[record_id] = (version, state, digest)
        await out.flush()
        # Row state only after the events are acknowledged: a crash publishes again (same event ids), never skips.
        await self.rowstate.record(entries)
        for record_id, (field, kind, reason) in errors:
            metrics.DEAD.labels(self.adapter.name, kind).inc()
            self.log.warning("row to dead letters", record_id=record_id, field=field, reason=reason, kind=kind)
        self.stats["dead_letters"] += len(errors)
        self.stats["events"] += events
        metrics.EVENTS.labels(self.adapter.name).inc(events)
        return events + len(errors)

    async def poll(self) -> int:
        """One sweep from the lag window behind the watermark to the newest row; returns rows published.

        Reading, mapping and publishing overlap: while one batch is being published (and its
        acknowledgements awaited), the next ones are read and mapped (in worker processes, if any).
        Batches are still published, recorded and checkpointed strictly in cursor order.
        """
        if not self._source_file_ok():
            return 0
        window_from = None
        if self.watermark is not None:
            try:
                window_from = self.adapter.window_start(self.watermark, self.lag_seconds)
            except (ValueError, TypeError) as exc:
                self.log.error(
                    "watermark unusable, sweeping the whole table", watermark=str(self.watermark), error=str(exc)
                )
        ahead: asyncio.Queue = asyncio.Queue(maxsize=(self.pool.workers if self.pool else 0) + 1)
        # SQLite keeps its pages: a reader there blocks the agency's writers for as long as it reads (outside
        # WAL mode), and SQLite has no server to spare the index walk of; the other databases read a snapshot
        # with MVCC, which blocks nobody
        snapshot = self.watermark is None and self.streaming_snapshot and self.engine.dialect.name != "sqlite"
        reader = asyncio.create_task(self._read_snapshot(ahead) if snapshot else self._read_ahead(window_from, ahead))
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
                    self._advance(cursors, ordered=not snapshot)
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
                    batch = await self._read(self._fetch_keys, window_from, after)
                    cursors, preparing = [c for _, c in batch], self._prepare_keys(batch)
                else:
                    rows = await self._read(self._fetch, window_from, after)
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

    def _source_file_ok(self) -> bool:
        """False while a SQLite source file is missing (logged once per back-off step); a replaced file is logged,
        the engine's connections (and the workers') are dropped, and a reconciliation is due."""
        if self.source_file is None:
            return True
        try:
            change = self.source_file.check()
        except SourceFileMissing as exc:
            self._missing = getattr(self, "_missing", 0) + 1
            if self._missing & (self._missing - 1) == 0:  # 1st, 2nd, 4th, 8th ... poll: each back-off step
                self.log.error(
                    "source database file missing; waiting for it (not creating an empty one)",
                    path=str(self.source_file.path),
                    polls=self._missing,
                    error=str(exc),
                )
            return False
        if getattr(self, "_missing", 0):
            self.log.warning("source database file is back", path=str(self.source_file.path))
            self._missing = 0
            change = "replaced"
        if change == "replaced":
            self.log.warning(
                "source database file replaced; reconnecting and reconciling", path=str(self.source_file.path)
            )
            self.engine.dispose()  # pooled connections still read the old (deleted) file
            if self.pool is not None:
                self.pool.reconnect()
            self._reconcile_now = True
        return True

    async def _read_snapshot(self, ahead: asyncio.Queue) -> None:
        """The first sweep: the whole table in one consistent scan, streamed in batches (rows, mapping task) to `ahead`.

        One read in a REPEATABLE READ transaction (PostgreSQL, MariaDB and other server databases; SQLite
        is read in pages, see poll) through a server-side cursor, in the table's own order: paging through the
        (cursor, key) index cost PostgreSQL 13 us a row, a scan 1 us. What the snapshot does not see
        (transactions that commit after it started) the next poll's lag window reads, as for any poll;
        the watermark is the newest valid cursor it saw. A snapshot that fails midway is done again from
        the start at the next try: the row state skips what was already published.
        """
        a = self.adapter
        query = sa.select(a.table).where(a.table.c[a.cursor].is_not(None))
        source = f"source database of {a.name}"
        scan = await watched(self.log, source, asyncio.to_thread(self._open_scan, query), self.slow_wait)
        related = self.engine.connect() if a.mapping.related else None  # a streamed result holds its connection
        # a scan that met an undecodable cell starts again reading text as bytes (reads.scan_rows): rows it
        # already handed over are not handed over twice
        seen: set[str] = set()
        try:
            while not self._stop.is_set():
                rows = await watched(
                    self.log, source, asyncio.to_thread(self._next_scan_batch, scan, related), self.slow_wait
                )
                if not rows:
                    break
                rows = [r for r in rows if (rid := a.record_id(r)) not in seen and not seen.add(rid)]
                if not rows:
                    continue
                self.stats["rows"] += len(rows)
                metrics.ROWS.labels(a.name).inc(len(rows))
                await ahead.put(([r[a.cursor] for r in rows], asyncio.ensure_future(self._prepare(rows))))
        except Exception:
            await ahead.put(None)
            raise
        finally:
            await asyncio.to_thread(self._close_scan, scan, related)
        await ahead.put(None)

    def _open_scan(self, query):
        conn = self.engine.connect()
        try:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            return conn, scan_rows(self.adapter, conn, query, self.batch_size)
        except BaseException:
            conn.close()
            raise

    def _next_scan_batch(self, scan, related) -> list[dict]:
        with gc_paused():
            rows = next(scan[1], [])
            if rows and related is not None:
                rows = with_related(self.adapter, related, rows)
            return rows

    @staticmethod
    def _close_scan(scan, related) -> None:
        scan[1].close()
        scan[0].close()
        if related is not None:
            related.close()

    def _advance(self, cursors: list, ordered: bool = True) -> None:
        """Move the watermark to the newest cursor that is a valid value and not in the future.

        A malformed cursor (dead-lettered anyway) or a typo far in the future must not move the window
        past every real change, nor make the next poll fail. Rows usually come in cursor order, so the
        newest acceptable value is the first one found from the end: usually one parse per batch. A
        snapshot's rows come in the table's order: its cursors are sorted first (they sort as the database
        sorts them, which a cursor column must).
        """
        now = self.clock()
        if not ordered:
            cursors = sorted(c for c in cursors if c is not None)
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
        if not self._source_file_ok():
            return {"missed": 0, "deleted": 0}  # a missing file is not a table whose rows were all deleted
        current = await self._read(self._keys)
        known, digests = dict(self.rowstate.versions), self.rowstate.digests
        gone = [rid for rid in known if rid not in current]
        # a version not published, or the same version with other content (or no digest recorded yet)
        missed = [key for rid, (key, v, d) in current.items() if known.get(rid) != v or digests.get(rid) != d]
        published = 0
        for i in range(0, len(missed), self.batch_size):
            rows = await self._read(self._rows_by_key, missed[i : i + self.batch_size])
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
            if loop.time() >= next_reconcile or self._reconcile_now:
                self._reconcile_now = False
                result = await self.reconcile()
                if any(result.values()):
                    self.log.info("reconciled", **result)
                next_reconcile = loop.time() + self.reconcile_every
            try:
                await asyncio.wait_for(self._stop.wait(), self.poll_interval)
            except TimeoutError:
                pass
        self.log.info("connector stopped", **self.stats)
