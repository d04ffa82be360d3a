"""`casehub rebuild-view`: the case view rebuilt from the topics, with a progress bar. The result has the same content
as the live store (tests/integration/test_view_rebuild.py and test_confirmation_e2e.py compare them table by table).

What it reads, in this order: the roster file; the confirmation log (every request the relay knew, its state and
deliveries, so a rebuilt view never sends a delivered request again); the case topic (each case's latest version
only; requests of agreements eligible in it and not in the log are added as the sink adds them); the courts' answers
(casehub.confirmation.responses); the confirmation path's alerts (casehub.alerts, ids of requests).
"""

from __future__ import annotations

import sqlalchemy as sa
from aiokafka import TopicPartition
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from casehub.ground.kafka import clients_for, read_to_end
from casehub.sinks.case_view import (
    add_alerts,
    add_answer,
    apply_log_entry,
    create_engine,
    mark_judged,
    upsert_cases,
    write_roster,
)
from casehub.sinks.confirmation_relay import entry_from_json
from casehub.sinks.reference import load_reference
from casehub.sinks.view_tables import CONTENT


async def _sizes(kafka, topics: list[str]) -> dict[str, int]:
    """Messages in each topic (end minus beginning offsets), the progress bars' totals."""
    consumer = kafka.consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        parts = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or [])]
        consumer.assign(parts)  # an assigned consumer stops cleanly (aiokafka waits for an assignment otherwise)
        ends, starts = await consumer.end_offsets(parts), await consumer.beginning_offsets(parts)
        return {t: sum(ends[tp] - starts[tp] for tp in parts if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


async def rebuild_view(settings, codec, url: str | None = None, show_progress: bool = True, batch: int = 500) -> dict:
    """Rebuild the case view at `url` (default: the configured one) from the topics; returns counts per source.

    The target's content tables are emptied first: point CASEHUB_CASE_VIEW_URL (or --url) at a new database to
    keep the live one while rebuilding.
    """
    from casehub.sinks.case_view_sink import confirmation_days

    kafka, topics = clients_for(settings), settings.topics
    engine = create_engine(url or settings.case_view)
    ref = load_reference(settings)
    days = confirmation_days(settings)
    sources = [topics.confirmation_log, topics.cases, topics.confirmation_responses, topics.alerts]
    sizes = await _sizes(kafka, sources)
    counts = {"confirmation_log": 0, "cases": 0, "answers": 0, "alerts": 0}
    with engine.begin() as conn:
        for table in reversed(CONTENT):
            conn.execute(table.delete())
        if ref is not None:
            write_roster(conn, ref.roster)
    columns = (TextColumn("{task.description:24}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("confirmation log", total=sizes[topics.confirmation_log])
        async for msg in read_to_end(kafka, topics.confirmation_log):
            if msg.value:
                with engine.begin() as conn:
                    apply_log_entry(conn, entry_from_json(msg.value.decode()))
                counts["confirmation_log"] += 1
            progress.advance(task)
        # Only each case's latest version: the log holds what the relay did after the last of them, and replaying
        # the earlier ones would judge the agreements again on their way through history (eligible, at a court,
        # eligible again) and move requests the relay already settled. The topic is keyed by case id, so the
        # latest version is the last message of its key; the scan reads keys only, nothing is decoded twice.
        task = progress.add_task("case versions (scan)", total=sizes[topics.cases])
        last: dict[bytes, tuple[int, int]] = {}
        async for msg in read_to_end(kafka, topics.cases):
            last[msg.key] = (msg.partition, msg.offset)
            progress.advance(task)
        task = progress.add_task("cases", total=sizes[topics.cases])
        pending: list[dict] = []

        def flush():
            with engine.begin() as conn:
                upsert_cases(conn, pending, ref, days)
            pending.clear()

        async for msg in read_to_end(kafka, topics.cases):
            progress.advance(task)
            if msg.value is None or msg.key is not None and last[msg.key] != (msg.partition, msg.offset):
                continue  # a deleted case, or a version a later message of the same case replaces
            pending.append(codec.decode(msg.value, msg.topic, msg.partition, msg.offset))
            counts["cases"] += 1
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        with engine.begin() as conn:
            mark_judged(conn, ref, days)
        task = progress.add_task("court answers", total=sizes[topics.confirmation_responses])
        async for msg in read_to_end(kafka, topics.confirmation_responses):
            with engine.begin() as conn:
                counts["answers"] += add_answer(conn, codec.decode(msg.value, msg.topic, msg.partition, msg.offset))
            progress.advance(task)
        task = progress.add_task("alerts", total=sizes[topics.alerts])
        async for msg in read_to_end(kafka, topics.alerts):
            alert = codec.decode(msg.value, msg.topic, msg.partition, msg.offset)
            if alert["alert_id"].startswith("CR-"):  # the confirmation path's alerts are the view's
                with engine.begin() as conn:
                    counts["alerts"] += add_alerts(conn, [alert])
            progress.advance(task)
    engine.dispose()
    return counts


def content_of(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every content table's rows, sorted: what a live view and its rebuild must share."""
    out = {}
    with engine.connect() as conn:
        for table in CONTENT:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in r) for r in rows)
    return out
