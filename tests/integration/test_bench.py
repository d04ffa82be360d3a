"""`casehub bench connector` runs end to end on the test broker: every round publishes every row (no speed asserted)."""

from __future__ import annotations

import asyncio
import tempfile

from casehub.ground.settings import load_settings
from casehub.run.bench import bench_connector
from tests.support.databases import needs_postgres


def test_bench_publishes_every_row_in_every_round(kafka_bootstrap, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    settings = load_settings({"CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap, "CASEHUB_HOME": str(tmp_path)})
    result = bench_connector(settings, rows=1200, batch_size=500, workers=1, rounds=2)
    assert [r["published"] for r in result["rounds"]] == [
        1200,
        1200,
    ]  # the second round starts from fresh connector state
    assert all(r["dead_letters"] == 0 for r in result["rounds"])
    assert result["rows_per_s_median"] > 0
    assert set(result["rounds"][0]["cpu_us_per_row"]) == {"connector_process", "worker_processes"}
    assert not list(scratch.glob("casehub-bench-*"))  # the generated database is removed afterwards
    # the session's broker is not the benchmark's: it keeps none of its topics
    assert not [t for t in asyncio.run(topics(kafka_bootstrap)) if t.startswith(result["topic_prefix"])]


async def topics(bootstrap: str) -> list[str]:
    from casehub.ground.kafka import clients

    admin = clients(bootstrap).admin()
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


def test_a_registry_that_exits_is_reported_not_waited_for():
    import subprocess
    import sys

    import pytest

    from casehub.run.bench import _wait_for_registry

    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(30)
    with pytest.raises(RuntimeError, match="exited with code 3"):
        _wait_for_registry(process, "http://127.0.0.1:9", timeout=30)


@needs_postgres
def test_bench_postgres_mode_streams_the_snapshot_and_drops_its_table(kafka_bootstrap, postgres_url, tmp_path):
    import sqlalchemy as sa

    settings = load_settings({"CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap, "CASEHUB_HOME": str(tmp_path)})
    engine = sa.create_engine(postgres_url)
    before = set(sa.inspect(engine).get_table_names())
    result = bench_connector(settings, rows=3000, batch_size=500, workers=0, database="postgresql", url=postgres_url)
    assert (result["published"], result["dead_letters"], result["snapshot"]) == (3000, 0, "streamed")
    paged = bench_connector(
        settings, rows=1500, batch_size=500, workers=1, database="postgresql", url=postgres_url, paged=True
    )
    assert (paged["published"], paged["snapshot"]) == (1500, "paged")
    assert set(sa.inspect(engine).get_table_names()) == before  # its own table, dropped afterwards
    engine.dispose()
