"""The linking stage without Kafka: the sample's cases come out as its ground truth has them, a redelivered
batch publishes nothing new, and the order of arrival changes nothing."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from casehub.domain.rules import CaseRules
from casehub.ground.topics import Topics
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.streams.linker import Linker
from tests.support.samples import Message, messages, sample_events

T = Topics("unit.")
NOW = dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC)
SYSTEMS = {
    "mediation": "ln-mediation-platform",
    "arbitration": "ln-arbitration",
    "court": "ln-court",
    "inspection": "ln-labour-inspection",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_events(tmp_path_factory.mktemp("sample"), 30, seed=5)


@pytest.fixture
def codec():
    return AvroCodec(MemoryRegistry(), prefix=T.prefix)


def linker(codec) -> Linker:
    return Linker(codec, T, CaseRules(), lambda: NOW)


def live(codec, out_messages) -> dict[str, dict]:
    latest = {}
    for topic, _, value in out_messages:
        if topic == T.cases:
            record = codec.decode(value)
            latest[record["case_id"]] = record
    return {cid: r for cid, r in latest.items() if r["merged_into"] is None}


def test_one_batch_gives_the_ground_truth_cases(sample, codec):
    events, truth = sample
    out = linker(codec).step(messages(codec, T, events))
    cases = live(codec, out.messages)
    assert len(cases) == len(truth)
    want = sorted(sorted((SYSTEMS[r["system"]], r["record_id"]) for r in c["records"]) for c in truth)
    got = sorted(
        sorted({(e["source"]["system"], e["source"]["record_id"]) for e in c["timeline"]}) for c in cases.values()
    )
    assert got == want
    assert out.dead == 0


def test_a_redelivered_batch_publishes_no_case_again(sample, codec):
    events, _ = sample
    batch = messages(codec, T, events)
    link = linker(codec)
    first = link.step(batch)
    again = link.step(batch)
    assert first.cases > 0 and again.cases == 0 and again.state == []


def _final(codec, link_messages_in_order) -> dict:
    link, published = None, []
    for batch in link_messages_in_order:
        link = link or linker(codec)
        published += link.step(batch).messages
    # version and redirects record the history of arrival (how many updates, which ids once existed); the rest
    # is a function of the set of events
    return {
        cid: {k: v for k, v in r.items() if k not in ("version", "redirects")}
        for cid, r in live(codec, published).items()
    }


def test_any_arrival_order_gives_the_same_cases(sample, codec):
    events, _ = sample
    batch = messages(codec, T, events)
    rng = random.Random(3)
    shuffled = rng.sample(batch, len(batch))
    one_by_one = _final(codec, [[m] for m in batch])
    reversed_ = _final(codec, [[m] for m in reversed(batch)])
    shuffled_batches = _final(codec, [shuffled[i : i + 7] for i in range(0, len(shuffled), 7)])
    assert one_by_one == reversed_ == shuffled_batches
    assert len(one_by_one) == len(sample[1])


def test_a_running_deadline_turns_missed_when_its_day_passes_without_a_new_event(codec):
    from tests.support.events import event

    applied = event(1, "APPLIED", 0)  # a mediation received on 2024-03-01: 15 days to an agreement
    clock = {"now": dt.datetime(2024, 3, 5, tzinfo=dt.UTC)}
    link = Linker(codec, T, CaseRules(), lambda: clock["now"])
    topic = T.mediation
    first = live(
        codec, link.step([Message(topic, 0, 0, None, codec.encode(topic, {**applied, "claims": []}))]).messages
    )
    (case,) = first.values()
    assert [(d["kind"], d["state"]) for d in case["deadlines"]] == [("MEDIATION_15_DAYS", "RUNNING")]
    assert link.sweep().messages == []  # nothing came due yet
    clock["now"] = dt.datetime(2024, 3, 20, tzinfo=dt.UTC)
    (later,) = live(codec, link.sweep().messages).values()
    assert [(d["kind"], d["state"]) for d in later["deadlines"]] == [("MEDIATION_15_DAYS", "MISSED")]
    assert later["version"] == case["version"] + 1


def test_the_main_row_and_its_history_row_reporting_one_change_are_one_timeline_entry(codec):
    from casehub.connectors.adapter import MappedAdapter
    from casehub.connectors.mapping import builtin_mappings
    from casehub.connectors.sample import mediation_rows
    from casehub.domain.identities import Protector

    row = mediation_rows(1, seed=4)[0] | {"zt": "30", "gxsj": "2024-03-04 10:00:00"}
    main = MappedAdapter(builtin_mappings()["mediation"], Protector("k")).map_row(row, NOW).event
    history = MappedAdapter(builtin_mappings()["mediation_history"], Protector("k"))
    changes = [
        history.map_row(row | {"xh": i, "zt": zt, "bgsj": at}, NOW).event
        for i, (zt, at) in enumerate(
            [("10", "2024-03-01 09:00:00"), ("20", "2024-03-02 09:00:00"), ("30", "2024-03-04 10:00:00")], 1
        )
    ]
    assert changes[-1]["event_id"] == main["event_id"]  # same record, same time: the same event
    out = linker(codec).step(messages(codec, T, [("MEDIATION", e) for e in (*changes, main)]))
    (case,) = live(codec, out.messages).values()
    assert [e["event_type"] for e in case["timeline"]] == ["APPLIED", "ACCEPTED", "SESSION_HELD"]
