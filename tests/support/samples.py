"""Agency events of the sample generator, mapped by the reference mappings as the connectors map them (no broker)."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.reads import as_dicts
from casehub.connectors.rows import map_rows
from casehub.connectors.samples.databases import create_sample_databases
from casehub.domain.identities import Protector

INGESTED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def sample_events(out_dir: Path, cases: int, seed: int = 7) -> tuple[list[tuple[str, dict]], list[dict]]:
    """(agency, event) of every row (history rows included) of a fresh sample, and its ground truth."""
    create_sample_databases(out_dir, cases, seed)
    protector, events = Protector("sample-secret"), []
    for mapping in builtin_mappings().values():
        engine = sa.create_engine(f"sqlite:///{out_dir / (mapping.database + '.db')}")
        adapter = MappedAdapter(mapping, protector).bind(engine)
        with engine.connect() as conn:
            rows = adapter.attach_related(conn, as_dicts(conn.execute(sa.select(adapter.table))))
        engine.dispose()
        for outcome in map_rows(adapter, rows, INGESTED):
            assert outcome.mapped, f"{mapping.name} {outcome.record_id}: {outcome.error}"
            events.append((mapping.agency, outcome.mapped.event))
    truth = json.loads((out_dir / "ground_truth.json").read_text(encoding="utf-8"))
    return events, truth


@lru_cache(maxsize=4)
def _cached(cases: int, seed: int, folder: str):
    return sample_events(Path(folder), cases, seed)


def messages(codec, topics, events: list[tuple[str, dict]]) -> list[Message]:
    """The events as the worker consumes them (Confluent-framed Avro on each agency's topic)."""
    out = []
    for i, (agency, event) in enumerate(events):
        topic = topics.for_agency(agency)
        out.append(Message(topic, 0, i, event["source"]["record_id"].encode(), codec.encode(topic, event)))
    return out
