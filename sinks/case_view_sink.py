"""The case-view sink: consumes the unified case topic and upserts each record into SQL, committing offsets after the
database."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from casehub.domain.directory import ReferenceData
from casehub.ground.deadletter import DeadLetters
from casehub.ground.kafka import KafkaClients, clients, clients_for
from casehub.ground.logs import get_logger
from casehub.ground.publish import KafkaPublisher
from casehub.schemas.codec import AvroCodec, DecodeError
from casehub.sinks.case_view import create_engine, judge_with, upsert_cases
from casehub.sinks.reference import ReferenceWatch

_LOST = (sa.exc.OperationalError, sa.exc.InterfaceError)  # the database is away: retry, never dead-letter


async def while_database_away(fn, *args):
    """fn(*args) in a thread, tried again (up to 5 minutes, with a growing pause) while the database is away."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(_LOST),
        wait=wait_exponential(multiplier=0.5, max=10),
        stop=stop_after_delay(300),
        reraise=True,
    ):
        with attempt:
            return await asyncio.to_thread(fn, *args)


class CaseViewWriter:
    """What the sink does with one batch of messages, without Kafka: decode, upsert, dead-letter what fails.

    Args:
        letters: a casehub.ground.deadletter.DeadLetters (over any Publisher).
        ref: roster and court directory; with them, eligible agreements get confirmation requests in the outbox.
    """

    def __init__(
        self,
        engine: sa.Engine,
        codec: AvroCodec,
        topic: str,
        letters: DeadLetters,
        ref: ReferenceData | None = None,
        confirmation_days: int = 30,
    ):
        self.engine, self.codec, self.topic, self.letters = engine, codec, topic, letters
        self.ref, self.confirmation_days = ref, confirmation_days
        self.log = get_logger("sink.case_view").bind(topic=topic)
        self.written = 0

    def _write(self, records: list[dict]) -> int:
        with self.engine.begin() as conn:
            return upsert_cases(conn, records, self.ref, self.confirmation_days)

    async def _write_retrying(self, records: list[dict]) -> int:
        return await while_database_away(self._write, records)

    async def handle(self, messages) -> int:
        """Write one batch (objects with topic, partition, offset, value); returns the case rows changed.

        Raises:
            sqlalchemy OperationalError/InterfaceError: the database stayed away (nothing is committed then).
        """
        records = []
        for msg in messages:
            try:
                records.append(
                    await asyncio.to_thread(self.codec.decode, msg.value, msg.topic, msg.partition, msg.offset)
                )
            except DecodeError as exc:
                await self.letters.undecodable("sink:case_view", msg, exc)
        try:
            changed = await self._write_retrying(records)
        except _LOST:
            raise  # the database stays unreachable: stop loudly, offsets uncommitted, nothing lost
        except sa.exc.DBAPIError:
            # A record the database refuses (not a lost connection): write one by one, dead-letter the refused
            changed = 0
            for record in records:
                try:
                    changed += await self._write_retrying([record])
                except _LOST:
                    raise
                except sa.exc.DBAPIError as exc:
                    reason = (
                        f"case view refused case {record['case_id']} version {record['version']}: "
                        f"{type(exc.orig).__name__}"
                    )
                    await self.letters.report(
                        "sink:case_view", self.topic, "DELIVERY_FAILED", reason, record_id=record["case_id"]
                    )
        self.written += changed
        self.log.info("case view updated", records=len(records), changed=changed, total=self.written)
        return changed


class CaseViewSink:
    """At-least-once: offsets are committed only after the batch is in the database; upserts make replays harmless."""

    def __init__(
        self,
        kafka: KafkaClients | str,
        topic: str,
        group_id: str,
        engine: sa.Engine,
        codec: AvroCodec,
        deadletter_topic: str,
        batch_max: int = 500,
        ref: ReferenceData | None = None,
        confirmation_days: int = 30,
        watch=None,
    ):
        self.ref, self.confirmation_days, self.watch = ref, confirmation_days, watch
        self.kafka, self.topic, self.group_id, self.engine, self.codec = clients(kafka), topic, group_id, engine, codec
        self.deadletter_topic, self.batch_max = deadletter_topic, batch_max
        self.log = get_logger("sink.case_view").bind(topic=topic)
        self._stop = asyncio.Event()
        self.written = 0

    def stop(self) -> None:
        self._stop.set()

    async def _judge(self) -> int | None:
        """The stored agreements judged with the reference data now in use; a database that is away is waited for,
        as a batch write waits (nothing is lost: the mark is written last, so an unfinished pass runs again)."""
        return await while_database_away(judge_with, self.engine, self.ref, self.confirmation_days)

    async def run(self) -> None:
        consumer = self.kafka.consumer(
            self.topic,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_max,
        )
        producer = self.kafka.producer()
        await consumer.start()
        await producer.start()
        writer = CaseViewWriter(
            self.engine,
            self.codec,
            self.topic,
            DeadLetters(self.codec, self.deadletter_topic, KafkaPublisher(producer), self.log),
            self.ref,
            self.confirmation_days,
        )
        self.log.info("case view sink started", url=self.engine.url.render_as_string(hide_password=True))
        try:
            while not self._stop.is_set():
                if self.watch is not None and self.watch.changed():  # an operator edited the roster or directory
                    writer.ref = self.ref = self.watch.ref
                    changed = await self._judge()
                    self.log.info("agreements judged again with the new reference data", changed=changed)
                batch = await consumer.getmany(timeout_ms=500)
                if not batch:
                    continue
                await writer.handle([msg for messages in batch.values() for msg in messages])
                self.written = writer.written
                await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()
            self.log.info("case view sink stopped", total=self.written)


def make_sink(settings, codec: AvroCodec) -> CaseViewSink:
    """The sink of a process: its engine (migrated), the roster written into the view, the reference data."""

    engine = create_engine(settings.case_view)
    log = get_logger("sink.case_view")
    watch = ReferenceWatch(settings, log)
    ref, days = watch.ref, confirmation_days(settings)
    if ref is None:
        log.warning(
            "no roster or court directory: no judicial-confirmation requests are built",
            roster=str(settings.roster_path),
            court_directory=str(settings.court_directory_path),
        )
    changed = judge_with(engine, ref, days)  # the data may have changed while the hub was stopped
    if changed is not None:
        log.info("agreements judged with the reference data in use", changed=changed)
    return CaseViewSink(
        clients_for(settings),
        settings.topics.cases,
        f"{settings.group_id}-case-view",
        engine,
        codec,
        settings.topics.deadletter,
        ref=ref,
        confirmation_days=days,
        watch=watch,
    )


def confirmation_days(settings) -> int:
    """The confirmation period of the case rules file (CASEHUB_RULES_FILE [periods] confirmation_days), else 30."""
    import tomllib

    from casehub.domain.rules import Periods

    if settings.rules_file and settings.rules_file.exists():
        with open(settings.rules_file, "rb") as f:
            return int(tomllib.load(f).get("periods", {}).get("confirmation_days", Periods.confirmation_days))
    return Periods.confirmation_days
