"""The case-view sink: consumes the unified case topic and upserts each record into SQL, committing offsets after the database."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from casehub.logs import get_logger
from connectors.base import dead_letter
from schemas.codec import AvroCodec, DecodeError
from sinks.case_view import create_engine, upsert_cases


class CaseViewSink:
    """At-least-once: offsets are committed only after the batch is in the database; upserts make replays harmless."""

    def __init__(self, bootstrap: str, topic: str, group_id: str, engine: sa.Engine, codec: AvroCodec, deadletter_topic: str, batch_max: int = 500):
        self.bootstrap, self.topic, self.group_id, self.engine, self.codec = bootstrap, topic, group_id, engine, codec
        self.deadletter_topic, self.batch_max = deadletter_topic, batch_max
        self.log = get_logger("sink.case_view").bind(topic=topic)
        self._stop = asyncio.Event()
        self.written = 0

    def stop(self) -> None:
        self._stop.set()

    def _write(self, records: list[dict]) -> int:
        with self.engine.begin() as conn:
            return upsert_cases(conn, records)

    async def _write_retrying(self, records: list[dict]) -> int:
        async for attempt in AsyncRetrying(retry=retry_if_exception_type((sa.exc.OperationalError, sa.exc.InterfaceError)), wait=wait_exponential(multiplier=0.5, max=10),
                                           stop=stop_after_delay(300), reraise=True):
            with attempt:
                return await asyncio.to_thread(self._write, records)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_poll_records=self.batch_max)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        await consumer.start()
        await producer.start()
        self.log.info("case view sink started", url=self.engine.url.render_as_string(hide_password=True))
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=500)
                if not batch:
                    continue
                records = []
                for tp, messages in batch.items():
                    for msg in messages:
                        try:
                            records.append(await asyncio.to_thread(self.codec.decode, msg.value, msg.topic, msg.partition, msg.offset))
                        except DecodeError as exc:
                            letter = dead_letter("sink:case_view", msg.topic, "DECODE_ERROR", str(exc), partition=msg.partition, offset=msg.offset, payload=msg.value)
                            await producer.send_and_wait(self.deadletter_topic, key=letter["dead_letter_id"].encode(), value=await asyncio.to_thread(self.codec.encode, self.deadletter_topic, letter))
                            self.log.warning("message to dead letters", partition=msg.partition, offset=msg.offset, reason=str(exc))
                try:
                    changed = await self._write_retrying(records)
                except (sa.exc.OperationalError, sa.exc.InterfaceError):
                    raise  # the database stays unreachable: stop loudly, offsets uncommitted, nothing lost
                except sa.exc.DBAPIError:
                    # A record the database refuses (not a lost connection): write one by one, dead-letter the refused
                    changed = 0
                    for record in records:
                        try:
                            changed += await self._write_retrying([record])
                        except (sa.exc.OperationalError, sa.exc.InterfaceError):
                            raise
                        except sa.exc.DBAPIError as exc:
                            reason = f"case view refused case {record['case_id']} version {record['version']}: {type(exc.orig).__name__}"
                            letter = dead_letter("sink:case_view", self.topic, "DELIVERY_FAILED", reason, record_id=record["case_id"])
                            await producer.send_and_wait(self.deadletter_topic, key=letter["dead_letter_id"].encode(), value=await asyncio.to_thread(self.codec.encode, self.deadletter_topic, letter))
                            self.log.error("case to dead letters", case_id=record["case_id"], reason=reason)
                self.written += changed
                await consumer.commit()
                self.log.info("case view updated", records=len(records), changed=changed, total=self.written)
        finally:
            await consumer.stop()
            await producer.stop()
            self.log.info("case view sink stopped", total=self.written)


def make_sink(settings, codec: AvroCodec) -> CaseViewSink:
    return CaseViewSink(settings.bootstrap, settings.topics.cases, f"{settings.group_id}-case-view", create_engine(settings.case_view), codec, settings.topics.deadletter)
