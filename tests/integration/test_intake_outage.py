"""Push intake through a broker outage (items 9 and 10 of issue 10): while Kafka is away a POST is answered 503
with Retry-After (not hung, not a 500) and /healthz says it cannot accept; after the broker is back, records are
accepted again without restarting the endpoint; the outage is logged per back-off step, not per attempt.

The broker is this test's own (stopped and started on the same ports), not the session's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from casehub.connectors.intake import IntakeProcessor, RecoveringPublisher, build_app
from casehub.connectors.sample import mediation_rows
from casehub.ground.kafka import clients, ensure_topics
from casehub.ground.logs import RepeatLimiter
from casehub.ground.settings import load_settings
from casehub.run.broker import LocalBroker, free_port
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from tests.support.kafka import read_topic, stopped_at_exit

AUTH = {"Authorization": "Bearer tok"}


def records(first: int, n: int = 2) -> list[dict]:
    rows = mediation_rows(n, seed=first)
    for i, r in enumerate(rows):
        r["ajid"] = str(first + i)
    return rows


async def post_until(client, body, accept, timeout: float, what: str):
    """POST until `accept(status)`; every answer in the meantime must be a 503 with Retry-After."""
    deadline = time.monotonic() + timeout
    while True:
        resp = await client.post("/intake/mediation", json=body, headers=AUTH)
        text = await resp.text()
        if accept(resp.status):
            return resp.status, text
        assert resp.status == 503, (resp.status, text)
        assert int(resp.headers["Retry-After"]) >= 1
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s; last answer {resp.status} {text}")
        await asyncio.sleep(0.5)


async def test_intake_answers_503_while_kafka_is_away_and_recovers(kafka_libs, caplog):
    home = Path(tempfile.mkdtemp(prefix="casehub-outage-broker-"))
    broker = LocalBroker(home, kafka_libs, port=free_port(), controller_port=free_port())
    with stopped_at_exit(broker.destroy):
        bootstrap = (await asyncio.to_thread(broker.start)).bootstrap
        settings = load_settings({}, kafka_bootstrap=bootstrap, hmac_secret="k", topic_prefix="outage.")
        await ensure_topics(bootstrap, settings.topics.specs(settings.partitions))
        publisher = RecoveringPublisher(clients(bootstrap), timeout=5.0)
        await publisher.start()
        processor = IntakeProcessor(settings, AvroCodec(MemoryRegistry(), prefix="outage."), publisher)
        client = TestClient(TestServer(build_app(processor, {"*": "tok"})))
        await client.start_server()
        try:
            resp = await client.post("/intake/mediation", json=records(1), headers=AUTH)
            assert resp.status == 200, await resp.text()
            assert (await client.get("/healthz")).status == 200

            await asyncio.to_thread(broker.stop)
            caplog.clear()
            caplog.handler.addFilter(RepeatLimiter())  # what configure_logging puts on every component's handler
            with caplog.at_level(logging.WARNING):
                outage_started = time.monotonic()
                for n in range(4):  # every answer while Kafka is away: 503 with Retry-After, no hang, no 500
                    resp = await client.post("/intake/mediation", json=records(10 + 2 * n), headers=AUTH)
                    assert resp.status == 503, (resp.status, await resp.text())
                    assert int(resp.headers["Retry-After"]) >= 1
                    assert "Kafka" in (await resp.json())["error"]
                health = await client.get("/healthz")
                assert health.status == 503 and (await health.json())["accepting"] is False
                outage = time.monotonic() - outage_started
            lines: dict[str, int] = {}
            for r in caplog.records:
                lines[f"{r.name}:{r.msg}"] = lines.get(f"{r.name}:{r.msg}", 0) + 1
            # once per back-off step (1, 2, 4, ... s) and message, not once per attempt
            steps = 2 + int(outage).bit_length()
            assert all(n <= steps for n in lines.values()), (outage, lines)

            await asyncio.to_thread(broker.start)
            status, text = await post_until(
                client, records(100), lambda s: s == 200, 120, "intake did not accept again after the broker came back"
            )
            assert json.loads(text)["accepted"] == 2
            for _ in range(3):  # and keeps accepting (a stale producer failed every request after the outage)
                resp = await client.post("/intake/mediation", json=records(200 + _ * 2), headers=AUTH)
                assert resp.status == 200, await resp.text()
            assert (await client.get("/healthz")).status == 200
        finally:
            await client.close()
            await publisher.stop()
        ids = {m.key.decode() for m in await read_topic(bootstrap, settings.topics.mediation)}
        assert {
            "1",
            "2",
            "100",
            "101",
            "200",
            "201",
            "202",
            "203",
            "204",
            "205",
        } <= ids  # every accepted record is there
