"""`casehub up` as a user runs it, for the end-to-end tests: environment on the session broker with this test's own
topics, ports and home; start, wait for a condition with a bounded deadline, stop with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from casehub.run.broker import free_port

BOUND = 240.0


def hub_env(kafka_bootstrap: str, prefix: str, home, **extra: str) -> dict:
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
        CASEHUB_HMAC_SECRET="e2e-secret",
        **extra,
    )
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


def wait_for(predicate, what: str, timeout: float = BOUND, proc: subprocess.Popen | None = None, log=None):
    """Poll `predicate` until it returns something true (returned), `timeout` seconds at most."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"casehub up exited ({proc.returncode}) while waiting for {what}:\n{log.read_text() if log else ''}"
            )
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def status_of(env: dict) -> dict | None:
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
