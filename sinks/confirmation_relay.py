"""The confirmation relay: delivers the outbox's judicial-confirmation requests to courts, exactly once from the
court's side.

For each pending request (casehub.sinks.view_tables.confirmation_requests, written by the sink in the view's
transaction): a request the sink marked WITHDRAWING (its agreement is no longer eligible, most often because the court's
own 民特 record arrived after it) is logged WITHDRAWN and never sent; a request past its deadline is flagged EXPIRED and
never sent; one whose deadline is near raises an alert; otherwise the applicants' full identities are filled in from the
restricted identity topic (the only place they are read) and the request goes to the court the directory names: an HTTP
POST with the request id as Idempotency-Key and an HMAC-signed body (retried with tenacity's exponential backoff on 5xx
answers, time-outs and refused connections), or a message on the restricted confirmation-request topic for courts that
consume Kafka.

What happened is first published to the internal log topic (_casehub_confirmation_log, keyed by request id; each entry
carries the request's whole state and every delivery attempt so far, so the compacted log's latest entry is enough),
then written to the view: a relay restarted after a crash replays the log, so a delivered request is never sent again,
and a request whose answer was lost in a crash is sent again with the same Idempotency-Key (the court answers it as a
duplicate). `casehub rebuild-view` restores requests and deliveries from the same log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import aiohttp
import sqlalchemy as sa
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt, wait_exponential

from casehub.domain.confirmation import OPEN, WITHDRAWING, WITHDRAWN, timing, with_identities
from casehub.domain.deadlines import local_date
from casehub.domain.directory import ReferenceData
from casehub.domain.identities import merge_identity
from casehub.ground.access import Access, sign
from casehub.ground.logs import get_logger
from casehub.sinks.case_view import add_alerts, apply_log_entry, millis, to_json
from casehub.sinks.view_tables import alerts, confirmation_deliveries, confirmation_requests


class Retryable(Exception):
    """A delivery that may succeed later (5xx, time-out, connection refused)."""

    def __init__(self, outcome: str, detail: str, status: int | None = None):
        super().__init__(detail)
        self.outcome, self.detail, self.status = outcome, detail, status


class Refused(Exception):
    """The court refused the request itself (4xx): retrying the same body cannot help."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class Blocked(Refused):
    """The court's endpoint refuses casehub, not the request (401/403: the signing secret or token; 404/405/410: the
    endpoint in the court directory): nothing to do with this request, so it waits, retried after a growing pause,
    until an operator fixes the configuration (the relay reads an edited court directory without a restart)."""


class Withdrawn(Exception):
    """The sink withdrew the request while the relay was still trying to deliver it."""


BLOCKING = {401: "the court does not accept casehub's signature or token (check the court's signing secret)"}
BLOCKING |= {403: BLOCKING[401]}
BLOCKING |= dict.fromkeys((404, 405, 410), "the endpoint in the court directory is wrong or gone")


def _dt(value):
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def request_from_json(text: str) -> dict:
    """A stored request (JSON) with its dates and times as Python values again (for Avro and the store)."""
    r = json.loads(text)
    r["created_at"], r["deadline"] = _dt(r["created_at"]), _date(r["deadline"])
    a = r["agreement"]
    if "signed_at" in a:  # keys absent stay absent: the stored body must read back byte for byte
        a["signed_at"] = _dt(a["signed_at"])
    for key in ("effective_date", "performance_due"):
        if key in a:
            a[key] = _date(a[key])
    return r


def entry_from_json(text: str) -> dict:
    """A confirmation-log entry with Python dates and times."""
    e = json.loads(text)
    e["request"] = request_from_json(to_json(e["request"]))
    e["delivered_at"] = _dt(e.get("delivered_at"))
    for d in e.get("deliveries", []):
        d["at"] = _dt(d["at"])
    return e


def delivery(attempt: int, at: dt.datetime, outcome: str, status: int | None, detail: str | None) -> dict:
    """One delivery attempt as the log and the view keep it."""
    return {"attempt": attempt, "at": at, "outcome": outcome, "status_code": status, "detail": detail}


def stored_deliveries(conn: sa.Connection, request_id: str) -> list[dict]:
    """Every delivery attempt of a request as the view holds it (as the log carries them)."""
    rows = conn.execute(
        sa.select(
            confirmation_deliveries.c.attempt,
            confirmation_deliveries.c.at,
            confirmation_deliveries.c.outcome,
            confirmation_deliveries.c.status_code,
            confirmation_deliveries.c.detail,
        )
        .where(confirmation_deliveries.c.request_id == request_id)
        .order_by(confirmation_deliveries.c.attempt)
    ).all()
    return [delivery(r.attempt, r.at, r.outcome, r.status_code, r.detail) for r in rows]


