"""The same events published in two different orders on the real broker give the same case records through the
worker; Confluent's AvroDeserializer reads what it publishes with nothing but the registry URL."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time

from casehub.ground.kafka import clients, ensure_topics
from casehub.schemas.codec import codec_for
from casehub.streams.worker import LinkWorker
from tests.support.delivery import latest_cases
from tests.support.samples import sample_events


async def run_worker_until(settings, codec, messages: int) -> None:
    """Run a worker (it restores its state from the topic) until it has folded `messages` new messages."""
    stop = asyncio.Event()
    worker = LinkWorker(settings, codec)
    task = asyncio.create_task(worker.run(stop))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not task.done() and worker.stats["messages"] < messages:
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await task
    assert worker.stats["messages"] >= messages, worker.stats


async def fold_in_order(settings, events, order) -> dict:
    """Publish `events` in `order` to this settings' topics, run a worker until the case topic holds every case of
    the sample, and return the live records without their history (version, redirects)."""
    codec = codec_for(settings)
    await ensure_topics(settings.bootstrap, settings.topics.specs(settings.partitions))
    producer = clients(settings.bootstrap).producer()
    await producer.start()
    try:
        for i in order:
            agency, event = events[i]
            topic = settings.topics.for_agency(agency)
            await producer.send(topic, codec.encode(topic, event), key=event["source"]["record_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()
    await run_worker_until(settings, codec, len(order))
    latest = await latest_cases(settings, codec)
    live = {cid: r for cid, r in latest.items() if r["merged_into"] is None}
    for r in latest.values():  # every redirect leads to a live case
        assert r["merged_into"] is None or r["merged_into"] in live
    return {cid: {k: v for k, v in r.items() if k not in ("version", "redirects")} for cid, r in live.items()}


async def test_two_orders_on_the_broker_give_the_same_cases(hub_settings, tmp_path):
    events, truth = sample_events(tmp_path / "sample", 40, seed=21)
    forward = list(range(len(events)))
    shuffled = random.Random(5).sample(forward, len(forward))
    first = await fold_in_order(
        dataclasses.replace(hub_settings, topic_prefix=hub_settings.topic_prefix + "a."), events, forward
    )
    second = await fold_in_order(
        dataclasses.replace(hub_settings, topic_prefix=hub_settings.topic_prefix + "b."), events, shuffled
    )
    assert len(first) == len(truth)
    assert first == second


async def test_confluent_deserializer_reads_the_case_and_enriched_topics(hub_settings, tmp_path, registry_url):
    from confluent_kafka import DeserializingConsumer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer

    events, truth = sample_events(tmp_path / "sample", 12, seed=3)
    cases = await fold_in_order(hub_settings, events, list(range(len(events))))
    t = hub_settings.topics
    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": hub_settings.kafka_bootstrap,
            "group.id": f"{t.prefix}confluent",
            "auto.offset.reset": "earliest",
            "value.deserializer": AvroDeserializer(SchemaRegistryClient({"url": registry_url})),
        }
    )
    consumer.subscribe([t.cases, t.enriched])
    got: dict[str, dict] = {t.cases: {}, t.enriched: {}}
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and (
            len(got[t.cases]) < len(cases) or len(got[t.enriched]) < len(events) // 2
        ):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                value = msg.value()
                got[msg.topic()][value["case_id"] if msg.topic() == t.cases else value["event_id"]] = value
    finally:
        consumer.close()
    assert set(cases) <= set(got[t.cases])
    some = next(iter(got[t.enriched].values()))
    assert some["case_ids"] and some["event"]["event_id"] == some["event_id"] and some["links"]


async def test_operator_corrections_split_and_join_and_survive_a_restart(hub_settings, tmp_path):
    from casehub.run.link import correction, publish

    events, truth = sample_events(tmp_path / "sample", 12, seed=8)
    codec = codec_for(hub_settings)
    cases = await fold_in_order(hub_settings, events, list(range(len(events))))
    case = next(c for c in cases.values() if len({(s["system"], s["record_id"]) for s in c["stages"]}) >= 2)
    anchor = next(e["source"] for e in case["timeline"] if case["anchor_event_id"] in e["event_ids"])
    other = next(s for s in case["stages"] if (s["system"], s["record_id"]) != (anchor["system"], anchor["record_id"]))
    record = {"system": other["system"], "record_id": other["record_id"]}

    await publish(hub_settings, correction("SPLIT", [record], [case["case_id"]], "test", "not this dispute"))
    await run_worker_until(hub_settings, codec, 1)  # a new worker: the state comes back from its topic
    latest = await latest_cases(hub_settings, codec)
    holder = [
        c
        for c in latest.values()
        if not c["merged_into"]
        and any((s["system"], s["record_id"]) == (record["system"], record["record_id"]) for s in c["stages"])
    ]
    assert len(holder) == 1 and holder[0]["case_id"] != case["case_id"]
    assert [link["rule"] for link in holder[0]["links"] if link["event_id"] == holder[0]["anchor_event_id"]] == [
        "OTHER"
    ]
    remaining = latest[case["case_id"]]
    assert remaining["merged_into"] is None and all(
        s["record_id"] != record["record_id"] or s["system"] != record["system"] for s in remaining["stages"]
    )

    join = correction(
        "JOIN", [{"system": anchor["system"], "record_id": anchor["record_id"]}, record], [], "test", "it is"
    )
    await publish(hub_settings, join)
    await run_worker_until(hub_settings, codec, 1)
    latest = await latest_cases(hub_settings, codec)
    assert latest[holder[0]["case_id"]]["merged_into"] == case["case_id"]  # the split-off id redirects again
    joined = latest[case["case_id"]]
    assert {"CORRECTION"} <= {link["rule"] for link in joined["links"]}
    assert any(link.get("correction_id") == join["correction_id"] for link in joined["links"])
