"""Running `casehub up` in a test: its environment, start and stop, waiting on it, reading what it wrote (the case
view, the secrets of its home, any leak of them into logs and topics, the environment of its components)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from casehub.ground.kafka import KafkaClients, clients
from casehub.run.broker import free_port
from tests.support.kafka import read_topic

BOUND = 120.0  # seconds any single wait below may take at most
MAIN_TABLES = {"mediation": "tj_ajxx", "arbitration": "arb_case", "court": "AJ_JBXX", "inspection": "complaints"}
# every status change of a sample record is a row here, its latest one the main row's state as well
HISTORY_TABLES = {
    "mediation": "tj_ajzt_ls",
    "arbitration": "arb_case_status",
    "court": "AJ_LCJL",
    "inspection": "complaint_log",
}


def transitions(sample_dir: str) -> int:
    """How many timeline entries the sample's records make (one per status change, the main row's own included)."""
    return sum(count(f"{sample_dir}/{name}.db", table) for name, table in HISTORY_TABLES.items())


def truth_cases(sample_dir: str) -> list[dict]:
    import json

    return json.loads(Path(sample_dir, "ground_truth.json").read_text(encoding="utf-8"))


def count(path: str, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def list_topics(kafka: KafkaClients | str) -> list[str]:
    admin = clients(kafka).admin()
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


def wait_for(predicate, what: str, timeout: float = BOUND, proc: subprocess.Popen | None = None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"casehub up exited ({proc.returncode}) while waiting for {what}:\n{log.read_text() if log else ''}"
            )
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def view_rows(db: str, sql: str, *args):
    if not os.path.exists(db):
        return []
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []


def hub_env(kafka_bootstrap: str, prefix: str, home, **extra: str) -> dict:
    """The environment of a `casehub up` on the session broker, with its own home, topics and free ports (and any
    `extra` CASEHUB_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(
        CASEHUB_HOME=str(home),
        CASEHUB_KAFKA_BOOTSTRAP=kafka_bootstrap,
        CASEHUB_TOPIC_PREFIX=prefix,
        CASEHUB_PARTITIONS="2",
        CASEHUB_REGISTRY_PORT=str(free_port()),
        CASEHUB_WEB_PORT=str(free_port()),
        CASEHUB_METRICS_PORT=str(free_port()),
        CASEHUB_COURT_SIM_PORT=str(free_port()),
        CASEHUB_POLL_INTERVAL="0.2",
        **extra,
    )  # no secret configured: sample data, so the hub makes its own per home
    return env


def start_up(env: dict, log, cases: int = 12) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "casehub", "up", "--cases", str(cases)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_up(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def home_secrets(home: Path) -> dict[str, str]:
    """The secrets `casehub up` generated in its home, each checked to be a 0600 file in a 0700 folder."""
    folder = home / "secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    found = {}
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        found[path.name] = path.read_text().strip()
    return found


def _needles(secrets: dict[str, str]) -> dict[str, bytes]:
    return {name: value.rpartition(":")[2].encode() for name, value in secrets.items()}  # user:password -> password


def leaks_in_files(secrets: dict[str, str], files: list[Path]) -> list[str]:
    """Where any secret value (or the password of a user:password) appears in these files."""
    return [f"{n} in {p.name}" for p in files for n, needle in _needles(secrets).items() if needle in p.read_bytes()]


def leaks_in_topics(secrets: dict[str, str], kafka: KafkaClients | str, prefix: str) -> list[str]:
    """Where any secret appears in a topic of the run (keys and values; restricted and internal topics included)."""
    needles, found = _needles(secrets), []
    for topic in asyncio.run(list_topics(kafka)):
        if topic.startswith(prefix):
            for message in asyncio.run(read_topic(kafka, topic)):
                blob = (message.key or b"") + (message.value or b"")
                found += [f"{name} in topic {topic}" for name, needle in needles.items() if needle in blob]
    return found


def environment_of(pid: int) -> dict[str, str]:
    """The environment a running process was started with (Linux /proc)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def wait_running(env: dict, proc, log) -> dict:
    status = {}

    def running():
        res = subprocess.run(
            [sys.executable, "-m", "casehub", "status", "--json"], env=env, capture_output=True, text=True
        )
        if res.returncode == 0:
            status.update(json.loads(res.stdout))
            return True
        return False

    wait_for(running, "the hub to report running", proc=proc, log=log)
    return status


def status_of(env: dict) -> dict | None:
    """`casehub status --json` of the hub of `env`, or None while it does not run."""
    res = subprocess.run([sys.executable, "-m", "casehub", "status", "--json"], env=env, capture_output=True, text=True)
    return json.loads(res.stdout) if res.returncode == 0 else None


def get_json(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def get_text(url: str, token: str) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read().decode()
