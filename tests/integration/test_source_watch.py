"""The connector notices what used to pass in silence (items 6 and 11 of issue 10): a SQLite source file replaced
(or removed) under it, and a read that waits on a lock held on the source."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import time

import sqlalchemy as sa
from structlog.testing import capture_logs

from casehub.connectors.adapters.mediation import metadata, tj_ajxx
from tests.support.capture import T0, insert, row


def events_named(logs, text: str) -> list[dict]:
    return [entry for entry in logs if text in entry["event"]]


async def test_a_replaced_sqlite_file_is_noticed_reconnected_and_reconciled(tmp_path, make_harness):
    path, backup = tmp_path / "mediation.db", tmp_path / "backup.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    insert(engine, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 4)])
    with capture_logs() as logs:
        h = make_harness(engine, lag_seconds=0)  # no window: the update below is reconciliation's to find
        c = await h.connector()
        assert await c.poll() == 3
        shutil.copy(path, backup)
        os.remove(path)  # rm mediation.db ...
        shutil.copy(backup, path)  # ... and a restore from the backup: a new file at the same path
        restored = sa.create_engine(f"sqlite:///{path}")
        insert(restored, row(4, T0 + dt.timedelta(seconds=4)))
        with restored.begin() as conn:  # an update the lag window would not see: reconciliation must
            conn.execute(tj_ajxx.update().where(tj_ajxx.c.ajid == 1).values(zt="60"))
        restored.dispose()
        assert await c.poll() == 1  # row 4, read from the new file
        assert c._reconcile_now
        assert (await c.reconcile())["missed"] == 1  # row 1's update
    assert events_named(logs, "source database file replaced")
    published = {(e["source"]["record_id"], e["event_type"]) for e in await h.events()}
    assert ("4", "APPLIED") in published and ("1", "WITHDRAWN") in published


async def test_a_missing_sqlite_file_is_waited_for_not_created_empty(tmp_path, make_harness):
    path = tmp_path / "mediation.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    insert(engine, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 4)])
    with capture_logs() as logs:
        h = make_harness(engine)
        c = await h.connector()
        assert await c.poll() == 3
        shutil.move(path, tmp_path / "elsewhere.db")
        assert await c.poll() == 0
        assert await c.reconcile() == {"missed": 0, "deleted": 0}  # not "every row deleted"
        assert not path.exists()  # SQLite would have created an empty database on connect
        shutil.move(tmp_path / "elsewhere.db", path)
        assert await c.poll() == 0
        assert (await c.reconcile())["deleted"] == 0
    assert events_named(logs, "source database file missing")
    assert events_named(logs, "source database file is back")
    assert not [e for e in await h.events() if e["event_type"] == "SOURCE_RECORD_DELETED"]


async def test_a_read_waiting_on_a_lock_is_logged_naming_the_source(source, make_harness):
    insert(source, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 4)])
    with capture_logs() as logs:
        h = make_harness(source)
        c = await h.connector()
        c.slow_wait = 0.5
        locker = source.connect()
        h.cleanup.append(locker.close)
        dialect = source.dialect.name
        if dialect == "sqlite":
            locker.exec_driver_sql("BEGIN EXCLUSIVE")
        elif dialect == "postgresql":
            locker.execute(sa.text("LOCK TABLE tj_ajxx IN ACCESS EXCLUSIVE MODE"))
        else:
            locker.execute(sa.text("LOCK TABLES tj_ajxx WRITE"))
        polling = asyncio.create_task(c.poll())
        try:
            deadline = time.monotonic() + 60
            while not events_named(logs, "still waiting for source database of mediation"):
                assert time.monotonic() < deadline, "no line about the wait"
                assert not polling.done(), polling
                await asyncio.sleep(0.1)
        finally:  # the lock goes however the test ends (a held lock would hang the teardown's DROP TABLE)
            if dialect == "sqlite":
                locker.exec_driver_sql("COMMIT")
            elif dialect == "postgresql":
                locker.commit()
            else:
                locker.execute(sa.text("UNLOCK TABLES"))
            locker.close()
        assert await asyncio.wait_for(polling, 120) == 3
    waited = events_named(logs, "still waiting for source database of mediation")
    assert waited[0]["connector"] == "mediation" and waited[0]["waited_seconds"] >= 0.5
