"""Shared fixtures: one real Kafka broker per test run (or CASEHUB_KAFKA_BOOTSTRAP), unique topic prefixes, databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from casehub.broker import LocalBroker, free_port
from casehub.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_libs() -> Path:
    return load_settings({}).kafka_libs_dir


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_libs, tmp_path_factory):
    """Bootstrap address of the session's broker: CASEHUB_KAFKA_BOOTSTRAP if set, else a local broker on free ports."""
    given = os.environ.get("CASEHUB_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    home = Path(tempfile.mkdtemp(prefix="casehub-test-broker-"))
    broker = LocalBroker(home, kafka_libs, port=0, controller_port=0)
    info = broker.start()
    try:
        yield info.bootstrap
    finally:
        broker.destroy()


@pytest.fixture
def prefix(request) -> str:
    """A topic prefix no other test uses: every test gets its own topics and consumer groups."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    return f"t-{name}-{uuid.uuid4().hex[:8]}."


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@pytest.fixture(scope="session")
def registry_url(kafka_bootstrap, tmp_path_factory):
    """The hub's own schema registry, served by `casehub registry` against the session broker."""
    port = free_port()
    home = tmp_path_factory.mktemp("registry-home")
    env = {**os.environ, "CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap, "CASEHUB_REGISTRY_PORT": str(port), "CASEHUB_HOME": str(home),
           "CASEHUB_TOPIC_PREFIX": f"session-{uuid.uuid4().hex[:8]}."}
    log = open(home / "registry.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "casehub.cli", "registry"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/subjects", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.fixture
def postgres_url():
    """A real PostgreSQL (CASEHUB_TEST_POSTGRES_URL, set by .ci/run). Missing in CI is a failure, not a skip."""
    url = os.environ.get("CASEHUB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CASEHUB_TEST_POSTGRES_URL is not set: .ci/run must install and start PostgreSQL")
        pytest.skip("no PostgreSQL configured (set CASEHUB_TEST_POSTGRES_URL; .ci/run does)")
    return url


@pytest.fixture
def mariadb_url():
    """A real MariaDB (CASEHUB_TEST_MARIADB_URL, set by .ci/run). Missing in CI is a failure, not a skip."""
    url = os.environ.get("CASEHUB_TEST_MARIADB_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CASEHUB_TEST_MARIADB_URL is not set: .ci/run must install and start MariaDB")
        pytest.skip("no MariaDB configured (set CASEHUB_TEST_MARIADB_URL; .ci/run does)")
    return url


def java_tool(kafka_libs: Path, main_class: str, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one of Kafka's own command-line tools (the standard Java client) from the resolved jars."""
    java = shutil.which("java")
    return subprocess.run([java, "-cp", f"{kafka_libs}/*", main_class, *args], input=input, capture_output=True, text=True, timeout=timeout)


async def read_topic(bootstrap: str, topic: str) -> list:
    """Every message now in `topic` (all partitions, from the beginning to the current end)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await consumer._client.fetch_all_metadata()
        parts = [TopicPartition(topic, p) for p in sorted(partitions.partitions_for_topic(topic) or [])]
        assert parts, f"topic {topic} does not exist"
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        messages = []
        for tp in parts:
            while await consumer.position(tp) < ends[tp]:
                messages.extend((await consumer.getmany(tp, timeout_ms=1000)).get(tp, []))
        return messages
    finally:
        await consumer.stop()