def resend_entry(conn: sa.Connection, request_id: str, by: str) -> dict | None:
    """The log entry that sends a refused request again (state REINSTATED, at an operator's request), or None when
    the request is not one a court refused. Logged like the relay's own entries, so a restart keeps it."""
    row = conn.execute(
        sa.select(confirmation_requests).where(
            confirmation_requests.c.request_id == request_id, confirmation_requests.c.state == "REFUSED"
        )
    ).first()
    if row is None:
        return None
    return {
        "request": request_from_json(row.request),
        "state": "REINSTATED",
        "attempts": row.attempts,
        "deliveries": stored_deliveries(conn, request_id),
        "delivered_at": row.delivered_at,
        "last_error": f"sent again at the request of {by}",
    }


class IdentityBook:
    """Identities from the restricted identity topic, followed while the relay runs: per id_hash, each field as
    most recently recorded by any agency (casehub.domain.identities.merge_identity); organisations also by credit
    code."""

    def __init__(self):
        self.records: dict[str, dict] = {}
        self.organisations: dict[str, dict] = {}
        self.ready = asyncio.Event()

    def add(self, record: dict) -> None:
        merged = self.records[record["id_hash"]] = merge_identity(self.records.get(record["id_hash"]), record)
        if merged.get("party_type") == "ORGANISATION" and merged.get("credit_code"):
            self.organisations[merged["credit_code"]] = merged

    async def follow(self, kafka, topic: str, codec, stop: asyncio.Event) -> None:
        from aiokafka import TopicPartition

        consumer = kafka.consumer(enable_auto_commit=False, isolation_level="read_committed")
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [0])]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    for msg in messages:
                        if msg.value is not None:
                            self.add(codec.decode(msg.value, msg.topic, msg.partition, msg.offset))
                if not self.ready.is_set() and all([await consumer.position(tp) >= ends[tp] for tp in parts]):
                    self.ready.set()
        finally:
            await consumer.stop()


