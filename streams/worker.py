"""The stream worker: consumes the agency event topics and the link corrections, links and merges them into
case records (casehub.streams.linker), and publishes case records, redirects and enriched events.

It owns its consumption (a plain aiokafka consumer with manual commits) rather than using faust's, and
commits a batch's offsets only after everything the batch produced is acknowledged:

1. case records, redirects, enriched events and dead letters (acknowledged),
2. the state entries: the events folded and each case's version and digest (acknowledged),
3. the consumer offsets.

A crash anywhere re-delivers the batch; the linker recognises what it already folded and republishes only
what differs from the recorded digests. The consumer reads committed data only (aborted transactions of a
producer never reach a case). The group has one active member (casehub.streams.assignor): linking needs the
references and parties of every case; other workers stand by and take over with the state topic.
Why not faust: docs/ARCHITECTURE.md ("The worker owns its consumption").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tomllib

from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from casehub.domain.calendar import parse_calendar
from casehub.domain.rules import CaseRules, rules_from
from casehub.ground.kafka import clients_for, ensure_topics, read_to_end
from casehub.ground.logs import get_logger
from casehub.ground.publish import KafkaPublisher
from casehub.ground.settings import Settings, SettingsError
from casehub.schemas.codec import AvroCodec, codec_for
from casehub.streams.assignor import SingleActiveAssignor
from casehub.streams.linker import Linker, Output


def load_rules(settings: Settings) -> CaseRules:
    """The case rules: defaults, overridden by CASEHUB_RULES_FILE and CASEHUB_HOLIDAYS_FILE when set.

    Raises:
        SettingsError: a file that cannot be read or holds an unknown key (the message names it).
    """
    calendar = None
    try:
        if settings.holidays_file:
            calendar = parse_calendar(settings.holidays_file.read_text(encoding="utf-8"), str(settings.holidays_file))
        doc = tomllib.loads(settings.rules_file.read_text(encoding="utf-8")) if settings.rules_file else {}
        return rules_from(doc, calendar)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"case rules: {exc}") from exc


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: LinkWorker):
        self.worker = worker

    async def on_partitions_revoked(self, revoked):
        if revoked:
            self.worker.log.info("partitions revoked", partitions=len(revoked))

    async def on_partitions_assigned(self, assigned):
        had = self.worker.active
        self.worker.active = bool(assigned)
        if assigned and not had:
            self.worker.restore_needed = True  # another member may have worked meanwhile: state from the topic
        self.worker.log.info("partitions assigned", partitions=len(assigned), active=bool(assigned))


class LinkWorker:
    """The linking stage as a long-running component.

    Args:
        clock: now, in UTC (injected so tests can move the date deadlines depend on).
    """

    def __init__(
        self, settings: Settings, codec: AvroCodec | None = None, clock=utc_now, rules: CaseRules | None = None
    ):
        self.settings, self.codec, self.clock = settings, codec or codec_for(settings), clock
        self.rules = rules or load_rules(settings)
        self.topics = settings.topics
        self.kafka = clients_for(settings)
        self.log = get_logger("streams").bind(group=self.group_id)
        self.linker: Linker | None = None
        self.active = False
        self.restore_needed = True
        self.stats = {"batches": 0, "messages": 0, "cases": 0, "redirects": 0, "dead_letters": 0}

    @property
    def group_id(self) -> str:
        return f"{self.settings.topic_prefix}casehub-link"

    async def restore(self) -> None:
        """Rebuild the linker from the state topic (everything folded and published before)."""
        linker, n = Linker(self.codec, self.topics, self.rules, self.clock), 0
        async for msg in read_to_end(self.kafka, self.topics.link_state, [0]):
            await asyncio.to_thread(linker.restore, msg.key, msg.value)
            n += 1
        self.linker, self.restore_needed = linker, False
        self.log.info("linking state restored", entries=n, events=len(linker.raw), cases=len(linker.cases))

    async def _publish(self, publisher: KafkaPublisher, out: Output) -> None:
        for phase in (out.messages, out.state):  # outputs acknowledged before the state that records them
            batch = publisher.batch()
            for topic, key, value in phase:
                if not batch.add_nowait(topic, key, value):
                    await batch.add(topic, key, value)
            await batch.flush()

    async def run(self, stop: asyncio.Event) -> dict:
        t = self.topics
        await ensure_topics(self.kafka, t.specs(self.settings.partitions), self.settings.replication_factor)
        for topic in (t.cases, t.enriched, t.deadletter, t.corrections):
            await asyncio.to_thread(self.codec.register, topic)
        producer = self.kafka.producer("bulk")
        await producer.start()
        publisher = KafkaPublisher(producer)
        consumer = self.kafka.consumer(
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(SingleActiveAssignor(),),
            max_poll_records=self.settings.worker_batch_size,
        )
        consumer.subscribe([*t.event_topics(), t.corrections], listener=_Rebalance(self))
        await consumer.start()
        self.log.info("stream worker started", topics=[*t.event_topics(), t.corrections])
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.settings.deadline_sweep_seconds
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500)
                if not self.active:
                    continue  # a standby: partitions go to one member at a time
                if self.restore_needed or self.linker is None:
                    await self.restore()
                messages = [m for tp in sorted(batch) for m in batch[tp]]
                if messages:
                    out = await asyncio.to_thread(self.linker.step, messages)
                elif loop.time() >= next_sweep:
                    out = await asyncio.to_thread(self.linker.sweep)
                    next_sweep = loop.time() + self.settings.deadline_sweep_seconds
                else:
                    continue
                await self._publish(publisher, out)
                if messages:
                    try:
                        await consumer.commit()
                    except (CommitFailedError, IllegalStateError) as exc:
                        # the group rebalanced meanwhile: the next owner re-reads this batch, nothing is lost
                        self.log.warning(
                            "offsets not committed (rebalance); the batch will be consumed again", error=str(exc)
                        )
                        self.restore_needed = True
                self.stats["batches"] += 1
                self.stats["messages"] += len(messages)
                self.stats["cases"] += out.cases
                self.stats["redirects"] += out.redirects
                self.stats["dead_letters"] += out.dead
                if messages or out.cases:
                    self.log.info(
                        "batch folded",
                        messages=len(messages),
                        cases=out.cases,
                        redirects=out.redirects,
                        dead_letters=out.dead,
                        totals=dict(self.stats),
                    )
        except KafkaError as exc:
            self.log.error("stream worker stopping on a Kafka error", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            await consumer.stop()
            await producer.stop()
            self.log.info("stream worker stopped", **self.stats)
        return self.stats
