"""The embedded schema registry speaks the Confluent REST API, checks compatibility, and keeps ids across restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from casehub.run.broker import free_port
from casehub.schemas.contract import TOPIC_RECORDS
from tests.support.kafka import wait_http
from tests.support.registry import basic
from tests.support.registry import call as _call

CREDENTIALS = "casehub:registry-test-secret"


@pytest.fixture
def auth(registry_credentials) -> dict:
    return basic(registry_credentials)


def call(url: str, method: str = "GET", body: dict | None = None, auth: dict | None = None):
    return _call(url, method, body, auth)


def rec(*fields) -> str:
    return json.dumps({"type": "record", "name": "Probe", "namespace": "t", "fields": list(fields)})


def test_register_lookup_and_fetch(registry_url, auth):
    subject = f"probe-{uuid.uuid4().hex[:6]}-value"
    schema = rec({"name": "a", "type": "string"})
    status, body = call(f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": schema})
    assert status == 401 and "credential" in body["message"]  # writes need the registry's credential
    status, body = call(f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": schema}, auth)
    assert status == 200
    sid = body["id"]
    assert call(f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": schema})[1]["id"] == sid  # idempotent
    assert json.loads(call(f"{registry_url}/schemas/ids/{sid}")[1]["schema"]) == json.loads(schema)
    status, latest = call(f"{registry_url}/subjects/{subject}/versions/latest")
    assert (latest["version"], latest["id"]) == (1, sid)
    assert call(f"{registry_url}/subjects/{subject}", "POST", {"schema": schema})[1]["version"] == 1
    assert subject in call(f"{registry_url}/subjects")[1]
    assert call(f"{registry_url}/subjects/nope-{subject}/versions")[1]["error_code"] == 40401
    assert call(f"{registry_url}/schemas/ids/999999")[1]["error_code"] == 40403
    assert call(f"{registry_url}/config")[1] == {"compatibilityLevel": "BACKWARD"}


def test_incompatible_change_is_refused_with_the_field_named(registry_url, auth):
    subject = f"probe-{uuid.uuid4().hex[:6]}-value"
    call(f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": rec({"name": "a", "type": "string"})}, auth)
    bad = rec({"name": "a", "type": "string"}, {"name": "b", "type": "int"})
    status, body = call(
        f"{registry_url}/compatibility/subjects/{subject}/versions/latest?verbose=true", "POST", {"schema": bad}
    )
    assert (
        status == 200 and body["is_compatible"] is False and any("b" in m and "default" in m for m in body["messages"])
    )
    status, body = call(f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": bad}, auth)
    assert status == 409 and "b: field added without a default" in body["message"]
    good = rec({"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0})
    status, body = call(f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": good}, auth)
    assert status == 200
    assert call(f"{registry_url}/subjects/{subject}/versions")[1] == [1, 2]
    # per-subject level
    assert call(f"{registry_url}/config/{subject}", "PUT", {"compatibility": "NONE"}, auth)[0] == 200
    assert (
        call(
            f"{registry_url}/subjects/{subject}/versions", "POST", {"schema": rec({"name": "z", "type": "long"})}, auth
        )[0]
        == 200
    )


def test_invalid_schema_is_rejected(registry_url, auth):
    status, body = call(
        f"{registry_url}/subjects/x-value/versions", "POST", {"schema": '{"type": "record", "name": "R"}'}, auth
    )
    assert status == 422 and body["error_code"] == 42201


def test_hub_registers_its_contract_at_start_and_ids_survive_restart(kafka_bootstrap, tmp_path):
    prefix = f"restart-{uuid.uuid4().hex[:6]}."
    port = free_port()
    env = {
        **os.environ,
        "CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CASEHUB_REGISTRY_PORT": str(port),
        "CASEHUB_HOME": str(tmp_path),
        "CASEHUB_TOPIC_PREFIX": prefix,
        "CASEHUB_REGISTRY_CREDENTIALS": CREDENTIALS,
    }
    url = f"http://127.0.0.1:{port}"
    auth = basic(CREDENTIALS)

    def start():
        proc = subprocess.Popen(
            [sys.executable, "-m", "casehub", "registry"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_http(url + "/subjects", proc)
        return proc

    proc = start()
    try:
        expected = {f"{prefix}{t}-value" for t in TOPIC_RECORDS}
        # the contract is registered before the first request is answered: no consumer finds a subject missing
        assert expected <= set(call(f"{url}/subjects")[1])
        before = {s: call(f"{url}/subjects/{s}/versions/latest")[1]["id"] for s in expected}
        extra = call(
            f"{url}/subjects/{prefix}extra-value/versions", "POST", {"schema": rec({"name": "q", "type": "long"})}, auth
        )[1]["id"]
    finally:
        proc.terminate()
        proc.wait(30)
    proc = start()
    try:
        after = {s: call(f"{url}/subjects/{s}/versions/latest")[1]["id"] for s in before}
        assert after == before
        assert json.loads(call(f"{url}/schemas/ids/{extra}")[1]["schema"])["fields"][0]["name"] == "q"
        new = call(
            f"{url}/subjects/{prefix}new-value/versions", "POST", {"schema": rec({"name": "n", "type": "int"})}, auth
        )[1]["id"]
        assert new > max([*after.values(), extra])  # ids are never reused
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_second_registry_fences_the_first(kafka_bootstrap, tmp_path):
    """Two registry processes on one topic: the newer one takes over, the older refuses to write (no id handed out
    twice)."""
    prefix = f"fence-{uuid.uuid4().hex[:6]}."
    procs, urls = [], []
    auth = basic(CREDENTIALS)
    try:
        for _ in range(2):
            port = free_port()
            env = {
                **os.environ,
                "CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "CASEHUB_REGISTRY_PORT": str(port),
                "CASEHUB_HOME": str(tmp_path),
                "CASEHUB_TOPIC_PREFIX": prefix,
                "CASEHUB_REGISTRY_CREDENTIALS": CREDENTIALS,
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "casehub", "registry"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
            wait_http(urls[-1] + "/subjects", proc)
        old, new = urls
        status, body = call(
            f"{old}/subjects/{prefix}a-value/versions", "POST", {"schema": rec({"name": "a", "type": "int"})}, auth
        )
        assert status == 503 and "took over" in body["message"]
        status, body = call(
            f"{new}/subjects/{prefix}b-value/versions", "POST", {"schema": rec({"name": "b", "type": "int"})}, auth
        )
        assert status == 200
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
