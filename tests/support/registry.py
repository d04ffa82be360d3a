"""The hub's schema registry in tests: starting `casehub registry` processes, calling its API, and the hostile inputs
of issues 10 and 11."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from casehub.run.broker import free_port
from tests.support.kafka import wait_http

CT = "application/vnd.schemaregistry.v1+json"

# Finding 1 of issue 11: registered under casehub.cases-value after deleting the subject
INTRUDER = {"type": "record", "name": "CaseRecord", "namespace": "cn.casehub", "fields": [{"name": "x", "type": "int"}]}


def nested_records(depth: int) -> str:
    """A record holding a record ... `depth` records deep (as text: json.dumps itself cannot nest that deep)."""
    text = '{"type": "record", "name": "R0", "fields": [{"name": "v", "type": "int"}]}'
    for i in range(1, depth):
        text = f'{{"type": "record", "name": "R{i}", "fields": [{{"name": "inner", "type": {text}}}]}}'
    return text


# Issue 10 item 12 (registry half): each once gave a bare 500
BAD_SCHEMA_BODIES = {
    "schema as an object": json.dumps({"schema": {"type": "string"}}).encode(),
    "schema as a number": json.dumps({"schema": 5}).encode(),
    "schema as null": json.dumps({"schema": None}).encode(),
    "deep JSON body": b'{"schema": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep JSON schema": json.dumps({"schema": "[" * 5000 + "]" * 5000}).encode(),
    "600-deep nested records": json.dumps({"schema": nested_records(600)}).encode(),
}


def basic(credentials: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def call(url: str, method: str = "GET", body=None, headers: dict | None = None, raw: bytes | None = None):
    """(status, parsed JSON or text) of one registry request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, method=method, data=data, headers={"Content-Type": CT, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


@dataclass
class RegistryProcess:
    """One `casehub registry` process: its URL, log and environment."""

    proc: subprocess.Popen
    url: str
    log: Path
    env: dict

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def start_registry(kafka_bootstrap: str, home: Path, prefix: str, log: Path, **settings: str) -> RegistryProcess:
    """Start `casehub registry` on a free port for `prefix` and wait until it answers.

    Args:
        settings: more CASEHUB_* variables, by setting name (registry_credentials="u:p", ...).
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(
        CASEHUB_KAFKA_BOOTSTRAP=kafka_bootstrap,
        CASEHUB_REGISTRY_PORT=str(port),
        CASEHUB_HOME=str(home),
        CASEHUB_TOPIC_PREFIX=prefix,
        **{f"CASEHUB_{k.upper()}": v for k, v in settings.items()},
    )
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "casehub", "registry"], env=env, stdout=out, stderr=out)
    running = RegistryProcess(proc, f"http://127.0.0.1:{port}", log, env)
    try:
        wait_http(running.url + "/subjects", proc)
    except Exception:
        running.stop()
        raise AssertionError(f"the registry did not start:\n{log.read_text()}") from None
    return running
