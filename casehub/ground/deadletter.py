"""The dead-letter envelope (schemas/avro/cn.casehub.DeadLetter.avsc) and the one way every component sends it.

What a component cannot handle (a row it cannot map, a message it cannot decode, a record the database
refuses) goes to the dead-letter topic with its source, record, field and reason; the component carries on.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from casehub.ground.logs import get_logger


def dead_letter(
    stage: str,
    topic: str,
    kind: str,
    reason: str,
    *,
    system=None,
    record_id=None,
    field=None,
    payload_text=None,
    payload=None,
    partition=None,
    offset=None,
    now: dt.datetime | None = None,
) -> dict:
    """A DeadLetter record with a deterministic id (the same failure always gets the same id).

    Args:
        stage: who failed, e.g. "connector:mediation", "streams:link", "sink:case_view".
        topic: the topic the record was meant for or read from.
        kind: an ErrorKind symbol (MISSING_FIELD, DECODE_ERROR, ...).
        reason: what was wrong, for a person; never the value of an identity.
    """
    ident = hashlib.sha256(
        f"{stage}|{topic}|{system}|{record_id}|{field}|{reason}|{partition}|{offset}".encode()
    ).hexdigest()[:32]
    return {
        "dead_letter_id": ident,
        "failed_at": now or dt.datetime.now(dt.UTC),
        "stage": stage,
        "error_kind": kind,
        "reason": reason,
        "source_system": system,
        "record_id": record_id,
        "field": field,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "payload": payload,
        "payload_text": payload_text,
    }


def letter_message(codec, topic: str, letter: dict) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of a dead letter: keyed by its record id, or by its own id when it has none."""
    key = letter.get("record_id") or letter["dead_letter_id"]
    return topic, key.encode(), codec.encode(topic, letter)


class DeadLetters:
    """Sends dead letters through a Publisher (casehub.ground.publish) and logs each once.

    Args:
        codec: encodes the DeadLetter record (anything with `encode(topic, value) -> bytes`).
        topic: the dead-letter topic.
        publisher: where messages go.
    """

    def __init__(self, codec, topic: str, publisher, log=None):
        self.codec, self.topic, self.publisher = codec, topic, publisher
        self.log = log or get_logger("deadletter")
        self.sent = 0

    def message(self, letter: dict) -> tuple[str, bytes, bytes]:
        return letter_message(self.codec, self.topic, letter)

    async def send(self, letter: dict) -> None:
        """Publish one dead letter and wait for the broker's acknowledgement."""
        await self.publisher.send(*self.message(letter))
        self.sent += 1
        self.log.warning(
            "to dead letters",
            stage=letter["stage"],
            kind=letter["error_kind"],
            reason=letter["reason"],
            record_id=letter["record_id"],
            field=letter["field"],
            topic=letter["topic"],
            partition=letter["partition"],
            offset=letter["offset"],
        )

    async def undecodable(
        self, stage: str, msg, reason: Exception | str, payload: bytes | None = None, kind: str = "DECODE_ERROR"
    ) -> dict:
        """Report a consumed message (anything with topic, partition, offset, value) that could not be handled."""
        return await self.report(
            stage,
            msg.topic,
            kind,
            str(reason),
            partition=msg.partition,
            offset=msg.offset,
            payload=msg.value if payload is None else payload,
        )

    async def report(self, stage: str, topic: str, kind: str, reason: str, **where) -> dict:
        """Build and send a dead letter; returns it."""
        letter = dead_letter(stage, topic, kind, reason, **where)
        await self.send(letter)
        return letter
