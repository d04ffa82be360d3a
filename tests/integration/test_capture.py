"""Capture that survives real databases: late commits, restarts, deletes, bad rows (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.adapters.mediation import metadata, tj_ajxx
from casehub.connectors.mapping import builtin_mappings
from casehub.domain.identities import Protector
from tests.support.capture import T0, Harness, insert, row
from tests.support.kafka import read_topic


async def late_commit_scenario(h: Harness, lag_seconds: float) -> set[str]:
    """Row 1 gets its timestamp (T0) in a transaction that commits after row 2 (T0 + 10 s) was read."""
    h.lag_seconds = lag_seconds
    c = await h.connector()
    late = h.engine.connect()
    h.cleanup.append(
        late.close
    )  # closed even if an assertion fails before the commit (it would hold MariaDB's table locks)
    tx = late.begin()
    if h.engine.dialect.name != "sqlite":
        late.execute(tj_ajxx.insert(), [row(1, T0)])  # uncommitted: invisible to the connector
    insert(h.engine, row(2, T0 + dt.timedelta(seconds=10)))
    assert await c.poll() == 1
    if h.engine.dialect.name == "sqlite":
        # SQLite lets one writer at a time: the long transaction, which took its timestamp first, writes now
        late.execute(tj_ajxx.insert(), [row(1, T0)])
    tx.commit()
    late.close()
    await c.poll()
    published = {e["source"]["record_id"] for e in await h.events()}
    h.last_connector = c
    return published


async def test_late_commit_is_not_lost(harness):
    assert await late_commit_scenario(harness, lag_seconds=60) == {"1", "2"}


async def test_naive_polling_loses_the_late_commit_and_reconciliation_recovers_it(harness):
    # lag 0 is plain timestamp+id polling: the known failure this connector is designed against
    assert await late_commit_scenario(harness, lag_seconds=0) == {"2"}
    assert (await harness.last_connector.reconcile())["missed"] == 1
    assert {e["source"]["record_id"] for e in await harness.events()} == {"1", "2"}


async def test_restart_resumes_without_gap_or_duplicate(source, make_harness):
    h = make_harness(source, batch_size=7)

    insert(source, *[row(i, T0 + dt.timedelta(minutes=i)) for i in range(1, 26)])
    first = await h.connector()
    assert await first.poll() == 25
    # a connector that crashed after publishing a batch but before its checkpoint
    insert(source, *[row(i, T0 + dt.timedelta(minutes=i)) for i in range(26, 31)])
    crashed = await h.connector()
    with source.connect() as conn:  # closed at once: on MariaDB an open read would block the fixture's DROP TABLE
        unpublished = [dict(r._mapping) for r in conn.execute(sa.select(tj_ajxx).where(tj_ajxx.c.ajid >= 26))]
    assert await crashed.publish(unpublished) == 5
    # changes made while everything was stopped
    insert(source, *[row(i, T0 + dt.timedelta(minutes=i)) for i in range(31, 41)])
    with source.begin() as conn:
        conn.execute(
            tj_ajxx.update()
            .where(tj_ajxx.c.ajid == 3)
            .values(zt="20", gxsj=(T0 + dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"))
        )
    restarted = await h.connector()
    assert restarted.watermark == first.watermark
    await restarted.poll()
    events = await h.events()
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was published twice"
    assert {e["source"]["record_id"] for e in events} == {str(i) for i in range(1, 41)}
    assert [e["event_type"] for e in events if e["source"]["record_id"] == "3"] == ["APPLIED", "ACCEPTED"]


async def test_a_sweep_that_fails_midway_loses_nothing_and_repeats_nothing(harness):
    # reading and mapping run ahead of publishing: a batch that cannot be published must stop the
    # sweep with the checkpoint and row state where the last acknowledged batch left them
    harness.batch_size = 5
    insert(harness.engine, *[row(i, T0 + dt.timedelta(minutes=i)) for i in range(1, 24)])
    c = await harness.connector()
    real_send, sends = c._send, []

    async def send_then_fail(prepared):
        sends.append(len(prepared))
        if len(sends) == 2:
            raise RuntimeError("injected: the broker refused this batch for good")
        return await real_send(prepared)

    c._send = send_then_fail
    with pytest.raises(RuntimeError, match="injected"):
        await c.poll()
    assert [e["source"]["record_id"] for e in await harness.events()] == [str(i) for i in range(1, 6)]
    restarted = await harness.connector()
    assert await restarted.poll() == 18
    events = await harness.events()
    assert [int(e["source"]["record_id"]) for e in events] == list(range(1, 24))  # in cursor order, each once


async def test_deleted_row_is_reported_once(harness):
    insert(harness.engine, row(1, T0), row(2, T0 + dt.timedelta(seconds=1)), row(3, T0 + dt.timedelta(seconds=2)))
    c = await harness.connector()
    await c.poll()
    with harness.engine.begin() as conn:
        conn.execute(tj_ajxx.delete().where(tj_ajxx.c.ajid == 2))
    assert await c.reconcile() == {"missed": 0, "deleted": 1}
    assert await c.reconcile() == {"missed": 0, "deleted": 0}
    again = await harness.connector()  # the deletion survives a restart too
    assert await again.reconcile() == {"missed": 0, "deleted": 0}
    deleted = [e for e in await harness.events() if e["event_type"] == "SOURCE_RECORD_DELETED"]
    assert len(deleted) == 1 and deleted[0]["source"]["record_id"] == "2"
    assert deleted[0]["refs"][0]["number"] == "沈和调〔2026〕0002号"  # so the case it belonged to is found


async def test_a_delete_published_again_after_a_crash_is_the_same_event(harness):
    insert(harness.engine, row(1, T0), row(2, T0 + dt.timedelta(seconds=1)))
    c = await harness.connector()
    await c.poll()
    with harness.engine.begin() as conn:
        conn.execute(tj_ajxx.delete().where(tj_ajxx.c.ajid == 2))
    real_record = c.rowstate.record

    async def crash_before_tombstones(entries):
        if any(v is None for v in entries.values()):
            raise RuntimeError("injected: crashed after publishing the delete, before its tombstone")
        await real_record(entries)

    c.rowstate.record = crash_before_tombstones
    with pytest.raises(RuntimeError, match="injected"):
        await c.reconcile()
    later = await harness.connector()
    later.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # found again an hour later
    assert await later.reconcile() == {"missed": 0, "deleted": 1}
    assert await later.reconcile() == {"missed": 0, "deleted": 0}
    deleted = [e for e in await harness.events() if e["event_type"] == "SOURCE_RECORD_DELETED"]
    assert len(deleted) == 2, "published twice: once before the crash, once after"
    assert deleted[0]["event_id"] == deleted[1]["event_id"] and deleted[0]["occurred_at"] == deleted[1]["occurred_at"]


async def test_bad_rows_go_to_dead_letters_and_the_connector_carries_on(harness):
    insert(
        harness.engine,
        row(1, T0),
        row(2, T0 + dt.timedelta(seconds=1), zt="77"),
        row(3, T0 + dt.timedelta(seconds=2), sqr_sfzh="210102199003071234"),
        row(4, T0 + dt.timedelta(seconds=3)),
        row(5, T0 + dt.timedelta(seconds=4), bz="长" * 5000),
    )
    c = await harness.connector()
    await c.poll()
    await c.poll()  # bad versions are reported once, not on every poll
    assert {e["source"]["record_id"] for e in await harness.events()} == {"1", "4"}
    letters = {d["record_id"]: d for d in await harness.events(f"{harness.prefix}casehub.deadletter")}
    assert set(letters) == {"2", "3", "5"}
    assert (letters["2"]["field"], letters["2"]["error_kind"]) == ("zt", "UNKNOWN_CODE")
    assert (letters["3"]["field"], letters["3"]["error_kind"]) == ("sqr_sfzh", "INVALID_ID_NUMBER")
    assert (letters["5"]["field"], letters["5"]["error_kind"]) == ("bz", "OVERSIZED")
    assert "210102199003071234" not in (letters["3"]["payload_text"] or "")
    # the agency fixes row 2: the new version flows
    with harness.engine.begin() as conn:
        conn.execute(
            tj_ajxx.update()
            .where(tj_ajxx.c.ajid == 2)
            .values(zt="10", gxsj=(T0 + dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"))
        )
    await c.poll()
    assert "2" in {e["source"]["record_id"] for e in await harness.events()}


@pytest.mark.parametrize("workers_read", [False, True], ids=["rows-sent-to-workers", "workers-read-rows"])
async def test_worker_processes_publish_what_the_connector_would(workers_read, tmp_path, make_harness, prefix):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    insert(
        engine,
        *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 41)],
        row(41, T0 + dt.timedelta(minutes=5), zt="77"),
    )
    h = make_harness(engine, batch_size=16)
    c = await h.connector(workers=2, workers_read=workers_read)
    assert await c.poll() == 41
    assert await c.poll() == 0  # the lag window re-reads them all: nothing is published twice
    await h.close()
    events = await h.events()
    assert sorted(int(e["source"]["record_id"]) for e in events) == list(range(1, 41))
    # the same ids a connector mapping in its own process gives: deterministic across processes
    local = MappedAdapter(builtin_mappings()["mediation"], Protector("capture-test"))
    assert {e["event_id"] for e in events} == {
        local.map_row(row(i, T0 + dt.timedelta(seconds=i)), T0).event["event_id"] for i in range(1, 41)
    }
    letters = await h.events(f"{prefix}casehub.deadletter")
    assert [(d["record_id"], d["field"]) for d in letters] == [("41", "zt")]


NATIVE_MAPPING = """
[source]
name = "native"
system = "test-native"
agency = "MEDIATION"
table = "t_native"
primary_key = "id"
cursor = "changed"
cursor_type = "native"
timezone = "Asia/Shanghai"
[event]
type = { column = "status", type = "code", codes = "status" }
occurred_at = { column = "changed", type = "time", required = true }
[[refs]]
kind = "MEDIATION"
number = { column = "case_no", required = true }
[[parties]]
role = "WORKER"
party_type = "PERSON"
name = "name"
[codes.status]
A = "APPLIED"
B = "ACCEPTED"
"""

native_meta = sa.MetaData()
t_native = sa.Table(
    "t_native",
    native_meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("changed", sa.DateTime, nullable=True),
    sa.Column("status", sa.String(4)),
    sa.Column("name", sa.String(40)),
    sa.Column("case_no", sa.String(40)),
)


async def test_native_timestamp_cursor_survives_restart_and_null_cursors(source, make_harness, prefix, tmp_path):
    from casehub.connectors.mapping import load_mapping

    (tmp_path / "native.toml").write_text(NATIVE_MAPPING, encoding="utf-8")
    mapping = load_mapping(tmp_path / "native.toml")
    native_meta.drop_all(source)
    native_meta.create_all(source)
    rows = [
        {"id": i, "changed": T0 + dt.timedelta(seconds=i), "status": "A", "name": "王伟", "case_no": f"N{i}"}
        for i in range(1, 6)
    ]
    rows += [{"id": 6, "changed": None, "status": "A", "name": "李娜", "case_no": "N6"}]
    with source.begin() as conn:
        conn.execute(t_native.insert(), rows)
    h = make_harness(source, batch_size=2)

    try:
        first = await h.connector(mapping)
        assert await first.poll() == 5  # the row without a cursor value is not polled...
        again = await h.connector(mapping)  # ...and a restart restores a datetime watermark from its checkpoint
        assert again.watermark == first.watermark and isinstance(again.watermark, dt.datetime)
        with source.begin() as conn:
            conn.execute(
                t_native.insert(),
                [{"id": 7, "changed": T0 + dt.timedelta(minutes=1), "status": "B", "name": "赵敏", "case_no": "N7"}],
            )
        assert await again.poll() == 1
        result = await again.reconcile()  # ...reconciliation reads it, and the mapping dead-letters its missing time
        assert result == {"missed": 1, "deleted": 0}
    finally:
        native_meta.drop_all(source)
        await h.close()
    assert sorted(int(e["source"]["record_id"]) for e in await h.events()) == [1, 2, 3, 4, 5, 7]
    letters = await h.events(f"{prefix}casehub.deadletter")
    assert [(d["record_id"], d["field"], d["error_kind"]) for d in letters] == [("6", "changed", "MISSING_FIELD")]


async def test_malformed_or_future_cursors_and_unencodable_rows_do_not_stop_the_connector(harness):
    insert(
        harness.engine,
        row(1, T0),
        row(2, T0, gxsj="2026-05-01 09:0O:00"),
        row(3, T0 + dt.timedelta(seconds=1), qqje="99999999999999999999"),
        row(4, dt.datetime(2099, 1, 1)),
    )
    c = await harness.connector()
    await c.poll()
    assert c.watermark == "2026-05-01 09:00:01"  # neither the malformed value nor the far future moved it
    insert(harness.engine, row(5, T0 + dt.timedelta(minutes=1)))
    await c.poll()
    assert {e["source"]["record_id"] for e in await harness.events()} == {"1", "4", "5"}
    letters = {d["record_id"]: d for d in await harness.events(f"{harness.prefix}casehub.deadletter")}
    assert letters["2"]["error_kind"] == "BAD_DATE"
    assert letters["3"]["error_kind"] == "SCHEMA_MISMATCH" and "99999999999999999999" not in letters["3"]["reason"]


@pytest.mark.parametrize("name", ["mediation", "arbitration", "court", "inspection"])
async def test_workers_reading_the_sample_databases_publish_what_in_process_mapping_gives(
    name, tmp_path, make_harness, kafka_bootstrap
):
    # all four vendor layouts, related tables (arbitration's parties) included, through workers that read rows by key
    from casehub.connectors.rows import map_rows
    from casehub.connectors.samples.databases import create_sample_databases

    create_sample_databases(tmp_path, 20, seed=11)
    mapping = builtin_mappings()[name]
    url = f"sqlite:///{tmp_path / (mapping.database + '.db')}"
    engine = sa.create_engine(url)
    adapter = MappedAdapter(mapping, Protector("capture-test")).bind(engine)
    h = make_harness(engine, batch_size=9)
    c = await h.connector(mapping, workers=2)
    codec, topic, ids = h.codec, c.destinations.events, c.destinations.identities
    await c.poll()
    await h.close()
    with engine.connect() as conn:
        rows = adapter.attach_related(conn, [dict(r._mapping) for r in conn.execute(sa.select(adapter.table))])
    expected = {o.mapped.event["event_id"]: o.mapped for o in map_rows(adapter, rows, T0) if o.mapped}
    events = {e["event_id"]: e for e in (codec.decode(m.value) for m in await read_topic(kafka_bootstrap, topic))}
    assert set(events) == set(expected) and len(events) >= 5
    assert {k: len(e["parties"]) for k, e in events.items()} == {
        k: len(m.event["parties"]) for k, m in expected.items()
    }
    identities = await read_topic(kafka_bootstrap, ids) if any(m.identities for m in expected.values()) else []
    assert len(identities) == sum(len(m.identities) for m in expected.values())


@pytest.mark.parametrize(
    "partitions, config, expected",
    [
        (1, {"cleanup.policy": "delete"}, "cleanup.policy=delete, the hub needs cleanup.policy=compact"),
        (3, {"cleanup.policy": "compact"}, "has 3 partitions, the hub needs 1"),
    ],
)
async def test_a_state_topic_made_otherwise_stops_the_connector_with_the_fix(
    partitions, config, expected, kafka_bootstrap, prefix
):
    # row state read from partition 0 only, or deleted by retention, would mean republishing everything
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from casehub.connectors.checkpoints import KafkaCheckpointStore
    from casehub.connectors.rowstate import RowState
    from casehub.ground.kafka import TopicMismatch
    from casehub.ground.publish import MemoryPublisher

    topic = f"{prefix}_casehub_connector_rows"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1, topic_configs=config)]
        )
    finally:
        await admin.close()
    publisher = MemoryPublisher()  # nothing is sent: the check comes first
    with pytest.raises(TopicMismatch, match=expected) as caught:
        await RowState(kafka_bootstrap, topic, "mediation").start(publisher)
    assert topic in str(caught.value)
    # and a topic made right is accepted as it is
    ok = f"{prefix}_casehub_connector_offsets"
    await KafkaCheckpointStore(kafka_bootstrap, ok).start(publisher)
    await KafkaCheckpointStore(kafka_bootstrap, ok).start(publisher)  # second start: existing topic checked, accepted


async def test_a_killed_mapping_worker_is_replaced_and_nothing_is_lost(tmp_path, make_harness):
    import os
    import signal

    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    insert(engine, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 31)])
    h = make_harness(engine, batch_size=10)
    c = await h.connector(workers=2)  # started: its workers answer
    os.kill(c.pool.pids()[0], signal.SIGKILL)  # e.g. the kernel's OOM killer
    assert await c.poll() == 30
    assert c.pool.restarts == 1
    await h.close()
    events = await h.events()
    assert sorted(int(e["source"]["record_id"]) for e in events) == list(range(1, 31))


COMPOSITE_MAPPING = """
[source]
name = "composite"
system = "test-composite"
agency = "MEDIATION"
table = "t_composite"
primary_key = ["org", "seq"]
cursor = "changed"
cursor_type = "int"
[event]
type = { column = "status", type = "code", codes = "status" }
occurred_at = { column = "at", type = "time", format = "epoch_ms" }
[[refs]]
kind = "MEDIATION"
number = { column = "case_no", required = true }
[codes.status]
A = "APPLIED"
B = "ACCEPTED"
"""

composite_meta = sa.MetaData()
t_composite = sa.Table(
    "t_composite",
    composite_meta,
    sa.Column("org", sa.String(8), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("status", sa.String(2)),
    sa.Column("at", sa.BigInteger),
    sa.Column("case_no", sa.String(40)),
    sa.Index("t_composite_changed", "changed", "org", "seq"),
)


@pytest.mark.parametrize("workers_read", [False, True], ids=["in-process", "workers-read-rows"])
async def test_a_composite_primary_key_is_read_paged_updated_and_deleted_once(
    workers_read, source, make_harness, tmp_path
):
    # (org, seq) keys, all on the same cursor value so that paging must go by the whole key; one org is "A|B" to
    # show that the text record id cannot confuse ("A|B", 1) with ("A", "B|1")-like keys
    from casehub.connectors.mapping import load_mapping

    (tmp_path / "composite.toml").write_text(COMPOSITE_MAPPING, encoding="utf-8")
    mapping = load_mapping(tmp_path / "composite.toml")
    composite_meta.drop_all(source)
    composite_meta.create_all(source)
    keys = [("ORG1", 1), ("ORG1", 2), ("ORG2", 1), ("A|B", 1), ("ORG2", 2), ("ORG3", 7), ("ORG1", 3)]
    with source.begin() as conn:
        conn.execute(
            t_composite.insert(),
            [
                {"org": o, "seq": n, "changed": 1, "status": "A", "at": 1_700_000_000_000, "case_no": f"C-{o}-{n}"}
                for o, n in keys
            ],
        )
    h = make_harness(source, batch_size=2)

    async def connector():
        return await h.connector(mapping, workers=2 if workers_read else 0)

    try:
        first = await connector()
        assert await first.poll() == 7
        with source.begin() as conn:
            conn.execute(
                t_composite.update()
                .where(t_composite.c.org == "ORG2", t_composite.c.seq == 1)
                .values(status="B", changed=2)
            )
            conn.execute(t_composite.delete().where(t_composite.c.org == "A|B"))
        again = await connector()  # a restart: resumes from Kafka
        assert await again.poll() == 1
        assert await again.reconcile() == {"missed": 0, "deleted": 1}
        assert await again.poll() == 0
    finally:
        await h.close()
        composite_meta.drop_all(source)
    events = await h.events()
    ids = [e["source"]["record_id"] for e in events]
    assert sorted(ids) == sorted(
        ["ORG1|1", "ORG1|2", "ORG2|1", "A\\|B|1", "ORG2|2", "ORG3|7", "ORG1|3", "ORG2|1", "A\\|B|1"]
    )
    assert [e["event_type"] for e in events if e["source"]["record_id"] == "ORG2|1"] == ["APPLIED", "ACCEPTED"]
    assert [e["event_type"] for e in events if e["source"]["record_id"] == "A\\|B|1"] == [
        "APPLIED",
        "SOURCE_RECORD_DELETED",
    ]


QUERY_MAPPING = """
[source]
name = "joined"
system = "test-joined"
agency = "MEDIATION"
query = \"\"\"
SELECT c.case_id, c.case_no, c.changed, s.code AS status
FROM q_case c JOIN q_status s ON s.status_id = c.status_id;
\"\"\"
primary_key = "case_id"
cursor = "changed"
cursor_type = "int"
[event]
type = { column = "status", type = "code", codes = "status" }
occurred_at = { const = 2024-01-01T00:00:00Z }
[[refs]]
kind = "MEDIATION"
number = { column = "case_no", required = true }
[codes.status]
A = "APPLIED"
B = "ACCEPTED"
"""

query_meta = sa.MetaData()
q_status = sa.Table(
    "q_status", query_meta, sa.Column("status_id", sa.Integer, primary_key=True), sa.Column("code", sa.String(2))
)
q_case = sa.Table(
    "q_case",
    query_meta,
    sa.Column("case_id", sa.Integer, primary_key=True),
    sa.Column("case_no", sa.String(20)),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("status_id", sa.Integer),
)


async def test_a_query_source_is_read_like_a_table(source, make_harness, tmp_path):
    # the status code lives in another table: the mapping reads a join, with paging, updates and deletes as for a table
    from casehub.connectors.mapping import load_mapping

    (tmp_path / "joined.toml").write_text(QUERY_MAPPING, encoding="utf-8")
    mapping = load_mapping(tmp_path / "joined.toml")
    query_meta.drop_all(source)
    query_meta.create_all(source)
    with source.begin() as conn:
        conn.execute(q_status.insert(), [{"status_id": 1, "code": "A"}, {"status_id": 2, "code": "B"}])
        conn.execute(
            q_case.insert(), [{"case_id": i, "case_no": f"Q{i}", "changed": i, "status_id": 1} for i in range(1, 6)]
        )
    h = make_harness(source, batch_size=2)
    try:
        c = await h.connector(mapping)
        assert await c.poll() == 5
        with source.begin() as conn:
            conn.execute(q_case.update().where(q_case.c.case_id == 3).values(status_id=2, changed=10))
            conn.execute(q_case.delete().where(q_case.c.case_id == 5))
        assert await c.poll() == 1
        assert await c.reconcile() == {"missed": 0, "deleted": 1}
    finally:
        await h.close()
        query_meta.drop_all(source)
    events = [(e["source"]["record_id"], e["event_type"]) for e in await h.events()]
    assert sorted(events) == sorted(
        [
            ("1", "APPLIED"),
            ("2", "APPLIED"),
            ("3", "APPLIED"),
            ("4", "APPLIED"),
            ("5", "APPLIED"),
            ("3", "ACCEPTED"),
            ("5", "SOURCE_RECORD_DELETED"),
        ]
    )
