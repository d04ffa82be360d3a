"""The courts' callback: a court's receipt and later answers to a confirmation request, checked and put on the
court topic (cn.casehub.CourtEvent) and the response topic (cn.casehub.ConfirmationResponse, keyed by request id),
then recorded in the view.

A callback is refused, logged and changes nothing when: the token is missing or not a court's (401); the signature
(HMAC-SHA256 of `timestamp.body` with the court's secret) is wrong or the timestamp is more than five minutes off
(401); the body is not the JSON described in docs/CONFIRMATION.md (422); the request is unknown (404) or another
court's (403); the same answer to the same request came before (409, a replay).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import sqlalchemy as sa

from casehub.domain.confirmation import (
    ANSWERS,
    CONFIRMATION_NUMBER,
    EXPIRED,
    REQUEST_ID,
    WITHDRAWN,
    answer_conflict,
    confirmation_response,
    court_event,
)
from casehub.ground.access import Access, signature_ok
from casehub.ground.logs import get_logger
from casehub.sinks.case_view import add_answer, millis
from casehub.sinks.confirmation_relay import request_from_json
from casehub.sinks.view_tables import confirmation_deliveries, confirmation_requests, court_answers

WINDOW = dt.timedelta(minutes=5)
FIELDS = {"request_id", "outcome", "court_case_number", "decided_at", "reason"}
MAX_BODY, MAX_TEXT = 64 * 1024, 4000  # an answer is a few hundred bytes; a reason, a paragraph
# Never sent, and settled so: flagged late, or withdrawn. A pending request may be on its way this very moment (the
# relay logs a delivery once the court has answered, and a court may call back first): its answers are taken.
SETTLED_UNSENT = (EXPIRED, WITHDRAWN)  # (WITHDRAWING is the sink's wish: the relay may be mid-delivery)


class CallbackError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def parse_answer(body: bytes) -> dict:
    """The callback body as an answer dict.

    Raises:
        CallbackError(422): not JSON, unknown or missing fields, an unknown outcome, a bad time, an ACCEPTED
            without the court's case number or a REJECTED/NOT_ACCEPTED without a reason.
    """
    if len(body) > MAX_BODY:
        raise CallbackError(413, f"the body has {len(body)} bytes; an answer takes at most {MAX_BODY}")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CallbackError(422, f"the body is not UTF-8 JSON: {exc}") from exc
    except RecursionError as exc:
        raise CallbackError(422, "the body is not an answer: JSON nested too deep") from exc
    if not isinstance(doc, dict):
        raise CallbackError(422, "the body must be a JSON object")
    extra = set(doc) - FIELDS
    if extra:
        raise CallbackError(422, f"unknown fields {', '.join(sorted(extra))}; allowed: {', '.join(sorted(FIELDS))}")
    for key in ("request_id", "outcome"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise CallbackError(422, f"field {key} is required (a string)")
    if doc["outcome"] not in ANSWERS:
        raise CallbackError(422, f"outcome {doc['outcome']!r} is not one of {', '.join(ANSWERS)}")
    answer = {"request_id": doc["request_id"], "outcome": doc["outcome"]}
    for key in ("court_case_number", "reason"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise CallbackError(422, f"field {key} must be a string")
        if doc.get(key) and (len(doc[key]) > MAX_TEXT or "\x00" in doc[key]):
            raise CallbackError(422, f"field {key} must be text of at most {MAX_TEXT} characters")
        answer[key] = doc.get(key)
    number = answer["court_case_number"]
    if number and not CONFIRMATION_NUMBER.fullmatch("".join(number.split())):
        raise CallbackError(422, f"court_case_number {number!r} is not a 民特 case number like （2026）辽0102民特8号")
    if doc.get("decided_at") is not None:
        try:
            decided = dt.datetime.fromisoformat(doc["decided_at"])
        except (TypeError, ValueError) as exc:
            raise CallbackError(422, f"field decided_at is not an ISO 8601 time: {doc['decided_at']!r}") from exc
        if decided.tzinfo is None:
            raise CallbackError(422, "field decided_at needs a UTC offset (e.g. 2026-12-02T10:00:00+08:00)")
        try:
            answer["decided_at"] = decided.astimezone(dt.UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+14:00 lies before the first representable moment
            raise CallbackError(422, f"field decided_at is out of range: {doc['decided_at']!r}") from exc
    else:
        answer["decided_at"] = None
    if answer["outcome"] == "ACCEPTED" and not answer["court_case_number"]:
        raise CallbackError(422, "an ACCEPTED answer needs court_case_number (the 民特 case number)")
    if answer["outcome"] in ("REJECTED", "NOT_ACCEPTED") and not answer["reason"]:
        raise CallbackError(422, f"a {answer['outcome']} answer needs a reason")
    return answer


class Callbacks:
    """Checks and publishes court callbacks (one at a time per process, so a replay cannot race its original)."""

    def __init__(self, engine: sa.Engine, access: Access, publisher, codec, topics, clock):
        self.engine, self.access, self.publisher, self.codec, self.topics = engine, access, publisher, codec, topics
        self.clock = clock
        self.log = get_logger("web.callbacks")
        self._lock = asyncio.Lock()

    def _lookup(self, request_id: str):
        """The request, whether casehub ever tried to send it (an attempt that was not just a flag of lateness), the
        court's earlier answers and its 民特 number."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    confirmation_requests.c.request, confirmation_requests.c.court_code, confirmation_requests.c.state
                ).where(confirmation_requests.c.request_id == request_id)
            ).first()
            sent = conn.execute(
                sa.select(confirmation_deliveries.c.attempt).where(
                    confirmation_deliveries.c.request_id == request_id, confirmation_deliveries.c.outcome != "EXPIRED"
                )
            ).first()
            answers = conn.execute(
                sa.select(court_answers.c.outcome, court_answers.c.court_case_number).where(
                    court_answers.c.request_id == request_id
                )
            ).all()
        number = next((a.court_case_number for a in answers if a.court_case_number), None)
        return row, sent is not None, [a.outcome for a in answers], number

    def _store(self, response: dict) -> bool:
        with self.engine.begin() as conn:
            return add_answer(conn, response)

    async def handle(self, token: str | None, timestamp: str | None, signature: str | None, body: bytes) -> dict:
        """Accept one callback; returns what was recorded.

        Raises:
            CallbackError: the callback is refused (status and message say why); nothing was published or stored.
        """
        try:
            return await self._handle(token, timestamp, signature, body)
        except CallbackError as exc:
            self.log.warning("court callback refused", status=exc.status, reason=exc.message)
            raise

    async def _handle(self, token, timestamp, signature, body: bytes) -> dict:
        role = self.access.role_of(token)
        if role is None or role.name != "court":
            raise CallbackError(401, "a court's API token is required (Authorization: Bearer <token>)")
        secret = self.access.secret_of(role.court_code)
        if secret is None:
            raise CallbackError(401, f"no signing secret is configured for court {role.court_code}")
        try:
            sent = dt.datetime.fromtimestamp(int(timestamp or ""), dt.UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise CallbackError(401, "X-Casehub-Timestamp (Unix seconds) is missing or not a number") from exc
        if not signature_ok(secret, timestamp, body, signature):
            raise CallbackError(401, "bad signature: X-Casehub-Signature is not HMAC-SHA256(secret, timestamp.body)")
        if abs(self.clock() - sent) > WINDOW:
            raise CallbackError(401, f"timestamp {sent.isoformat()} is more than 5 minutes from now (a replay?)")
        answer = parse_answer(body)
        if not REQUEST_ID.fullmatch(answer["request_id"]):
            raise CallbackError(404, f"unknown request {answer['request_id'][:80]!r} (ids are CR- and 24 hex digits)")
        if answer["decided_at"] is not None and answer["decided_at"] > self.clock() + dt.timedelta(days=1):
            raise CallbackError(422, f"decided_at {answer['decided_at'].isoformat()} lies in the future")
        async with self._lock:
            row, sent, earlier, number = await asyncio.to_thread(self._lookup, answer["request_id"])
            if row is None:
                raise CallbackError(404, f"unknown request {answer['request_id']}")
            if row.court_code != role.court_code:
                raise CallbackError(403, f"request {answer['request_id']} was not sent to court {role.court_code}")
            if not sent and row.state in SETTLED_UNSENT:  # the relay settled it without ever sending it
                raise CallbackError(
                    409, f"request {answer['request_id']} was never sent to a court ({row.state}): nothing to answer"
                )
            conflict = answer_conflict(earlier, answer["outcome"])
            if conflict:
                raise CallbackError(409, f"{answer['request_id']}: {conflict}")
            # the court's 民特 number, once it gave one, stays the court's own reference on its later answers
            answer["court_case_number"] = answer["court_case_number"] or number
            request = request_from_json(row.request)
            now = millis(self.clock())
            if answer["decided_at"] is not None:
                answer["decided_at"] = millis(answer["decided_at"])
            event = court_event(request, answer, now)
            response = confirmation_response(request, answer, now)
            key = request["request_id"].encode()
            # the topics first (acknowledged), then the view: a crash in between re-accepts the court's retry
            await self.publisher.send(self.topics.court, key, self.codec.encode(self.topics.court, event))
            topic = self.topics.confirmation_responses
            await self.publisher.send(topic, key, self.codec.encode(topic, response))
            await asyncio.to_thread(self._store, response)
        self.log.info(
            "court callback accepted", request_id=answer["request_id"], outcome=answer["outcome"], court=role.court_code
        )
        return {"request_id": answer["request_id"], "outcome": answer["outcome"], "event_id": event["event_id"]}
