"""The first sweep is one consistent streamed scan (item 16 of issue 10), with every capture guarantee kept: a
change committed while it runs comes with the next poll, a snapshot that fails midway is done again without
loss or a second copy of what was recorded, and it publishes what the paged read publishes. SQLite, PostgreSQL,
MariaDB."""

from __future__ import annotations

import datetime as dt

import pytest

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.adapters.mediation import tj_ajxx
from casehub.connectors.mapping import builtin_mappings
from casehub.domain.identities import Protector
from tests.support.capture import T0, insert, row

ROWS = 23


async def test_changes_committed_during_the_snapshot_come_with_the_next_poll(source, make_harness):
    insert(source, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, ROWS + 1)])
    h = make_harness(source, batch_size=5)
    c = await h.connector()
    scan_batch, calls = c._next_scan_batch, []

    def while_scanning(scan, related):
        rows = scan_batch(scan, related)
        calls.append(len(rows))
        if len(calls) == 1:  # after the first batch: an update and a row with an early timestamp commit
            with source.begin() as conn:
                conn.execute(tj_ajxx.update().where(tj_ajxx.c.ajid == ROWS).values(zt="60"))
                conn.execute(tj_ajxx.insert(), [row(100, T0 + dt.timedelta(seconds=ROWS + 1))])
        return rows

    c._next_scan_batch = while_scanning
    if source.dialect.name == "sqlite":  # read in pages (a SQLite reader would block the writer): no scan
        calls.append(0)
        while_scanning_paged = c._fetch

        def fetch(window_from, after):
            rows = while_scanning_paged(window_from, after)
            if len(calls) == 1:
                calls.append(len(rows))
                with source.begin() as conn:
                    conn.execute(tj_ajxx.update().where(tj_ajxx.c.ajid == ROWS).values(zt="60"))
                    conn.execute(tj_ajxx.insert(), [row(100, T0 + dt.timedelta(seconds=ROWS + 1))])
            return rows

        c._fetch = fetch
    await c.poll()
    await c.poll()  # the lag window reads what committed during the snapshot
    assert await c.poll() == 0
    assert calls, "the snapshot never ran"
    events = await h.events()
    ids = [int(e["source"]["record_id"]) for e in events]
    assert set(ids) == {*range(1, ROWS + 1), 100}
    latest = {e["source"]["record_id"]: e["event_type"] for e in events}
    assert latest[str(ROWS)] == "WITHDRAWN"  # the update is published, whichever version the snapshot saw
    assert len(ids) - len(set(ids)) <= 1  # at most the updated row twice (snapshot version, then the new one)


async def test_a_snapshot_that_fails_midway_is_done_again_without_loss_or_repeats(source, make_harness):
    insert(source, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, ROWS + 1)])
    h = make_harness(source, batch_size=5)
    c = await h.connector()
    send, sent = c._send, []

    async def fail_third(prepared):
        if len(sent) == 2:
            raise RuntimeError("injected: the connector dies before its third batch")
        sent.append(len(prepared))
        return await send(prepared)

    c._send = fail_third
    with pytest.raises(RuntimeError, match="injected"):
        await c.poll()
    assert c.watermark is not None  # in memory only: no checkpoint was written
    again = await h.connector()  # a fresh process: no watermark, so the snapshot starts over
    assert again.watermark is None
    assert await again.poll() == ROWS - 10
    ids = sorted(int(e["source"]["record_id"]) for e in await h.events())
    assert ids == list(range(1, ROWS + 1))  # every row once


async def test_the_streamed_snapshot_publishes_what_mapping_each_row_gives(source, make_harness):
    rows = [row(i, T0 + dt.timedelta(seconds=i % 7)) for i in range(1, ROWS + 1)]  # cursor values repeat
    insert(source, *rows)
    h = make_harness(source, batch_size=4)
    c = await h.connector()
    assert await c.poll() == ROWS
    assert await c.poll() == 0
    local = MappedAdapter(builtin_mappings()["mediation"], Protector("capture-test"))
    assert {e["event_id"] for e in await h.events()} == {local.map_row(r, T0).event["event_id"] for r in rows}
    assert c.watermark == max(r["gxsj"] for r in rows)
