"""Map and encode rows in worker processes (CASEHUB_CONNECTOR_WORKERS), so a snapshot uses more than one core.

Workers rebuild the adapter from its mapping file and get the registered schema ids, so they never call
the registry. Given the database URL, they also read the rows themselves: the connector then reads only
keys and cursor values, and no row crosses a process boundary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from casehub.connectors.base import Destinations
from casehub.connectors.rows import prepare_rows
from casehub.ground.logs import get_logger

_worker: dict = {}


def _init(
    mapping_path: str,
    secret: str,
    prefix: str,
    ids: dict,
    destinations: tuple[str, str, str],
    db_url: str | None = None,
    table: str | None = None,
) -> None:
    import sqlalchemy as sa

    from casehub.connectors.adapter import MappedAdapter
    from casehub.connectors.mapping import load_mapping
    from casehub.domain.identities import Protector
    from casehub.schemas.codec import AvroCodec
    from casehub.schemas.registry.memory import FixedRegistry

    # A worker only maps batches, whose objects refcounting frees; the collector would walk each batch's
    # results once more while they are pickled back. It is off, and collects every 50 calls (`_calls`).
    gc.disable()
    _worker["calls"] = 0
    mapping = load_mapping(mapping_path)
    if table and table != mapping.table and not mapping.query:
        import dataclasses

        mapping = dataclasses.replace(mapping, table=table)  # the connector's mapping names another table
    _worker["adapter"] = MappedAdapter(mapping, Protector(secret))
    # the ids the parent registered: a worker's codec never calls the registry
    _worker["codec"] = AvroCodec(FixedRegistry(ids), prefix=prefix)
    _worker["destinations"] = Destinations(*destinations)
    if db_url:
        _worker["engine"] = sa.create_engine(db_url)
        _worker["adapter"].bind(_worker["engine"])


def _calls() -> None:
    _worker["calls"] += 1
    if _worker["calls"] % 50 == 0:
        gc.collect()  # the few cyclic objects 50 batches leave (driver and pool internals)


def _prepare_keys(keys: list, now: dt.datetime, known: dict | None = None, generation: int = 0) -> list[tuple]:
    from casehub.connectors.reads import rows_by_key
    from casehub.ground.gcpause import gc_paused

    _calls()
    if generation != _worker.get("generation", 0):
        _worker["engine"].dispose()  # the source was replaced (a SQLite file): connections to the old one go
        _worker["generation"] = generation
    adapter = _worker["adapter"]
    with gc_paused(), _worker["engine"].connect() as conn:
        rows = rows_by_key(adapter, conn, keys)
    order = {k: i for i, k in enumerate(keys)}
    rows.sort(key=lambda r: order.get(adapter.key_of(r), len(order)))  # publish in the connector's (cursor) order
    return _as_tuples(rows, now, known)


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _prepare(rows: list[dict], now: dt.datetime, known: dict | None = None) -> list[tuple]:
    _calls()
    return _as_tuples(rows, now, known)


def _as_tuples(rows: list[dict], now: dt.datetime, known: dict | None) -> list[tuple]:
    # plain tuples travel back 3-4 times cheaper than named tuples or dataclasses; the connector unpacks them
    w = _worker
    return [tuple(p) for p in prepare_rows(w["adapter"], w["codec"], rows, now, w["destinations"], known)]


class MappingPool:
    """A process pool bound to one connector's mapping and topics."""

    def __init__(
        self,
        workers: int,
        mapping_path: str,
        secret: str,
        codec,
        destinations: Destinations,
        db_url: str | None = None,
        table: str | None = None,
    ):
        from casehub.schemas.codec import subject_for

        ids = {}
        for topic in destinations:
            schema_id = codec.register(topic)
            ids[subject_for(topic)] = (
                schema_id,
                json.dumps(
                    codec.contract.expanded(codec.contract.record_for_topic(topic, codec.prefix)),
                    ensure_ascii=False,
                    separators=(",", ":"),
                ),
            )
        self.workers = workers
        self.reads = db_url is not None  # the workers read rows by key themselves
        self._initargs = (mapping_path, secret, codec.prefix, ids, tuple(destinations), db_url, table)
        self.restarts = 0
        self.generation = 0  # bumped by reconnect(): workers then drop their database connections
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # Not fork: a child forked while another thread holds a lock (SQLite's, a driver's, logging's) can hang
        # forever on it. The fork server is a clean single-threaded process the workers are forked from.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["casehub.connectors.parallel", "casehub.connectors.adapter", "casehub.schemas.codec"]
        )
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init, initargs=self._initargs)

    async def prepare(self, rows: list[dict], now: dt.datetime, known: dict | None = None) -> list[tuple]:
        """Prepared rows as plain tuples in Prepared's field order (`known`: as for rows.prepare_rows)."""
        return await self._run(_prepare, rows, now, known)

    async def prepare_keys(self, keys: list, now: dt.datetime, known: dict | None = None) -> list[tuple]:
        """Read, map and encode the rows with these primary keys in the workers (needs the database URL)."""
        return await self._run(_prepare_keys, keys, now, known, self.generation)

    def reconnect(self) -> None:
        """Make the workers drop their database connections before their next read (the source was replaced)."""
        self.generation += 1

    async def _run(self, fn, items: list, now: dt.datetime, known: dict | None = None, *extra) -> list[tuple]:
        """Split `items` over the workers; if a worker died (killed, out of memory), start a fresh pool once
        and do the batch again: the work is pure, so repeating it changes nothing."""
        loop = asyncio.get_running_loop()
        size = max(1, -(-len(items) // self.workers))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        for attempt in (1, 2):
            executor = self.executor
            try:
                results = await asyncio.gather(
                    *(loop.run_in_executor(executor, fn, chunk, now, known or None, *extra) for chunk in chunks)
                )
                return [p for chunk in results for p in chunk]
            except BrokenProcessPool:
                if attempt == 2:
                    raise
                if self.executor is executor:  # another batch may have restarted it already
                    get_logger("connector").error(
                        "a mapping worker process died; starting the pool again and repeating the batch",
                        workers=self.workers,
                        restarts=self.restarts + 1,
                    )
                    executor.shutdown(wait=False, cancel_futures=True)
                    self.executor = self._start()
                    self.restarts += 1
        raise AssertionError("unreachable")

    def warm(self, timeout: float = 120.0) -> None:
        """Start every worker process and let it load the mapping, so the first batch pays no start-up.

        Waits (at most `timeout` seconds) until each worker has answered: a worker still importing takes
        no task, and one that is ready would take them all, so each task holds its worker a moment.

        Raises:
            RuntimeError: not every worker answered in time (the message says how many did).
        """
        expected, seen = self.workers, set()
        deadline = time.monotonic() + timeout
        while len(seen) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(seen)} of {expected} mapping workers answered within {timeout:.0f} s")
            seen |= {f.result() for f in [self.executor.submit(_pid_after, 0.02) for _ in range(2 * expected)]}

    def pids(self) -> list[int]:
        return list(self.executor._processes)  # the executor's own record of its processes

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
