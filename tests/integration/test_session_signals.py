"""SIGTERM or SIGINT to a running test session stops the broker and the registry it started (item 14 of issue 10).

A child pytest session runs a tiny test that needs both and then waits; the signal is sent while it waits,
and no process the child started may survive it (the broker runs in a session of its own, so without the
handler it outlives the run, re-parented to pid 1 and still listening).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TINY = """
import os, time
from pathlib import Path

def test_waits_for_a_signal(kafka_bootstrap, registry_url):
    Path(os.environ["READY_FILE"]).write_text(kafka_bootstrap)
    time.sleep(300)
"""


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_session_leaves_no_broker_or_registry(signum, tmp_path):
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.support.kafka"]\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if k != "CASEHUB_KAFKA_BOOTSTRAP"}  # the child starts its own broker
    env.update(READY_FILE=str(ready), PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
         str(tmp_path / "test_tiny.py")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    started: list[int] = []
    try:
        wait_until(lambda: ready.exists() or child.poll() is not None, 180, "the child session never got ready")
        assert child.poll() is None, child.stdout.read().decode()
        started += children_of(child.pid)
        commands = [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ") for p in started]
        assert any(b"kafka.Kafka" in c for c in commands), commands
        assert any(b"casehub registry" in c for c in commands), commands
        child.send_signal(signum)
        child.wait(120)
        survivors = [p for p in started if alive(p)]
        assert not survivors, [Path(f"/proc/{p}/cmdline").read_bytes() for p in survivors]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        for pid in started:  # a failing run leaves nothing behind either
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
