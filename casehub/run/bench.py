"""`casehub bench connector`: snapshot throughput of one connector into Kafka (a benchmark, not a test)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

from casehub.ground.settings import Settings
from casehub.run.broker import free_port


def _rows(n: int) -> list[dict]:
    from casehub.connectors.sample import mediation_rows

    base = mediation_rows(min(n, 2000), seed=11)
    start = dt.datetime(2024, 1, 1)
    rows = []
    for i in range(n):
        row = dict(base[i % len(base)])
        row.update(
            ajid=i + 1,
            ajbh=f"沈和调〔2024〕{i + 1:07d}号",
            gxsj=(start + dt.timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S"),
            bz=None,
        )
        rows.append(row)
    return rows


def _cpu_of(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc; 0 where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


def make_db(path: Path, n: int) -> str:
    from casehub.connectors.adapters.mediation import metadata, tj_ajxx

    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    rows = _rows(n)
    with engine.begin() as conn:
        for i in range(0, n, 20000):
            conn.execute(tj_ajxx.insert(), rows[i : i + 20000])
    engine.dispose()
    return url


def bench_connector(
    settings: Settings, rows: int, batch_size: int, profile: bool = False, workers: int = 0, rounds: int = 1
) -> dict:
    """Create a SQLite mediation database with `rows` rows and time the connector's snapshot into Kafka.

    With `rounds` > 1 the snapshot is repeated (same database, broker and registry; fresh topics and
    connector state each time) and every round is reported with the median: on a shared VM one figure
    says little.
    """
    # Everything started here is stopped however the benchmark ends (error, Ctrl-C): the registry
    # process, a broker this run started, the engine and the generated database.
    cleanup = contextlib.ExitStack()
    with cleanup:
        return _bench(cleanup, settings, rows, batch_size, profile, workers, rounds)


def _bench(
    cleanup: contextlib.ExitStack,
    settings: Settings,
    rows: int,
    batch_size: int,
    profile: bool,
    workers: int,
    rounds: int,
) -> dict:
    from casehub.connectors.adapter import MappedAdapter
    from casehub.connectors.mapping import builtin_mappings
    from casehub.connectors.rows import map_rows
    from casehub.domain.identities import Protector
    from casehub.ground.gcpause import gc_paused
    from casehub.run.stack import local_broker

    work = Path(tempfile.mkdtemp(prefix="casehub-bench-"))
    if not profile:  # the generated database is ~30 MB per 100,000 rows; a profile report is kept with it
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
    broker_pid = None
    if settings.kafka_bootstrap:
        bootstrap = settings.kafka_bootstrap
    else:
        lb = local_broker(settings)
        if not lb.info():
            cleanup.callback(lb.stop)  # runs after the registry is stopped (callbacks run last-registered first)
        info = lb.start()
        bootstrap, broker_pid = info.bootstrap, info.pid
    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    registry_url, registry_credentials = settings.schema_registry_url, settings.registry_credentials
    if not registry_url:
        port = free_port()
        registry_credentials = f"bench:{uuid.uuid4().hex}"  # each round registers its fresh topics
        env = {
            **os.environ,
            "CASEHUB_KAFKA_BOOTSTRAP": bootstrap,
            "CASEHUB_REGISTRY_PORT": str(port),
            "CASEHUB_TOPIC_PREFIX": prefix,
            "CASEHUB_HOME": str(work),
            "CASEHUB_REGISTRY_CREDENTIALS": registry_credentials,
        }
        registry = subprocess.Popen(
            [sys.executable, "-m", "casehub", "registry"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        cleanup.callback(_stop, registry)
        registry_url = f"http://127.0.0.1:{port}"
        _wait_for_registry(registry, registry_url)
    print(f"bench: creating {rows} rows in SQLite", file=sys.stderr)
    url = make_db(work / "mediation.db", rows)
    engine = sa.create_engine(url)
    cleanup.callback(engine.dispose)
    mapping = builtin_mappings()["mediation"]
    adapter = MappedAdapter(mapping, Protector("bench")).bind(engine)  # for the mapping-alone gauge
    result = {"rows": rows, "batch_size": batch_size, "workers": workers, "bootstrap": bootstrap}

    def map_only() -> int:
        """Rows/s of mapping alone (pure CPU) on the first 20,000 rows: a gauge of the machine's speed now.

        The rows are read for each gauge and dropped after it, so that 20,000 dicts do not stay on the
        heap through the snapshot, where the collector would walk them as if the connector held them.
        """
        with engine.connect() as conn:
            sample = [dict(r._mapping) for r in conn.execute(sa.select(adapter.table).limit(20000))]
        t = time.perf_counter()
        with gc_paused():
            map_rows(adapter, sample, dt.datetime.now(dt.UTC))
        return round(len(sample) / (time.perf_counter() - t))

    async def snapshot(prefix: str):
        from casehub.connectors.base import Destinations
        from casehub.connectors.wiring import build_connector
        from casehub.ground.kafka import clients, ensure_topics
        from casehub.ground.publish import KafkaPublisher
        from casehub.schemas.codec import codec_for

        run = dataclasses.replace(
            settings,
            kafka_bootstrap=bootstrap,
            schema_registry_url=registry_url,
            registry_credentials=registry_credentials,
            topic_prefix=prefix,
            hmac_secret="bench",
            connector_batch_size=batch_size,
            connector_workers=workers,
        )
        codec, to = codec_for(run), Destinations.for_agency(run.topics, "MEDIATION")
        await ensure_topics(bootstrap, [s for s in run.topics.specs(run.partitions) if s.name in to])
        for topic in to:
            await asyncio.to_thread(codec.register, topic)
        kafka = clients(bootstrap)
        producer = kafka.producer("bulk")
        await producer.start()
        connector = None
        try:  # worker processes and the producer are closed however the round ends
            connector = build_connector(run, mapping, url, codec, KafkaPublisher(producer), engine=engine)
            return await measure(connector)
        finally:
            if connector is not None:
                connector.close()
            await producer.stop()

    async def measure(connector):
        await connector.start()  # starts and warms the mapping workers, if any
        cpu0 = (
            time.process_time(),
            _cpu_of(broker_pid),
            sum(_cpu_of(p) for p in connector.pool.pids()) if connector.pool else 0,
        )
        t0 = time.perf_counter()
        done = 0
        while done < rows:
            n = await connector.poll()
            done += n
            print(f"bench: {done}/{rows} rows published", file=sys.stderr)
            if n == 0:
                break
        elapsed = time.perf_counter() - t0
        cpu = {"connector_process": time.process_time() - cpu0[0]}
        if broker_pid:
            cpu["broker"] = _cpu_of(broker_pid) - cpu0[1]
        if connector.pool:
            cpu["worker_processes"] = sum(_cpu_of(p) for p in connector.pool.pids()) - cpu0[2]
        return done, elapsed, connector.stats, cpu

    figures = []
    for n in range(rounds):
        gauge = map_only()
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        done, elapsed, stats, cpu = asyncio.run(snapshot(f"{prefix}r{n}." if rounds > 1 else prefix))
        if profile:
            profiler.stop()
            (work / f"profile{n}.txt").write_text(profiler.output_text(unicode=True, color=False))
            result.setdefault("profiles", []).append(str(work / f"profile{n}.txt"))
        figures.append(
            {
                "map_only_rows_per_s": gauge,
                "published": done,
                "seconds": round(elapsed, 2),
                "rows_per_s": round(done / elapsed),
                "dead_letters": stats["dead_letters"],
                "cpu_us_per_row": {k: round(v / max(done, 1) * 1e6, 1) for k, v in cpu.items()},
            }
        )
        if rounds > 1:
            print(
                f"bench: round {n + 1}/{rounds}: {figures[-1]['rows_per_s']} rows/s (mapping alone {gauge} rows/s)",
                file=sys.stderr,
            )
    if rounds == 1:
        result.update(figures[0])
    else:
        result["rounds"] = figures
        result["rows_per_s_median"] = statistics.median(f["rows_per_s"] for f in figures)
    return result


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _wait_for_registry(process: subprocess.Popen, url: str, timeout: float = 60.0) -> None:
    """Poll (bounded) until the registry answers; a registry that exits or never answers is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the schema registry exited with code {process.returncode} before answering on {url}")
        try:
            with urllib.request.urlopen(url + "/subjects", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the schema registry did not answer on {url} within {timeout:.0f} s")
