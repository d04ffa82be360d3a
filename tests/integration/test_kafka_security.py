"""Kafka security (issue 11): the hub joins a broker whose only client listener is SASL_PLAINTEXT. Every component
`casehub up` starts (registry, worker, sink, connectors, push intake) signs in with SCRAM from the settings, a row of
an agency database and a pushed record both reach the case view, and no secret of the run shows in a log, a topic or
the environment of a component that does not use it."""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import urllib.request
from pathlib import Path

import pytest

from casehub.connectors.sample import mediation_rows
from casehub.ground.kafka import KafkaClients, broker_answers
from casehub.run.broker import BrokerSasl, LocalBroker, free_port
from tests.support.hub import (
    environment_of,
    home_secrets,
    hub_env,
    leaks_in_files,
    leaks_in_topics,
    start_up,
    stop_up,
    transitions,
    view_rows,
    wait_for,
    wait_running,
)


@pytest.fixture(scope="module")
def sasl_broker(kafka_libs):
    """A local broker that lets in only SASL users: (bootstrap, BrokerSasl, its log files)."""
    sasl = BrokerSasl({"admin": secrets.token_urlsafe(16), "casehub": secrets.token_urlsafe(16)})
    broker = LocalBroker(Path(tempfile.mkdtemp(prefix="casehub-sasl-broker-")), kafka_libs, 0, 0, sasl=sasl)
    info = broker.start()
    try:
        yield info.bootstrap, sasl, [broker.log_file, broker.stdout_file]
    finally:
        broker.destroy()


def test_the_broker_lets_in_only_signed_in_clients(sasl_broker):
    bootstrap, sasl, _ = sasl_broker
    assert not asyncio.run(broker_answers(bootstrap, timeout=3))  # plaintext: no answer
    wrong = KafkaClients(bootstrap, {**sasl.clients(bootstrap, "casehub").options, "sasl_plain_password": "wrong"})
    assert not asyncio.run(broker_answers(wrong, timeout=3))
    for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        assert asyncio.run(broker_answers(sasl.clients(bootstrap, "casehub", mechanism))), mechanism


def test_every_component_runs_on_a_sasl_broker_and_secrets_stay_put(sasl_broker, prefix, tmp_path):
    bootstrap, sasl, broker_logs = sasl_broker
    intake_token, hmac_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    home = tmp_path / "home"
    env = hub_env(bootstrap, prefix, home)
    env.update(
        CASEHUB_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        CASEHUB_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        CASEHUB_KAFKA_SASL_USERNAME="casehub",
        CASEHUB_KAFKA_SASL_PASSWORD=sasl.users["casehub"],
        CASEHUB_HMAC_SECRET=hmac_secret,  # push intake is real data: the secret must be configured
        CASEHUB_INTAKE_TOKENS=f"mediation:{intake_token}",
        CASEHUB_INTAKE_PORT=str(free_port()),
    )
    log = tmp_path / "up.log"
    proc = start_up(env, log)
    try:
        status = wait_running(env, proc, log)
        assert set(status["components"]) >= {"registry", "worker", "sink", "web", "connect", "intake", "kafka"}
        assert status["components"]["kafka"]["running"]  # `casehub status` signs in too
        db = status["case_view_url"].removeprefix("sqlite:///")
        sample_rows = transitions(status["sample_dir"])
        wait_for(
            lambda: (view_rows(db, "SELECT count(DISTINCT event_id) FROM case_events") or [[0]])[0][0] == sample_rows,
            "every sample row in the case view (connectors, worker, sink and registry on SASL)",
            proc=proc,
            log=log,
        )

        # push intake publishes through the same secured cluster
        record = {k: (str(v) if v is not None else None) for k, v in mediation_rows(1, seed=77)[0].items()}
        record.update(ajid="90001", ajbh="沈和调〔2026〕9901号")
        request = urllib.request.Request(
            status["intake_url"].replace("<source>", "mediation"),
            data=json.dumps({"records": [record]}).encode(),
            headers={"Authorization": f"Bearer {intake_token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            assert json.loads(resp.read())["accepted"] == 1
        wait_for(
            lambda: view_rows(db, "SELECT case_id FROM case_refs WHERE number = ?", "沈和调〔2026〕9901号"),
            "the pushed record's case in the view",
            proc=proc,
            log=log,
        )

        # each component holds only the secrets it uses
        holders = {
            # the web view and the relay publish (link corrections, court answers, the confirmation log) too
            "CASEHUB_KAFKA_SASL_PASSWORD": {"registry", "worker", "sink", "web", "relay", "connect", "intake"},
            "CASEHUB_HMAC_SECRET": {"connect", "intake"},
            "CASEHUB_INTAKE_TOKENS": {"intake"},
            "CASEHUB_REGISTRY_CREDENTIALS": {"registry"},
        }
        environments = {n: environment_of(c["pid"]) for n, c in status["components"].items() if n != "kafka"}
        for variable, expected in holders.items():
            assert {n for n, e in environments.items() if variable in e} == expected, variable

        generated = home_secrets(home)
        run_secrets = {
            "sasl password": sasl.users["casehub"],
            "sasl admin password": sasl.users["admin"],
            "intake token": intake_token,
            "hmac secret": hmac_secret,
            "registry credential": generated["registry_credentials"],
            "operator token": generated["operator_token"],
        }
        logs = sorted((home / "logs").glob("*.log"))
        assert {p.stem for p in logs} >= {"registry", "worker", "sink", "web", "connect", "intake"}
        token = generated["operator_token"]
        (home / "up-without-sign-in.log").write_text(
            "\n".join(line for line in log.read_text().splitlines() if token not in line or "sign in" not in line)
        )
        assert not leaks_in_files(run_secrets, [*logs, home / "up-without-sign-in.log", *broker_logs])
        assert not leaks_in_topics(run_secrets, sasl.clients(bootstrap), prefix)
    finally:
        stop_up(proc)
    assert proc.returncode == 0, log.read_text()
