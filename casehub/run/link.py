"""`casehub link split|join`: publish an operator's correction of automatic linking (cn.casehub.LinkCorrection).

A correction is an event like any other: the worker folds it, it wins over the automatic rules, and it survives
replays and rebuilds (it stays on its topic and in the worker's state). Records are named SYSTEM:RECORD_ID as
the case page shows them; a case id stands for the record its id derives from (its anchor).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import uuid

from casehub.ground.kafka import clients_for, ensure_topics
from casehub.ground.settings import Settings
from casehub.schemas.codec import codec_for


class LinkError(ValueError):
    """The correction cannot be made: the message says which record or case and why."""


def parse_record(text: str) -> dict:
    """SYSTEM:RECORD_ID -> {system, record_id} (the record id may itself hold colons)."""
    system, sep, record_id = text.partition(":")
    if not sep or not system or not record_id:
        raise LinkError(f"{text!r} is not SYSTEM:RECORD_ID (e.g. ln-arbitration:1288)")
    return {"system": system, "record_id": record_id}


def anchor_record(settings: Settings, case_id: str) -> dict:
    """The record a case id derives from, read from the case view (a redirect is followed)."""
    from casehub.sinks.case_view import create_engine, load_case

    engine = create_engine(settings.case_view)
    try:
        seen = set()
        with engine.connect() as conn:
            case = load_case(conn, case_id)
            while case is not None and case.get("merged_into") and case["case_id"] not in seen:
                seen.add(case["case_id"])
                case = load_case(conn, case["merged_into"])
    finally:
        engine.dispose()
    if case is None:
        raise LinkError(f"no case {case_id} in the case view ({settings.case_view})")
    anchor = case.get("anchor_event_id")
    for entry in case.get("timeline", []):
        if anchor in entry.get("event_ids", [entry["event_id"]]) or entry["event_id"] == anchor:
            return {"system": entry["source"]["system"], "record_id": entry["source"]["record_id"]}
    raise LinkError(f"case {case['case_id']} names no anchor record; name the record with --record SYSTEM:RECORD_ID")


def correction(
    action: str,
    records: list[dict],
    case_ids: list[str],
    operator: str | None,
    reason: str,
    now: dt.datetime | None = None,
) -> dict:
    """A LinkCorrection record.

    Raises:
        LinkError: a SPLIT not of one record, a JOIN not of two different records.
    """
    if action == "SPLIT" and len(records) != 1:
        raise LinkError("split takes one record out of its case: name exactly one --record (or --case)")
    if action == "JOIN" and (len(records) != 2 or records[0] == records[1]):
        raise LinkError("join makes the cases of two records one: name two different records (--record or --case)")
    return {
        "correction_id": uuid.uuid4().hex,
        "action": action,
        "records": records,
        "case_ids": case_ids,
        "issued_at": now or dt.datetime.now(dt.UTC),
        "operator": operator or getpass.getuser(),
        "reason": reason,
    }


async def publish(settings: Settings, value: dict) -> None:
    """Publish the correction and wait for the broker's acknowledgement."""
    kafka, topic = clients_for(settings), settings.topics.corrections
    await ensure_topics(
        kafka, [s for s in settings.topics.specs(settings.partitions) if s.name == topic], settings.replication_factor
    )
    codec = codec_for(settings)
    data = await asyncio.to_thread(codec.encode, topic, value)
    producer = kafka.producer()
    await producer.start()
    try:
        await producer.send_and_wait(topic, data, key=value["correction_id"].encode())
    finally:
        await producer.stop()


def run(
    settings: Settings, action: str, records: list[str], cases: list[str], operator: str | None, reason: str
) -> dict:
    """Resolve the named records and cases, publish the correction, return it."""
    named = [parse_record(r) for r in records] + [anchor_record(settings, c) for c in cases]
    value = correction(action.upper(), named, list(cases), operator, reason)
    asyncio.run(publish(settings, value))
    return value
