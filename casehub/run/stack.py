"""`casehub up`: run the whole local hub in the foreground as supervised processes; `casehub status`: what runs
where."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from casehub.ground.kafka import broker_answers, ensure_topics, wait_for_broker
from casehub.ground.settings import DEV_HMAC_SECRET, Settings
from casehub.run.broker import LocalBroker, _pid_alive

# Start order; they stop in the reverse order (producers of data first, the registry last).
COMPONENTS = ("registry", "worker", "sink", "web", "court-sim", "relay", "connect", "intake")


def status_file(settings: Settings) -> Path:
    return settings.run_dir / "status.json"


def local_broker(settings: Settings) -> LocalBroker:
    return LocalBroker(
        settings.home / "kafka",
        settings.kafka_libs_dir,
        settings.broker_port,
        settings.controller_port,
        settings.broker_heap,
    )


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path


def _say(msg: str) -> None:
    print(f"casehub: {msg}", flush=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait_http(url: str, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _http_ok(url):
            return
        if child.proc.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited with code {child.proc.returncode} before {url} answered; see {child.log}"
            )
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} did not answer at {url} within {timeout:.0f}s; see {child.log}")


def endpoints(settings: Settings, bootstrap: str) -> dict:
    return {
        "kafka_bootstrap": bootstrap,
        "schema_registry_url": settings.registry_url,
        "web_url": settings.web_url,
        "case_view_url": settings.case_view,
        "sample_dir": str(settings.samples) if settings.uses_samples else None,
        "logs": str(settings.log_dir),
        "connector_metrics_url": f"http://{settings.web_host}:{settings.metrics_port}/metrics"
        if settings.metrics_port
        else None,
        "intake_url": f"http://{settings.web_host}:{settings.intake_port}/intake/<source>"
        if settings.intake_tokens
        else None,
        "court_sim_url": settings.court_sim_url if settings.uses_samples else None,
        "topic_prefix": settings.topic_prefix,
    }


def up(settings: Settings, sample_cases: int = 20) -> int:
    """Run the stack until Ctrl-C (SIGINT) or SIGTERM; returns the exit code."""
    from casehub.connectors.samples.databases import create_sample_databases

    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    existing = _read_status(settings)
    if existing and any(_pid_alive(c["pid"]) for c in existing.get("components", {}).values()):
        _say(
            f"a hub already runs from {settings.home} (pid {existing.get('pid')}); stop it first or use another "
            "CASEHUB_HOME"
        )
        return 1
    if settings.hmac_secret == DEV_HMAC_SECRET:
        _say("warning: CASEHUB_HMAC_SECRET is the development default; set a secret of your own before real data flows")

    stopping = {"flag": False}

    def on_signal(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    broker = None
    children: list[Child] = []
    code = 0
    try:
        if settings.kafka_bootstrap:
            bootstrap = settings.kafka_bootstrap
            _say(f"using the Kafka cluster at {bootstrap}")
            asyncio.run(wait_for_broker(bootstrap, 60))
        else:
            lb = local_broker(settings)
            already = lb.info()
            info = lb.start()
            broker = None if already else lb  # stop only a broker this command started
            bootstrap = info.bootstrap
            _say(f"Kafka broker {'found running' if already else 'started'} at {bootstrap} (logs: {info.log_file})")
        if settings.uses_samples:
            if not (settings.samples / "ground_truth.json").exists():
                create_sample_databases(settings.samples, sample_cases)
                _say(f"sample agency databases created in {settings.samples} ({sample_cases} cases)")
            else:
                _say(f"sample agency databases in {settings.samples}")
        asyncio.run(ensure_topics(bootstrap, settings.topics.specs(settings.partitions), settings.replication_factor))
        from casehub.sinks.case_view import create_engine

        create_engine(settings.case_view).dispose()  # migrated once, before the sink, the web view and the relay
        sign_in = _access(settings)

        env = {**os.environ, "CASEHUB_KAFKA_BOOTSTRAP": bootstrap, "CASEHUB_HOME": str(settings.home)}
        if settings.embedded_registry:
            env["CASEHUB_SCHEMA_REGISTRY_URL"] = ""  # children serve or use the embedded one by settings
        for name in COMPONENTS:
            if name == "registry" and not settings.embedded_registry:
                continue
            if name == "intake" and not settings.intake_tokens:
                continue  # the push endpoint runs only once tokens are configured
            if name == "court-sim" and not (settings.uses_samples and settings.court_directory_path.exists()):
                continue  # the simulator stands in for the sample's courts only
            log = settings.log_dir / f"{name}.log"
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "casehub", name],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            child = Child(name, proc, log)
            children.append(child)
            if name == "registry":
                _wait_http(settings.registry_url + "/subjects", child)
            if name == "worker" and not settings.embedded_registry:
                from casehub.run.components import register_contract

                ids = register_contract(settings)
                _say(f"registered {len(ids)} schemas with {settings.registry_url}")
            if name == "web":
                _wait_http(settings.web_url + "/healthz", child)
            if name == "court-sim":
                _wait_http(settings.court_sim_url + "/healthz", child)
        state = {
            "pid": os.getpid(),
            "started_at": time.time(),
            **endpoints(settings, bootstrap),
            "broker": {"pid": broker.info().pid, "started_here": True} if broker else None,
            "components": {c.name: {"pid": c.proc.pid, "log": str(c.log)} for c in children},
        }
        status_file(settings).write_text(json.dumps(state, indent=2, ensure_ascii=False))
        _say("up. Where to look:")
        for key in (
            "kafka_bootstrap",
            "schema_registry_url",
            "web_url",
            "case_view_url",
            "sample_dir",
            "connector_metrics_url",
            "intake_url",
            "court_sim_url",
            "logs",
        ):
            if state.get(key):
                _say(f"  {key:20} {state[key]}")
        if sign_in:
            _say(f"  {'sign in (operator)':20} {sign_in}")
        _say("press Ctrl-C to stop everything")
        while not stopping["flag"]:
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                for c in dead:
                    _say(f"{c.name} exited with code {c.proc.returncode}; see {c.log}. Stopping the hub.")
                code = 1
                break
            time.sleep(0.3)
    except Exception as exc:
        _say(f"error: {exc}")
        code = 1
    finally:
        _say("stopping...")
        for child in reversed(children):
            _stop_child(child)
        if broker is not None:
            broker.stop()
            _say("Kafka broker stopped")
        status_file(settings).unlink(missing_ok=True)
        _say("stopped")
    return code


def _access(settings: Settings) -> str | None:
    """On sample data, the access file (tokens per role and per sample court, court secrets) is generated into the
    hub's home if missing; returns the operator's sign-in link (None when the operator token is not from the file)."""
    from casehub.domain.directory import DirectoryError
    from casehub.ground.access import generate_access_file, load_access
    from casehub.sinks.reference import load_reference

    if settings.uses_samples:
        try:
            ref = load_reference(settings)
        except DirectoryError as exc:
            raise RuntimeError(str(exc)) from exc
        if ref is None:
            _say(f"no roster or court directory in {settings.samples}: no judicial-confirmation requests are built")
        path = generate_access_file(settings.home, [c.code for c in ref.directory.courts] if ref else [])
        _say(f"API tokens and court secrets in {path} (mode 600)")
    token = load_access(settings).token_for("operator")
    return f"{settings.web_url}/login?token={token}" if token else None


def _die_with_parent() -> None:
    """In a component, before exec: ask Linux to send SIGTERM when the supervisor dies, even by SIGKILL.

    Components run in sessions of their own (so a terminal's Ctrl-C reaches only the supervisor); without
    this, a supervisor killed hard would leave them running.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the supervisor's own shutdown path still stops them


def _stop_child(child: Child, timeout: float = 30.0) -> None:
    if child.proc.poll() is None:
        child.proc.send_signal(signal.SIGTERM)
        try:
            child.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()


def _read_status(settings: Settings) -> dict | None:
    try:
        return json.loads(status_file(settings).read_text())
    except (OSError, ValueError):
        return None


def status(settings: Settings) -> dict:
    """Live endpoints and which components run (checked now, not just recorded)."""
    state = _read_status(settings) or {}
    bootstrap = (
        state.get("kafka_bootstrap")
        or settings.kafka_bootstrap
        or (local_broker(settings).info().bootstrap if local_broker(settings).info() else settings.bootstrap)
    )
    out = endpoints(settings, bootstrap)
    out.update(
        {
            k: state[k]
            for k in ("kafka_bootstrap", "schema_registry_url", "web_url", "case_view_url", "sample_dir")
            if k in state
        }
    )
    components = {
        name: {"pid": c["pid"], "running": _pid_alive(c["pid"])} for name, c in state.get("components", {}).items()
    }
    broker_up = asyncio.run(broker_answers(bootstrap, timeout=2.0))
    components["kafka"] = {"running": broker_up, "pid": (state.get("broker") or {}).get("pid")}
    out["components"] = components
    out["running"] = bool(state) and all(c["running"] for c in components.values())
    return out
