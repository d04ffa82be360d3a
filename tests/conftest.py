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


# Real databases: .ci/run installs and starts them and sets these variables. Outside CI, tests that need a
# database nobody configured are skipped by these marks (in CI, with CI set, they run and fail loudly instead).
needs_postgres = pytest.mark.skipif(not (os.environ.get("CASEHUB_TEST_POSTGRES_URL") or os.environ.get("CI")),
                                    reason="no PostgreSQL configured (set CASEHUB_TEST_POSTGRES_URL; .ci/run does)")
needs_mariadb = pytest.mark.skipif(not (os.environ.get("CASEHUB_TEST_MARIADB_URL") or os.environ.get("CI")),
                                   reason="no MariaDB configured (set CASEHUB_TEST_MARIADB_URL; .ci/run does)")


def _database_url(variable: str, what: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.fail(f"{variable} is not set: .ci/run must install and start {what}")
    return url


@pytest.fixture
def postgres_url():
    """A real PostgreSQL (CASEHUB_TEST_POSTGRES_URL); use with @needs_postgres."""
    return _database_url("CASEHUB_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture
def mariadb_url():
    """A real MariaDB (CASEHUB_TEST_MARIADB_URL); use with @needs_mariadb."""
    return _database_url("CASEHUB_TEST_MARIADB_URL", "MariaDB")


def java_tool(kafka_libs: Path, main_class: str, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one of Kafka's own command-line tools (the standard Java client) from the resolved jars."""
    java = shutil.which("java")
    return subprocess.run([java, "-cp", f"{kafka_libs}/*", main_class, *args], input=input, capture_output=True, text=True, timeout=timeout)


async def read_topic(bootstrap: str, topic: str) -> list:
    """Every message now in `topic` (all partitions, from the beginning to the current end)."""
    from casehub.kafka_admin import read_to_end

    try:
        return [m async for m in read_to_end(bootstrap, topic)]
    except LookupError as exc:
        raise AssertionError(str(exc)) from exc
