"""The linking stage's state and its step function, without Kafka: what the worker does with a batch of messages.

It keeps every event it has folded (raw bytes, by event id), the operators' corrections, the link index
(casehub.domain.linking) and, per case id, the version and content digest last published. `step` takes the
messages of one batch and returns what to publish: case records and redirects, enriched events, dead
letters, and the state entries that let a restarted worker resume exactly where this one stopped.

Publishing order (casehub.streams.worker) makes redelivery harmless: outputs first, then state, then the
consumer's offsets. A batch consumed again after a crash finds its events known and republishes only what
differs from the recorded digests, so nothing is lost and nothing is doubled in a case record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field

from casehub.domain.cases import CaseInput, build_case, redirect_record
from casehub.domain.deadlines import local_date
from casehub.domain.linking import Correction, LinkIndex, node_of, render_links
from casehub.domain.rules import CaseRules
from casehub.ground.deadletter import dead_letter, letter_message
from casehub.ground.logs import get_logger
from casehub.schemas.codec import AvroCodec, DecodeError

SEP = b"\x00"
EVENT, CORRECTION, VERSION = "e|", "c|", "v|"  # state topic key prefixes


@dataclass
class Output:
    """What one step publishes: (topic, key, value) messages in two phases."""

    messages: list[tuple[str, bytes, bytes | None]] = field(default_factory=list)  # cases, enriched, dead letters
    state: list[tuple[str, bytes, bytes | None]] = field(default_factory=list)  # written after the messages
    cases: int = 0
    redirects: int = 0
    dead: int = 0


@dataclass
class CaseState:
    version: int
    digest: str
    records: list[tuple[str, str]]
    merged_into: str | None = None
    running_due: str | None = None  # the earliest due date of a running deadline (ISO), for the daily sweep


def _digest(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "version"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()[:32]


class Linker:
    """Linking state of one worker (the single active member of the link group).

    Args:
        codec: decodes agency events and corrections, encodes case records, enriched events, dead letters.
        topics: a casehub.ground.topics.Topics.
        rules: the case rules (window, periods, authority, calendar).
        clock: now, in UTC (deadline states depend on the date).
    """

    def __init__(self, codec: AvroCodec, topics, rules: CaseRules, clock, cache: int = 50_000):
        self.codec, self.topics, self.rules, self.clock = codec, topics, rules, clock
        self.agency_of_topic = topics.agency_of()
        self.index = LinkIndex(rules.party_match)
        self.raw: dict[str, tuple[str, bytes]] = {}  # event id -> (agency, framed Avro as published)
        self.cases: dict[str, CaseState] = {}
        self.case_of: dict[tuple[str, str], set[str]] = {}  # record -> live case ids listing it
        self._decoded: OrderedDict[str, dict] = OrderedDict()
        self._cache = cache
        self._warned: set[str] = set()
        self.log = get_logger("streams.linker")

    # -- state ------------------------------------------------------------------------------------------
    def restore(self, key: bytes, value: bytes | None) -> None:
        """Fold one state-topic entry back in (on start, before any message is consumed)."""
        name = key.decode()
        if value is None:
            return
        if name.startswith(EVENT):
            agency, _, data = value.partition(SEP)
            self._add_event(agency.decode(), data, self._decode(data))
        elif name.startswith(CORRECTION):
            self.index.correct(self._correction(self.codec.decode(value)))
        elif name.startswith(VERSION):
            doc = json.loads(value)
            self._set_case(
                name[len(VERSION) :],
                CaseState(
                    doc["version"],
                    doc["digest"],
                    [tuple(r) for r in doc["records"]],
                    doc.get("merged_into"),
                    doc.get("running_due"),
                ),
            )

    def _set_case(self, case_id: str, state: CaseState) -> None:
        old = self.cases.get(case_id)
        for record in old.records if old else ():
            self.case_of.get(record, set()).discard(case_id)
        self.cases[case_id] = state
        for record in state.records:
            self.case_of.setdefault(record, set()).add(case_id)

    def _decode(self, data: bytes) -> dict:
        return self.codec.decode(data)

    def _event(self, event_id: str) -> dict:
        found = self._decoded.get(event_id)
        if found is None:
            found = self._decoded[event_id] = self._decode(self.raw[event_id][1])
            if len(self._decoded) > self._cache:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(event_id)
        return found

    def _add_event(self, agency: str, data: bytes, event: dict) -> tuple[str, str] | None:
        node = node_of(agency, event)
        if not self.index.add(node):
            return None
        self.raw[node.event_id] = (agency, data)
        return node.record

    @staticmethod
    def _correction(value: dict) -> Correction:
        return Correction(
            value["correction_id"],
            value["action"],
            tuple((r["system"], r["record_id"]) for r in value["records"]),
            value["issued_at"],
        )

    # -- one batch --------------------------------------------------------------------------------------
    def step(self, messages) -> Output:
        """Fold a batch of consumed messages (objects with topic, partition, offset, key, value)."""
        out, touched = Output(), set()
        for msg in messages:
            try:
                if msg.topic == self.topics.corrections:
                    correction = self._correction(self.codec.decode(msg.value, msg.topic, msg.partition, msg.offset))
                    if self.index.correct(correction):
                        out.state.append(
                            (self.topics.link_state, (CORRECTION + correction.correction_id).encode(), msg.value)
                        )
                    touched.update(correction.records)
                    continue
                agency = self.agency_of_topic[msg.topic]
                event = self.codec.decode(msg.value, msg.topic, msg.partition, msg.offset)
                node = node_of(agency, event)
            except (DecodeError, KeyError, TypeError, ValueError) as exc:
                reason = (
                    str(exc)
                    if isinstance(exc, DecodeError)
                    else f"cannot read the message as an event: {type(exc).__name__}: {exc}"
                )
                letter = dead_letter(
                    "streams:link",
                    msg.topic,
                    "DECODE_ERROR",
                    reason,
                    partition=msg.partition,
                    offset=msg.offset,
                    payload=msg.value,
                )
                out.messages.append(letter_message(self.codec, self.topics.deadletter, letter))
                out.dead += 1
                self.log.warning(
                    "message to dead letters",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    reason=reason,
                )
                continue
            if self._add_event(agency, msg.value, event) is not None:
                self._decoded[node.event_id] = event
                out.state.append(
                    (self.topics.link_state, (EVENT + node.event_id).encode(), agency.encode() + SEP + msg.value)
                )
            touched.add(node.record)  # a redelivered event too: its case is checked against the recorded digest
        self._publish(touched, out)
        return out

    def sweep(self) -> Output:
        """Re-evaluate cases whose running deadlines have come due (deadline states depend on the date)."""
        today = local_date(self.clock()).isoformat()
        due = {
            r
            for s in self.cases.values()
            if s.running_due and s.running_due < today and not s.merged_into
            for r in s.records
        }
        out = Output()
        self._publish(due, out)
        return out

    def _publish(self, touched: set, out: Output) -> None:
        done: set = set()
        now = self.clock()
        today = local_date(now)
        redirected = False
        for key in sorted(touched):
            if key in done or key not in self.index.records:
                continue
            hood = self.index.neighbourhood([key])
            done |= hood
            before = {cid for k in hood for cid in self.case_of.get(k, ())}
            cases = self.index.resolve(hood)
            live = {c.case_id for c in cases}
            cases_of: dict[tuple[str, str], list[str]] = {}
            home: dict[str, str] = {}  # event id -> the case whose core holds it (else the first it is attached to)
            for c in cases:
                for k in c.core:
                    cases_of.setdefault(k, []).append(c.case_id)
                    for n in self.index.records[k].events:
                        home[n.event_id] = c.case_id
            for c in cases:
                for k in c.attached:
                    cases_of.setdefault(k, []).append(c.case_id)
                    for n in self.index.records[k].events:
                        home.setdefault(n.event_id, c.case_id)
            # ids that no longer name a case redirect to the case now holding their anchor
            for gone in sorted(before - live):
                old = self.cases[gone]
                target = home.get(self._anchor_of(old) or "") or min(live, default=None)
                if target is not None and old.merged_into != target:
                    self._redirect(gone, target, now, out)
                    redirected = True
            for c in cases:
                links = render_links(c, self.index.records)
                core = tuple(
                    (self.raw[n.event_id][0], self._event(n.event_id))
                    for k in c.core
                    for n in self.index.records[k].events
                )
                attached = tuple(
                    (self.raw[n.event_id][0], self._event(n.event_id))
                    for k in c.attached
                    for n in self.index.records[k].events
                )
                redirects = tuple(sorted(cid for cid, s in self.cases.items() if s.merged_into == c.case_id))
                record = build_case(
                    CaseInput(c.case_id, c.anchor.event_id, core, attached, links, redirects), self.rules, today
                )
                self._warn_calendar(record)
                digest = _digest(record)
                old = self.cases.get(c.case_id)
                if old is not None and old.digest == digest and old.merged_into is None:
                    continue  # as published before (a redelivery, or a change elsewhere in the neighbourhood)
                record["version"] = (old.version if old else 0) + 1
                running = [d["due"].isoformat() for d in record["deadlines"] if d["state"] == "RUNNING"]
                self._emit_case(
                    record,
                    CaseState(record["version"], digest, [*c.core, *c.attached], None, min(running, default=None)),
                    out,
                )
                for agency, event in (*core, *attached):
                    key_ = (event["source"]["system"], event["source"]["record_id"])
                    self._emit_enriched(
                        agency, event, sorted(cases_of.get(key_, [])), links.get(event["event_id"]), out
                    )
        if redirected:
            self._shorten_chains(now, out)

    def _warn_calendar(self, record: dict) -> None:
        """Say once per year when working days were counted without that year's holiday arrangements."""
        for d in record["deadlines"]:
            note = d.get("note") or ""
            if note.startswith("no holiday calendar") and note not in self._warned:
                self._warned.add(note)
                self.log.warning(
                    "deadline counted without the year's holiday calendar: Monday to Friday assumed; "
                    "add the year to the holidays file (docs/LINKING.md)",
                    note=note,
                    case_id=record["case_id"],
                )

    def _shorten_chains(self, now: dt.datetime, out: Output) -> None:
        """Ids redirected to an id that is itself a redirect now point at its target: one hop for readers."""
        for cid, s in sorted(self.cases.items()):
            target, seen = s.merged_into, {cid}
            while target and target not in seen and self.cases.get(target) and self.cases[target].merged_into:
                seen.add(target)
                target = self.cases[target].merged_into
            if s.merged_into and target and target != s.merged_into and target not in seen:
                self._redirect(cid, target, now, out)

    def _anchor_of(self, state: CaseState) -> str | None:
        """The earliest event of a case's records as they were: where its id now lives."""
        nodes = [n for k in state.records if k in self.index.records for n in self.index.records[k].events]
        return min(nodes, key=lambda n: (n.occurred_at, n.event_id)).event_id if nodes else None

    def _redirect(self, case_id: str, target: str, now: dt.datetime, out: Output) -> None:
        old = self.cases[case_id]
        record = redirect_record(case_id, target, old.version + 1, now)
        self._emit_case(record, CaseState(old.version + 1, _digest(record), [], target), out)
        out.redirects += 1
        self.log.info("case redirected", case_id=case_id, merged_into=target)

    def _emit_case(self, record: dict, state: CaseState, out: Output) -> None:
        t = self.topics
        out.messages.append((t.cases, record["case_id"].encode(), self.codec.encode(t.cases, record)))
        doc = {
            "version": state.version,
            "digest": state.digest,
            "records": state.records,
            "merged_into": state.merged_into,
            "running_due": state.running_due,
        }
        out.state.append((t.link_state, (VERSION + record["case_id"]).encode(), json.dumps(doc).encode()))
        self._set_case(record["case_id"], state)
        out.cases += record["merged_into"] is None

    def _emit_enriched(self, agency: str, event: dict, case_ids: list[str], link: dict | None, out: Output) -> None:
        t = self.topics
        value = {
            "event_id": event["event_id"],
            "agency_kind": event["source"].get("agency_kind") or agency,
            "event_type": event["event_type"],
            "occurred_at": event["occurred_at"],
            "source": event["source"],
            "case_ids": case_ids,
            "links": [link] if link else [],
            "event": (_RECORD_OF_AGENCY[agency], event),
        }
        out.messages.append((t.enriched, event["event_id"].encode(), self.codec.encode(t.enriched, value)))


# the union branch of EnrichedEvent.event for each agency topic's record
_RECORD_OF_AGENCY = {
    "MEDIATION": "cn.casehub.MediationEvent",
    "ARBITRATION": "cn.casehub.ArbitrationEvent",
    "COURT": "cn.casehub.CourtEvent",
    "INSPECTION": "cn.casehub.InspectionEvent",
}
