"""Push and file intake: records an agency system POSTs as JSON, or a small organisation uploads as xlsx/csv
(read by casehub.connectors.spreadsheets), go through the same mapping, validation and dead letters as rows
read from a database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import time

from aiohttp import web
from aiokafka.errors import KafkaConnectionError, KafkaError

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.base import MappingError, Unreadable
from casehub.connectors.mapping import available_mappings
from casehub.connectors.rows import map_rows
from casehub.domain.identities import Protector, identity_key
from casehub.ground.deadletter import DeadLetters, dead_letter
from casehub.ground.kafka import KafkaClients
from casehub.ground.logs import get_logger
from casehub.ground.publish import BatchPublisher, Publisher
from casehub.ground.secrets import hmac_secret
from casehub.ground.settings import Settings
from casehub.schemas.codec import EncodeError

MAX_RECORDS = 5000


SCALARS = (str, int, float, bool, type(None), Unreadable)  # Unreadable: a spreadsheet cell, dead-lettered


class IntakeError(ValueError):
    """The submission as a whole is unusable (not the mapping of one record)."""


class KafkaUnavailable(Exception):
    """Kafka cannot take the records now; the client should send them again after `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: int):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class Backoff:
    """Exponential back-off of a failing dependency (1, 2, 4 ... `longest` s), logged once per step with a count.

    An outage otherwise logs one line per request (and aiokafka one per attempt: see logs.RepeatLimiter).
    """

    def __init__(self, log, what: str, longest: float = 30.0, clock=time.monotonic):
        self.log, self.what, self.longest, self.clock = log, what, longest, clock
        self.step, self.failures, self.next_log, self.since = 0.0, 0, 0.0, None

    @property
    def retry_after(self) -> int:
        return max(1, int(self.step or 1))

    def failed(self, error: BaseException) -> None:
        now = self.clock()
        if self.since is None:
            self.since = now
        self.failures += 1
        if now >= self.next_log:
            self.step = min(max(self.step * 2, 1.0), self.longest)
            self.next_log = now + self.step
            self.log.warning(
                f"{self.what} unavailable",
                error=f"{type(error).__name__}: {error}",
                failures=self.failures,
                for_seconds=round(now - self.since, 1),
                retry_after=self.retry_after,
            )

    def ok(self) -> None:
        if self.since is not None:
            self.log.info(
                f"{self.what} available again",
                failures=self.failures,
                after_seconds=round(self.clock() - self.since, 1),
            )
        self.step, self.failures, self.next_log, self.since = 0.0, 0, 0.0, None


class RecoveringPublisher:
    """Publishes a submission's messages through a producer it owns, for the push endpoint.

    Every publish is bounded by `timeout` (a request must not hang while Kafka is away: aiokafka waits up
    to its request timeout, 40 s by default, for each batch). After any failure the producer is closed
    and the next publish makes a new one: an idempotent producer whose batches expired during an outage
    keeps sequence numbers the broker no longer accepts, and failed every request afterwards with
    OutOfOrderSequenceNumber until the process was restarted.
    """

    def __init__(self, kafka: KafkaClients, profile: str = "default", timeout: float = 10.0, log=None):
        self.kafka, self.profile, self.timeout = kafka, profile, timeout
        self.log = log or get_logger("intake")
        self.backoff = Backoff(self.log, "Kafka")
        self._producer = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Make the first producer now if Kafka answers; if not, the endpoint starts anyway and answers 503."""
        try:
            await self._ready()
        except (KafkaError, OSError, TimeoutError) as exc:
            self.backoff.failed(exc)

    async def _ready(self):
        async with self._lock:
            if self._producer is None:
                # batches expire within the publish bound too, so a stopped producer has nothing left to wait for
                producer = self.kafka.producer(self.profile, request_timeout_ms=int(self.timeout * 1000))
                try:
                    await asyncio.wait_for(producer.start(), self.timeout)
                except BaseException:
                    await self._close(producer)
                    raise
                self._producer = producer
            return self._producer

    async def publish_all(self, messages: list[tuple]) -> None:
        """Publish and wait for every acknowledgement, within `timeout`.

        Raises:
            KafkaUnavailable: Kafka did not take them (the producer is replaced before the next publish).
        """
        producer = None
        try:
            producer = await self._ready()
            out = BatchPublisher(producer)
            for message in messages:
                if not out.add_nowait(*message):
                    await out.add(*message)
            await asyncio.wait_for(out.flush(), self.timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            if producer is not None:
                await self._discard(producer)
            self.backoff.failed(exc)
            raise KafkaUnavailable(f"{type(exc).__name__}: {exc}", self.backoff.retry_after) from exc
        self.backoff.ok()

    async def accepting(self) -> tuple[bool, str]:
        """Whether a record can be accepted now: a producer, and the cluster answering a metadata request."""
        try:
            producer = await self._ready()
            if not await asyncio.wait_for(producer.client.force_metadata_update(), min(self.timeout, 3.0)):
                raise KafkaConnectionError("no broker answered a metadata request")
        except (KafkaError, OSError, TimeoutError) as exc:
            self.backoff.failed(exc)
            return False, f"{type(exc).__name__}: {exc}"
        return True, "ok"

    async def _discard(self, producer) -> None:
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        await self._close(producer)

    async def _close(self, producer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self.timeout)
        except Exception:  # a producer that cannot even stop is dropped all the same
            pass

    async def stop(self) -> None:
        if self._producer is not None:
            await self._close(self._producer)
            self._producer = None

    # the Publisher interface, for callers that do not need the bound (e.g. casehub import)
    def batch(self) -> _Collected:
        return _Collected(self)

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        await self.publish_all([(topic, key, value)])


class _Collected:
    """A batch of a RecoveringPublisher: collected, then published in one bounded call."""

    def __init__(self, publisher: RecoveringPublisher):
        self.publisher, self.messages = publisher, []

    def add_nowait(self, topic: str, key: bytes, value: bytes | None) -> bool:
        self.messages.append((topic, key, value))
        return True

    async def add(self, topic: str, key: bytes, value: bytes | None) -> None:
        self.messages.append((topic, key, value))

    async def flush(self) -> None:
        messages, self.messages = self.messages, []
        await self.publisher.publish_all(messages)


class PushedRecord(dict):
    """A submitted record: a column it does not carry reads as null, as an empty column of a table would.

    A pushed record names only the columns it has; an absent optional field is null, not an error. A
    mapping column the record cannot supply because it was misspelt then reads as missing (required
    columns say so) rather than as a column absent from the table.
    """

    def __missing__(self, key):
        return None


def check_record_values(records: list[dict]) -> None:
    """Every value is a JSON scalar (a column holds text, a number, a boolean or null).

    Raises:
        IntakeError: naming the first record and key holding an object or a list.
    """
    for i, record in enumerate(records):
        for key, value in record.items():
            if not isinstance(value, SCALARS):
                kind = "an object" if isinstance(value, dict) else "a list"
                raise IntakeError(
                    f"record {i}, key {key!r}: the value is {kind}; a column holds text, a number, true/false or null"
                )


class IntakeProcessor:
    """Maps submitted records with a source's mapping and publishes events, identities and dead letters."""

    def __init__(self, settings: Settings, codec, publisher: Publisher):
        self.settings, self.codec, self.publisher = settings, codec, publisher
        self.log = get_logger("intake")
        protector = Protector(hmac_secret(settings, log=self.log))  # refuses push intake without CASEHUB_HMAC_SECRET
        self.adapters = {
            name: MappedAdapter(m, protector) for name, m in available_mappings(settings.mapping_dir).items()
        }
        self.letters = DeadLetters(codec, settings.topics.deadletter, publisher, self.log)

    async def submit(self, source: str, records: list[dict], channel: str) -> list[dict]:
        """Publish what maps, dead-letter what does not; one result per record, in order."""
        adapter = self.adapters.get(source)
        if adapter is None:
            raise IntakeError(f"unknown source {source!r}; known: {', '.join(sorted(self.adapters))}")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise IntakeError(
                "expected a list of JSON objects (one per record, keys = the source table's column names)"
            )
        if len(records) > MAX_RECORDS:
            raise IntakeError(f"{len(records)} records in one submission; at most {MAX_RECORDS}")
        check_record_values(records)
        records = [PushedRecord(r) for r in records]
        needed = (*adapter.key_columns, adapter.cursor)
        missing = [i for i, r in enumerate(records) if any(r.get(c) in (None, "") for c in needed)]
        if missing:
            raise IntakeError(
                f"records {missing[:10]} lack a key column ({', '.join(adapter.key_columns)}) or the version column "
                f"{adapter.cursor!r}"
            )
        messages, results = self.messages(adapter, records, f"{channel}:{source}")
        await self.publish(messages)  # answer only once everything is acknowledged by Kafka
        self.log.info(
            "intake accepted",
            source=source,
            channel=channel,
            records=len(records),
            dead_letters=sum(1 for r in results if not r["ok"]),
        )
        return results

    def messages(self, adapter, records: list[dict], stage: str) -> tuple[list[tuple], list[dict]]:
        """Map and encode the records (pure): the (topic, key, value) messages to publish, one result per record."""
        topic, t = self.settings.topics.for_agency(adapter.agency), self.settings.topics
        messages, results = [], []
        for row, outcome in zip(records, map_rows(adapter, records, dt.datetime.now(dt.UTC))):
            error = outcome.error
            if error is None:
                event = outcome.mapped.event
                try:
                    mine = [(topic, outcome.record_id.encode(), self.codec.encode(topic, event))]
                    mine += [
                        (t.identities, identity_key(i), self.codec.encode(t.identities, i))
                        for i in outcome.mapped.identities
                    ]
                except EncodeError as exc:  # e.g. an amount beyond Avro's long; the reason never repeats values
                    error = MappingError(
                        None, f"the mapped event does not fit {exc.record} ({exc.cause})", "SCHEMA_MISMATCH"
                    )
                else:
                    messages += mine
                    results.append(
                        {
                            "record_id": outcome.record_id,
                            "ok": True,
                            "event_id": event["event_id"],
                            "event_type": event["event_type"],
                        }
                    )
                    continue
            letter = dead_letter(
                stage,
                topic,
                error.kind,
                error.reason,
                system=adapter.system,
                record_id=outcome.record_id,
                field=error.field,
                payload_text=adapter.describe(row)[:2000],
            )
            messages.append(self.letters.message(letter))
            results.append(_failed(outcome.record_id, error))
        return messages, results

    async def publish(self, messages: list[tuple]) -> None:
        """Publish and wait until Kafka acknowledged every message.

        Raises:
            KafkaUnavailable: (with a RecoveringPublisher) Kafka did not take them within its bound.
        """
        publish_all = getattr(self.publisher, "publish_all", None)
        if publish_all is not None:
            await publish_all(messages)
            return
        out = self.publisher.batch()
        for message in messages:
            if not out.add_nowait(*message):
                await out.add(*message)
        await out.flush()


def _failed(record_id: str, error) -> dict:
    return {"record_id": record_id, "ok": False, "field": error.field, "kind": error.kind, "reason": error.reason}


def parse_body(raw: bytes):
    """The JSON body of a submission, refusing what is not UTF-8 JSON.

    Raises:
        IntakeError: what is wrong with the body (JSON nested deeper than Python's parser recurses, e.g.
            100,000 levels, included: a submission is a list of flat records).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntakeError(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except RecursionError:
        raise IntakeError("JSON nested too deep; a submission is a list of flat records") from None
    except ValueError as exc:
        raise IntakeError(f"body is not JSON: {exc}") from exc


def parse_tokens(spec: str | None) -> dict[str, str]:
    """'mediation:tok1,arbitration:tok2' -> {source: token}; '*:tok' allows every source."""
    out = {}
    for part in (spec or "").split(","):
        if part.strip():
            source, sep, token = part.strip().partition(":")
            if not sep or not token:
                raise ValueError(f"CASEHUB_INTAKE_TOKENS entry {part!r} is not source:token")
            out[source] = token
    return out


def build_app(processor: IntakeProcessor, tokens: dict[str, str]) -> web.Application:
    routes = web.RouteTableDef()

    def authorised(request: web.Request, source: str) -> bool:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        expected = [tokens[k] for k in (source, "*") if k in tokens]
        return bool(given) and any(hmac.compare_digest(given, e) for e in expected)

    @routes.post("/intake/{source}")
    async def intake(request: web.Request):
        source = request.match_info["source"]
        if not authorised(request, source):
            return web.json_response({"error": "missing or wrong bearer token for this source"}, status=401)
        if request.content_type != "application/json":
            return web.json_response(
                {"error": f"Content-Type is {request.content_type!r}; send the records as application/json"},
                status=415,
            )
        try:
            body = parse_body(await request.read())
        except IntakeError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        records = body.get("records") if isinstance(body, dict) else body
        try:
            results = await processor.submit(source, records, "push")
        except IntakeError as exc:
            return web.json_response({"error": str(exc)}, status=422)
        except KafkaUnavailable as exc:
            # nothing was acknowledged as a whole: send the same records again (event ids are deterministic,
            # so a record Kafka took before the failure is recognised downstream)
            return web.json_response(
                {"error": f"Kafka cannot take records now ({exc.reason}); send them again later"},
                status=503,
                headers={"Retry-After": str(exc.retry_after)},
            )
        return web.json_response(
            {
                "accepted": sum(r["ok"] for r in results),
                "dead_lettered": sum(not r["ok"] for r in results),
                "results": results,
            },
            dumps=lambda o: json.dumps(o, ensure_ascii=False),
        )

    @routes.get("/healthz")
    async def health(request):
        """200 when a record can be accepted now, else 503 saying why (Kafka unreachable)."""
        accepting, detail = True, "ok"
        probe = getattr(processor.publisher, "accepting", None)
        if probe is not None:
            accepting, detail = await probe()
        body = {"ok": accepting, "accepting": accepting, "kafka": detail, "sources": sorted(processor.adapters)}
        if accepting:
            return web.json_response(body)
        retry = processor.publisher.backoff.retry_after
        return web.json_response(body, status=503, headers={"Retry-After": str(retry)})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.add_routes(routes)
    return app


async def serve(settings: Settings, codec, publisher: Publisher | RecoveringPublisher) -> web.AppRunner:
    tokens = parse_tokens(settings.intake_tokens)
    if not tokens:
        raise IntakeError("set CASEHUB_INTAKE_TOKENS (source:token,...) before starting the intake endpoint")
    runner = web.AppRunner(build_app(IntakeProcessor(settings, codec, publisher), tokens), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.intake_host, settings.intake_port).start()
    return runner