class ConfirmationRelay:
    """One pass (`run_once`) delivers what is pending; `run` repeats it every `interval` seconds.

    Args:
        publisher: a casehub.ground.publish Publisher (the log, alerts and Kafka deliveries go through it).
        clock: now, in UTC (the deadline is a local date in China).
    """

    def __init__(
        self,
        engine: sa.Engine,
        codec,
        topics,
        publisher,
        access: Access,
        ref: ReferenceData,
        identities: IdentityBook,
        clock,
        alert_days: int = 5,
        timeout: float = 5.0,
        attempts: int = 6,
        backoff: float = 0.2,
    ):
        self.engine, self.codec, self.topics, self.publisher = engine, codec, topics, publisher
        self.access, self.ref, self.identities, self.clock = access, ref, identities, clock
        self.alert_days, self.timeout, self.attempts, self.backoff = alert_days, timeout, attempts, backoff
        self.log = get_logger("relay")
        self.session: aiohttp.ClientSession | None = None
        self.sent = 0
        # request id -> (monotonic time before which it is not tried again, passes that failed): a court that is
        # down is retried less and less often (up to every 5 minutes), not every pass
        self.later: dict[str, tuple[float, int]] = {}

    # -- the log ---------------------------------------------------------------------------------------------------
    async def replay(self, entries) -> int:
        """Apply the relay's log (read back at start) to the view: the latest entry of each request only, as the
        compacted log keeps it (each entry carries the request's whole state and every attempt). Replaying the
        older ones too would walk a request back through its history and undo what the sink or an operator decided
        since (a withdrawal's reinstatement), if only for a moment (its alerts dropped on the way)."""
        latest = {e["request"]["request_id"]: e for e in entries}
        for entry in latest.values():
            await asyncio.to_thread(self._apply, entry)
        return len(latest)

    def _apply(self, entry: dict) -> None:
        with self.engine.begin() as conn:
            apply_log_entry(conn, entry)

    def _deliveries(self, request_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            return stored_deliveries(conn, request_id)

    async def _record(self, entry: dict) -> None:
        """Log first (acknowledged by Kafka), then the view: the log is what a restart and a rebuild trust.

        The entry gets every earlier delivery attempt too: a compacted log keeps only the latest entry per request.
        """
        earlier = await asyncio.to_thread(self._deliveries, entry["request"]["request_id"])
        new = {d["attempt"] for d in entry["deliveries"]}
        entry["deliveries"] = sorted(
            [d for d in earlier if d["attempt"] not in new] + entry["deliveries"], key=lambda d: d["attempt"]
        )
        await self.publisher.send(
            self.topics.confirmation_log, entry["request"]["request_id"].encode(), to_json(entry).encode()
        )
        await asyncio.to_thread(self._apply, entry)

    # -- alerts ----------------------------------------------------------------------------------------------------
    def _known_alert(self, alert_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(alerts.c.alert_id).where(alerts.c.alert_id == alert_id)).first() is not None

    async def _alert(self, request: dict, kind: str, message: str, severity: str | None = None) -> None:
        alert_id = f"{request['request_id']}:{kind}"
        if await asyncio.to_thread(self._known_alert, alert_id):
            return
        alert = {
            "alert_id": alert_id,
            "kind": kind,
            "severity": severity or ("CRITICAL" if kind == "DEADLINE_MISSED" else "WARNING"),
            "case_id": request["case_id"],
            "raised_at": millis(self.clock()),
            "due": request["deadline"],
            "message": message,
            "refs": [
                {k: r.get(k) for k in ("kind", "system", "number", "normalised")} for r in request.get("refs") or []
            ],
            "deadline_kind": "CONFIRMATION_30_DAYS",
            "division_code": (request.get("organisation") or {}).get("division_code"),
        }
        await self.publisher.send(self.topics.alerts, alert_id.encode(), self.codec.encode(self.topics.alerts, alert))
        await asyncio.to_thread(self._store_alert, alert)

    def _store_alert(self, alert: dict) -> None:
        with self.engine.begin() as conn:
            add_alerts(conn, [alert])

    # -- delivery --------------------------------------------------------------------------------------------------
    def _state(self, request_id: str) -> tuple[str, str | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(confirmation_requests.c.state, confirmation_requests.c.last_error).where(
                    confirmation_requests.c.request_id == request_id
                )
            ).one()
        return row.state, row.last_error

    def _open(self) -> list[tuple[dict, int, str, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    confirmation_requests.c.request,
                    confirmation_requests.c.attempts,
                    confirmation_requests.c.state,
                    confirmation_requests.c.last_error,
                )
                .where(confirmation_requests.c.state.in_((*OPEN, WITHDRAWING)))
                .order_by(confirmation_requests.c.deadline, confirmation_requests.c.request_id)
            ).all()
        return [(request_from_json(r.request), r.attempts, r.state, r.last_error) for r in rows]

    async def run_once(self) -> dict:
        """Deliver every open request once (with retries); returns counts by resulting state."""
        counts: dict[str, int] = {}
        today = local_date(self.clock())
        now = time.monotonic()
        for request, attempts, state, error in await asyncio.to_thread(self._open):
            rid = request["request_id"]
            paused = self.later.get(rid, (0.0, 0))[0] > now
            if paused and state != WITHDRAWING and timing(request["deadline"], today, 0) != "EXPIRED":
                continue
            if state == WITHDRAWING:
                new = await self._withdraw(request, attempts, error)
            else:
                new = await self._handle(request, attempts, today, (state, error))
            if new in OPEN:
                fails = self.later.get(rid, (0.0, 0))[1] + 1
                self.later[rid] = (time.monotonic() + min(5.0 * 2 ** (fails - 1), 300.0), fails)
            else:
                self.later.pop(rid, None)
            counts[new] = counts.get(new, 0) + 1
        return counts

    async def _withdraw(self, request: dict, attempts: int, reason: str | None) -> str:
        """Log a request the sink withdrew (never sent; its agreement is no longer eligible); the view then drops
        its deadline alerts."""
        entry = {"request": request, "state": WITHDRAWN, "attempts": attempts, "deliveries": [], "last_error": reason}
        await self._record(entry)
        self.log.info("confirmation request withdrawn, not sent", request_id=request["request_id"], reason=reason)
        return WITHDRAWN

    async def _handle(self, request: dict, attempts: int, today: dt.date, was: tuple = (None, None)) -> str:
        when = timing(request["deadline"], today, self.alert_days)
        entry = {"request": request, "state": "PENDING", "attempts": attempts, "deliveries": [], "last_error": None}
        if when == "EXPIRED":
            entry.update(state="EXPIRED", last_error=f"deadline {request['deadline']} passed; not sent")
            entry["deliveries"].append(delivery(attempts + 1, self.clock(), "EXPIRED", None, None))
            entry["attempts"] = attempts + 1
            await self._record(entry)
            await self._alert(
                request,
                "DEADLINE_MISSED",
                f"judicial confirmation request {request['request_id']} to {request['court']['name']} was not "
                f"delivered by its deadline {request['deadline']}: flagged, not sent",
            )
            return "EXPIRED"
        if when == "NEAR":
            await self._alert(
                request,
                "DEADLINE_APPROACHING",
                f"judicial confirmation request {request['request_id']} to {request['court']['name']} is not yet "
                f"delivered; deadline {request['deadline']}",
            )
        if not self.identities.ready.is_set():
            return "PENDING"  # identities not read to the end yet: nothing can be sent
        delivered, missing = with_identities(request, self.identities.records, self.identities.organisations)
        if delivered is None:
            entry.update(state="WAITING_IDENTITY", last_error="identity not yet known: " + ", ".join(missing))
            if was != (entry["state"], entry["last_error"]):  # logged when it changes, not every pass
                await self._record(entry)
            return "WAITING_IDENTITY"
        court = self.ref.directory.by_code(request["court"]["code"])
        if court is None:
            entry["last_error"] = f"court {request['court']['code']} is no longer in the court directory"
            if was != (entry["state"], entry["last_error"]):
                await self._record(entry)
            return "PENDING"
        # the sink may have withdrawn it since this pass read it (the court's record came in meanwhile)
        state, reason = await asyncio.to_thread(self._state, request["request_id"])
        if state == WITHDRAWING:
            return await self._withdraw(request, attempts, reason)
        if court.delivery == "kafka":
            topic = self.topics.confirmation_requests
            await self.publisher.send(topic, request["request_id"].encode(), self.codec.encode(topic, delivered))
            entry.update(state="DELIVERED", attempts=attempts + 1, delivered_at=self.clock())
            entry["deliveries"].append(
                {
                    "attempt": attempts + 1,
                    "at": self.clock(),
                    "outcome": "DELIVERED",
                    "status_code": None,
                    "detail": topic,
                }
            )
        else:
            await self._post(court.endpoint, court.code, delivered, entry)
        await self._record(entry)
        outcome = entry["deliveries"][-1]["outcome"] if entry["deliveries"] else ""
        if outcome.startswith(("REFUSED_", "BLOCKED_")):  # an operator must act: say so on the alert topic
            await self._alert(
                request,
                "CONFIRMATION_NOT_DELIVERED",
                f"judicial confirmation request {request['request_id']} to {request['court']['name']}: "
                f"{entry['last_error']}; deadline {request['deadline']}",
                "CRITICAL",
            )
        if entry["state"] == "DELIVERED":
            self.sent += 1
        self.log.info(
            "confirmation request handled",
            request_id=request["request_id"],
            court=court.code,
            state=entry["state"],
            attempts=entry["attempts"],
        )
        return entry["state"]

    async def _post(self, url: str, court_code: str, request: dict, entry: dict) -> None:
        secret = self.access.secret_of(court_code)
        if secret is None:
            entry["last_error"] = f"no signing secret for court {court_code} (access file or CASEHUB_COURT_SECRETS)"
            return
        body = to_json(request).encode()
        if self.session is None:
            self.session = aiohttp.ClientSession()

        async def attempt() -> tuple[int, dict]:
            # the sink may withdraw it between two attempts (the court's own record came in): no further attempt
            state, reason = await asyncio.to_thread(self._state, request["request_id"])
            if state == WITHDRAWING:
                raise Withdrawn(reason or "withdrawn")
            stamp = str(int(self.clock().timestamp()))
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": request["request_id"],
                "X-Casehub-Timestamp": stamp,
                "X-Casehub-Signature": sign(secret, stamp, body),
            }
            try:
                async with self.session.post(
                    url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as resp:
                    text = await resp.text()
                    if resp.status >= 500 or resp.status in (408, 429):
                        raise Retryable(f"HTTP_{resp.status}", text[:200], resp.status)
                    if resp.status in BLOCKING:
                        raise Blocked(resp.status, text[:500])
                    if resp.status >= 400:
                        raise Refused(resp.status, text[:500])
                    try:
                        answer = json.loads(text or "{}")
                    except ValueError:
                        answer = {}
                    return resp.status, answer if isinstance(answer, dict) else {}  # a receipt is an object
            except TimeoutError as exc:
                raise Retryable("TIMEOUT", f"no answer within {self.timeout}s") from exc
            except aiohttp.ClientError as exc:
                raise Retryable("CONNECTION", f"{type(exc).__name__}: {exc}") from exc

        def note(outcome: str, status: int | None, detail: str | None) -> None:
            entry["attempts"] += 1
            entry["deliveries"].append(
                {
                    "attempt": entry["attempts"],
                    "at": self.clock(),
                    "outcome": outcome,
                    "status_code": status,
                    "detail": detail,
                }
            )

        try:
            async for trying in AsyncRetrying(
                retry=retry_if_exception_type(Retryable),
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=self.backoff, max=5),
            ):
                with trying:
                    try:
                        status, answer = await attempt()
                    except Retryable as exc:
                        note(exc.outcome, exc.status, exc.detail)
                        raise
            duplicate = bool(answer.get("duplicate"))
            note("DUPLICATE" if duplicate else "DELIVERED", status, answer.get("receipt_id"))
            entry.update(state="DELIVERED", delivered_at=self.clock(), last_error=None)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            entry["last_error"] = f"{getattr(last, 'outcome', 'ERROR')}: {getattr(last, 'detail', last)}"
        except Withdrawn as exc:
            entry.update(state=WITHDRAWN, last_error=str(exc))
        except Blocked as exc:
            note(f"BLOCKED_{exc.status}", exc.status, exc.detail)
            entry["last_error"] = f"HTTP {exc.status}: {BLOCKING[exc.status]}; retried later ({exc.detail[:200]})"
        except Refused as exc:
            note(f"REFUSED_{exc.status}", exc.status, exc.detail)
            entry.update(state="REFUSED", last_error=f"the court refused the request: HTTP {exc.status} {exc.detail}")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def run_relay(settings, stop: asyncio.Event, clock=None) -> None:
    """The relay of a process until `stop` is set: replay the log, follow identities, deliver every interval."""
    from casehub.ground.access import load_access
    from casehub.ground.kafka import clients_for, read_to_end
    from casehub.ground.publish import KafkaPublisher
    from casehub.schemas.codec import codec_for
    from casehub.sinks.case_view import create_engine
    from casehub.sinks.reference import ReferenceWatch

    log = get_logger("relay")
    watch = ReferenceWatch(settings, log)
    ref = watch.ref
    if ref is None:
        log.warning("no roster or court directory: the relay has nothing to deliver", roster=str(settings.roster_path))
        await stop.wait()
        return
    kafka, codec = clients_for(settings), codec_for(settings)
    engine = await asyncio.to_thread(create_engine, settings.case_view)
    producer = kafka.producer()
    await producer.start()
    identities = IdentityBook()
    follower = asyncio.create_task(follow_identities(identities, kafka, settings, codec, stop))
    relay = ConfirmationRelay(
        engine,
        codec,
        settings.topics,
        KafkaPublisher(producer),
        load_access(settings),
        ref,
        identities,
        clock or (lambda: dt.datetime.now(dt.UTC)),
        settings.confirmation_alert_days,
        settings.relay_timeout,
    )
    try:
        entries = [
            entry_from_json(m.value.decode()) async for m in read_to_end(kafka, settings.topics.confirmation_log)
        ]
        log.info("confirmation log replayed", entries=await relay.replay(entries))
        while not stop.is_set():
            if watch.changed() and watch.ref is not None:  # a court's new endpoint, say: no restart needed
                relay.ref = watch.ref
            try:
                counts = await relay.run_once()
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # the view is away or busy: next pass
                log.error("case view unavailable: the relay tries again next pass", error=f"{type(exc).__name__}")
                counts = {}
            if counts:
                log.info("relay pass", **counts, delivered_total=relay.sent)
            try:
                await asyncio.wait_for(stop.wait(), settings.relay_interval)
            except TimeoutError:
                pass
    finally:
        follower.cancel()
        await relay.close()
        await producer.stop()
        engine.dispose()


async def follow_identities(book: IdentityBook, kafka, settings, codec, stop: asyncio.Event) -> None:
    log = get_logger("relay")
    try:
        await book.follow(kafka, settings.topics.identities, codec, stop)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the relay then delivers nothing (book not ready) and says why
        log.error("identity topic unreadable", error=f"{type(exc).__name__}: {exc}")
        raise
