"""Finding 1 of issue 11: deleting casehub's own subject and registering an incompatible schema under it must not stop
the registry on its next start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

from casehub.run.broker import free_port
from tests.support.kafka import wait_http

CT = "application/vnd.schemaregistry.v1+json"
INTRUDER = {"type": "record", "name": "CaseRecord", "namespace": "cn.casehub", "fields": [{"name": "x", "type": "int"}]}


def call(url: str, method: str = "GET", body: dict | None = None):
    req = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None, headers={"Content-Type": CT}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def test_delete_and_overwrite_of_a_contract_subject_leaves_the_registry_restartable(kafka_bootstrap, tmp_path):
    prefix = f"brick-{uuid.uuid4().hex[:6]}."
    port = free_port()
    env = {
        **os.environ,
        "CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CASEHUB_REGISTRY_PORT": str(port),
        "CASEHUB_HOME": str(tmp_path),
        "CASEHUB_TOPIC_PREFIX": prefix,
    }
    url = f"http://127.0.0.1:{port}"
    subject = f"{prefix}casehub.cases-value"

    def start(log):
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "casehub", "registry"], env=env, stdout=out, stderr=out)
        wait_http(url + "/subjects", proc)
        return proc

    proc = start(tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        while subject not in call(url + "/subjects")[1] and time.monotonic() < deadline:
            time.sleep(0.1)
        call(f"{url}/subjects/{subject}", "DELETE")
        call(f"{url}/subjects/{subject}/versions", "POST", {"schema": json.dumps(INTRUDER)})
    finally:
        proc.terminate()
        proc.wait(30)
    proc = start(tmp_path / "second.log")
    try:
        status, subjects = call(url + "/subjects")
        assert status == 200 and subject in subjects
        # still serving a while later: the contract's registration must not stop it
        time.sleep(0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, (tmp_path / "second.log").read_text()
    finally:
        proc.terminate()
        proc.wait(30)
