"""Fixtures for the real Kafka broker (one per test run, or CASEHUB_KAFKA_BOOTSTRAP), the hub's schema registry,
per-test topic prefixes and codecs; helpers that read topics and run Kafka's own tools."""

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

from casehub.ground.settings import load_settings
from casehub.run.broker import LocalBroker, free_port
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.client import RegistryClient


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


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
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
def registry_credentials() -> str:
    """The session registry's write credential (user:password, HTTP basic), as CASEHUB_REGISTRY_CREDENTIALS."""
    return f"casehub-tests:{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def registry_url(kafka_bootstrap, registry_credentials, tmp_path_factory):
    """The hub's own schema registry, served by `casehub registry` against the session broker; writes need
    `registry_credentials`."""
    port = free_port()
    home = tmp_path_factory.mktemp("registry-home")
    env = {
        **os.environ,
        "CASEHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CASEHUB_REGISTRY_PORT": str(port),
        "CASEHUB_HOME": str(home),
        "CASEHUB_TOPIC_PREFIX": f"session-{uuid.uuid4().hex[:8]}.",
        "CASEHUB_REGISTRY_CREDENTIALS": registry_credentials,
    }
    with open(home / "registry.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "casehub", "registry"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/subjects", proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(30)


@pytest.fixture
def codec(registry_url, registry_credentials, prefix) -> AvroCodec:
    """A codec on the session's registry for this test's topics (it registers them with the credential)."""
    return AvroCodec(RegistryClient(registry_url, credentials=registry_credentials), prefix=prefix)


@pytest.fixture
def hub_settings(kafka_bootstrap, registry_url, registry_credentials, prefix, tmp_path):
    """Settings of a hub process on the session's broker and registry, with this test's own topics and home."""
    return load_settings(
        {},
        home=tmp_path / "home",
        kafka_bootstrap=kafka_bootstrap,
        schema_registry_url=registry_url,
        registry_credentials=registry_credentials,
        topic_prefix=prefix,
        hmac_secret="capture-test",
    )


def java_tool(
    kafka_libs: Path, main_class: str, *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run one of Kafka's own command-line tools (the standard Java client) from the resolved jars."""
    java = shutil.which("java")
    return subprocess.run(
        [java, "-cp", f"{kafka_libs}/*", main_class, *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def read_topic(bootstrap, topic: str) -> list:
    """Every message now in `topic` (all partitions, from the beginning to the current end).

    Args:
        bootstrap: the bootstrap address, or KafkaClients for a secured cluster.
    """
    from casehub.ground.kafka import read_to_end

    try:
        return [m async for m in read_to_end(bootstrap, topic)]
    except LookupError as exc:
        raise AssertionError(str(exc)) from exc
