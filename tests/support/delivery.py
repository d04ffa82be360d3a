"""Publish agency events continuously (plain and transactional producers, some transactions aborted) while a
worker process is started, stopped, killed and doubled; then read what reached the case records."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.sample import mediation_rows
from casehub.domain.identities import Protector
from casehub.ground.kafka import clients, read_to_end
from casehub.ground.settings import Settings

STATUSES = ("10", "20", "30", "50", "90")  # applied, accepted, session, failed, referred: five events per case


class _Abort(Exception):
    """Raised inside a transaction to abort it."""


def mediation_event(adapter: MappedAdapter, case: int, step: int) -> dict:
    row = mediation_rows(1, seed=case)[0]
    when = dt.datetime(2025, 1, 1, 9) + dt.timedelta(days=case % 200, hours=step)
    row.update(
        ajid=case, ajbh=f"沈和调〔2025〕{case:05d}号", zt=STATUSES[step], gxsj=f"{when:%Y-%m-%d %H:%M:%S}", bz=None
    )
    return adapter.map_row(row, dt.datetime(2025, 6, 1, tzinfo=dt.UTC)).event


@dataclass
class Published:
    committed: dict[str, str] = field(default_factory=dict)  # event id -> its case's mediation number
    aborted: set[str] = field(default_factory=set)


async def publish_continuously(settings: Settings, codec, cases: int, pause: float = 0.02) -> Published:
    """Every case's five events, interleaved, every other one through a transaction (one in five of those aborted)."""
    adapter = MappedAdapter(builtin_mappings()["mediation"], Protector(settings.hmac_secret))
    topic, kafka, out = settings.topics.mediation, clients(settings.bootstrap), Published()
    plain = kafka.producer()
    txn = kafka.producer(transactional_id=f"{settings.topic_prefix}delivery-test", linger_ms=0)
    await plain.start()
    await txn.start()
    try:
        n = 0
        for step in range(len(STATUSES)):
            for case in range(1, cases + 1):
                event = mediation_event(adapter, case, step)
                value, key = codec.encode(topic, event), event["source"]["record_id"].encode()
                n += 1
                if n % 2:
                    await plain.send_and_wait(topic, value, key=key)
                    out.committed[event["event_id"]] = event["refs"][0]["number"]
                else:
                    try:
                        async with txn.transaction():
                            await txn.send_and_wait(topic, value, key=key)
                            if n % 10 == 0:
                                raise _Abort
                    except _Abort:
                        out.aborted.add(event["event_id"])
                    else:
                        out.committed[event["event_id"]] = event["refs"][0]["number"]
                await asyncio.sleep(pause)
    finally:
        await plain.stop()
        await txn.stop()
    return out


class Workers:
    """`casehub worker` processes started and stopped the way an operator (or a crash) would."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs, self.procs = env, logs, []

    def start(self) -> subprocess.Popen:
        log = open(self.logs / f"worker{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed in stop_all
        proc = subprocess.Popen(
            [sys.executable, "-m", "casehub", "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append((proc, log))
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 60) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc, log in self.procs:
            self.stop(proc)
            log.close()


async def latest_cases(settings: Settings, codec) -> dict[str, dict]:
    """The newest record of every case id on the case topic (redirects included)."""
    latest: dict[str, dict] = {}
    try:
        async for msg in read_to_end(settings.bootstrap, settings.topics.cases, committed_only=True):
            record = codec.decode(msg.value)
            latest[record["case_id"]] = record
    except LookupError:
        return {}
    return latest


def placements(cases: dict[str, dict]) -> dict[str, list[str]]:
    """event id -> the live case ids whose record lists it (once per listing)."""
    out: dict[str, list[str]] = {}
    for case in cases.values():
        if case.get("merged_into"):
            continue
        for link in case["links"]:
            out.setdefault(link["event_id"], []).append(case["case_id"])
    return out
