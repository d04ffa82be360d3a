"""A change that keeps the cursor value (second- or day-precision update times) is published once, in polling and
in reconciliation; an unchanged re-read publishes nothing; row state written before digests keeps working
(item 7 of issue 10). On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from casehub.connectors.adapters.mediation import tj_ajxx
from casehub.connectors.rowstate import encode_entry
from tests.support.capture import T0, insert, row


def set_status(engine, ajid: int, zt: str) -> None:
    """Change the status and nothing else: the update time keeps its second."""
    with engine.begin() as conn:
        conn.execute(tj_ajxx.update().where(tj_ajxx.c.ajid == ajid).values(zt=zt))


def types_of(events, record_id: str) -> list[str]:
    return [e["event_type"] for e in events if e["source"]["record_id"] == record_id]


async def test_a_second_change_in_the_same_second_is_published_once(harness):
    insert(harness.engine, row(1, T0, zt="60"))  # WITHDRAWN
    c = await harness.connector()
    assert await c.poll() == 1
    set_status(harness.engine, 1, "80")  # AGREEMENT_DEFAULTED, 0.3 s later: same gxsj
    assert await c.poll() == 1
    assert await c.poll() == 0  # an unchanged re-read publishes nothing
    events = await harness.events()
    assert types_of(events, "1") == ["WITHDRAWN", "AGREEMENT_DEFAULTED"]
    assert len({e["event_id"] for e in events}) == 2  # a new event, not a duplicate of the first
    restarted = await harness.connector()
    assert await restarted.poll() == 0  # the digest survives a restart
    assert (await restarted.reconcile())["missed"] == 0


async def test_reconciliation_catches_a_same_cursor_change_the_window_missed(make_harness, source):
    h = make_harness(source, lag_seconds=0)  # no window: only reconciliation can see it
    insert(source, row(1, T0, zt="60"), row(2, T0 + dt.timedelta(minutes=5)))
    c = await h.connector()
    assert await c.poll() == 2
    set_status(source, 1, "80")
    assert await c.poll() == 0  # behind the watermark
    assert (await c.reconcile())["missed"] == 1
    assert (await c.reconcile())["missed"] == 0
    assert types_of(await h.events(), "1") == ["WITHDRAWN", "AGREEMENT_DEFAULTED"]


async def test_row_state_without_digests_keeps_working_after_an_upgrade(harness):
    insert(harness.engine, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 6)])
    c = await harness.connector()
    assert await c.poll() == 5
    # the entries as the connector wrote them before digests: version, refs, published
    old = {rid: (v, encode_entry({"v": v, "refs": [], "published": True})) for rid, v in c.rowstate.versions.items()}
    await c.rowstate.record(old)
    upgraded = await harness.connector()
    assert await upgraded.poll() == 0  # nothing republished
    assert (await upgraded.reconcile())["missed"] == 0
    assert len(await harness.events()) == 5
    set_status(harness.engine, 3, "80")  # and a same-cursor change after the upgrade is seen
    assert await upgraded.poll() == 1
    assert types_of(await harness.events(), "3")[-1] == "AGREEMENT_DEFAULTED"


@pytest.mark.parametrize("workers", [1])
async def test_worker_processes_see_same_cursor_changes_too(workers, tmp_path, make_harness):
    from casehub.connectors.adapters.mediation import metadata

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    metadata.create_all(engine)
    insert(engine, row(1, T0, zt="60"), row(2, T0 + dt.timedelta(seconds=1)))
    h = make_harness(engine)
    c = await h.connector(workers=workers)
    assert await c.poll() == 2
    set_status(engine, 1, "80")
    assert await c.poll() == 1
    assert await c.poll() == 0
    assert types_of(await h.events(), "1") == ["WITHDRAWN", "AGREEMENT_DEFAULTED"]
