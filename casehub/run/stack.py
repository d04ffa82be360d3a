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
from secrets import token_urlsafe

from casehub.ground.access import sign_in_link
from casehub.ground.kafka import KafkaClients, broker_answers, ensure_topics, security_options, wait_for_broker
from casehub.ground.secrets import OPERATOR_TOKEN, REGISTRY_CREDENTIALS, HomeSecrets, hmac_secret
from casehub.ground.settings import SECRET_VARIABLES, Settings, SettingsError, variable
from casehub.run.broker import LocalBroker, _pid_alive

# Start order; they stop in the reverse order (producers of data first, the registry last).
COMPONENTS = ("registry", "worker", "sink", "web", "court-sim", "relay", "connect", "intake")
KAFKA_SECRETS = ("kafka_sasl_password", "kafka_ssl_key_password")
REGISTRY_SECRETS = ("registry_credentials", "registry_token")
# The secrets each component uses, and no other: every child starts from an environment with none of them.
USES = {
    "registry": (*KAFKA_SECRETS, *REGISTRY_SECRETS),
    "worker": KAFKA_SECRETS,
    "sink": KAFKA_SECRETS,
    # the web view publishes link corrections and the courts' answers (Kafka, the registry) and checks court signatures
    "web": (*KAFKA_SECRETS, "web_tokens", "court_secrets"),
    "court-sim": ("web_tokens", "court_secrets"),  # calls back as the sample's courts
    "relay": (*KAFKA_SECRETS, "court_secrets"),
    "connect": (*KAFKA_SECRETS, "hmac_secret"),
    "intake": (*KAFKA_SECRETS, "hmac_secret", "intake_tokens"),
}
REGISTRY_CLIENTS = ("worker", "sink", "web", "relay", "connect", "intake")


def child_environment(name: str, base: dict, secrets: dict, registry_clients_sign_in: bool) -> dict:
    """The environment of component `name`: `base` without any secret, plus the secrets (setting -> value) it uses.

    Args:
        registry_clients_sign_in: the registry's clients need its credential too: an external registry (they
            register there), or the embedded one listening beyond the loopback (reads need it).
    """
    env = {k: v for k, v in base.items() if k not in SECRET_VARIABLES}
    if not set(KAFKA_SECRETS) & set(USES[name]):  # no Kafka client at all (the web view): no Kafka settings either
        env = {k: v for k, v in env.items() if not k.startswith("CASEHUB_KAFKA_")}
    signs_in = registry_clients_sign_in and name in REGISTRY_CLIENTS
    uses = set(USES[name]) | (set(REGISTRY_SECRETS) if signs_in else set())
    env.update({variable(s): secrets[s] for s in uses if secrets.get(s)})
    return env


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


def _http_ok(url: str, credentials: str | None = None) -> bool:
    from casehub.schemas.registry.client import authorization

    header = authorization(credentials)
    request = urllib.request.Request(url, headers={"Authorization": header} if header else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait_repaired(settings: Settings, child: Child, credentials: str | None, stopping: dict) -> bool:
    """If the embedded registry reports conflicts with the contract, say so and wait (the registry serving on) until
    `casehub schemas repair` clears them; False if stopped meanwhile."""
    from casehub.run.components import contract_conflicts, describe_conflicts

    conflicts = contract_conflicts(settings, credentials)
    if not conflicts:
        return True
    _say(f"the schema registry reports {len(conflicts)} subject(s) in conflict with casehub's contract:")
    _say(f"  {describe_conflicts(conflicts)}")
    _say(
        f"the registry keeps serving at {settings.registry_url}; run `casehub schemas repair` (same CASEHUB_HOME) to "
        "restore the contract, and the hub starts the rest"
    )
    while conflicts:
        if stopping["flag"]:
            return False
        if child.proc.poll() is not None:
            raise RuntimeError(f"registry exited with code {child.proc.returncode}; see {child.log}")
        time.sleep(1.0)
        conflicts = contract_conflicts(settings, credentials)
    _say("contract restored in the registry; starting the rest of the hub")
    return True


def _wait_http(url: str, child: Child, timeout: float = 60.0, credentials: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _http_ok(url, credentials):
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
        "connector_metrics_url": f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        if settings.metrics_port
        else None,
        "intake_url": f"http://{settings.intake_host}:{settings.intake_port}/intake/<source>"
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
    if settings.kafka_security_protocol != "PLAINTEXT" and not settings.kafka_bootstrap:
        _say(
            "error: CASEHUB_KAFKA_SECURITY_PROTOCOL is set but CASEHUB_KAFKA_BOOTSTRAP is not: the local broker "
            "listens in plaintext on 127.0.0.1; point CASEHUB_KAFKA_BOOTSTRAP at the secured cluster"
        )
        return 2
    if settings.uses_samples:
        if not (settings.samples / "ground_truth.json").exists():
            create_sample_databases(settings.samples, sample_cases)
            _say(f"sample agency databases created in {settings.samples} ({sample_cases} cases)")
        else:
            _say(f"sample agency databases in {settings.samples}")
    try:
        secrets = _secrets(settings)
    except SettingsError as exc:
        _say(f"error: {exc}")
        return 2

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
            _say(f"using the Kafka cluster at {bootstrap} ({settings.kafka_security_protocol})")
            kafka = KafkaClients(bootstrap, security_options(settings))
            asyncio.run(wait_for_broker(kafka, 60))
        else:
            lb = local_broker(settings)
            already = lb.info()
            info = lb.start()
            broker = None if already else lb  # stop only a broker this command started
            bootstrap = info.bootstrap
            kafka = KafkaClients(bootstrap)
            _say(f"Kafka broker {'found running' if already else 'started'} at {bootstrap} (logs: {info.log_file})")
        asyncio.run(ensure_topics(kafka, settings.topics.specs(settings.partitions), settings.replication_factor))
        from casehub.sinks.case_view import create_engine

        create_engine(settings.case_view).dispose()  # migrated once, before the sink, the web view and the relay
        _court_access(settings)

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
                    env=child_environment(
                        name, env, secrets, not (settings.embedded_registry and settings.registry_reads_open)
                    ),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            child = Child(name, proc, log)
            children.append(child)
            if name == "registry":
                _wait_http(settings.registry_url + "/", child, credentials=secrets.get("registry_credentials"))
                if not _wait_repaired(settings, child, secrets.get("registry_credentials"), stopping):
                    break
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
        if stopping["flag"]:
            raise KeyboardInterrupt
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
        if secrets.get("operator_token"):  # printed on this terminal only: never logged, never in status.json
            _say(f"  {'sign in':20} {sign_in_link(settings.web_url, secrets['operator_token'])}")
        else:
            _say(f"  {'sign in':20} with a token from CASEHUB_WEB_TOKENS (Authorization: Bearer <token>)")
        _say("press Ctrl-C to stop everything")
        while not stopping["flag"]:
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                for c in dead:
                    _say(f"{c.name} exited with code {c.proc.returncode}; see {c.log}. Stopping the hub.")
                code = 1
                break
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
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


def _secrets(settings: Settings) -> dict:
    """The secrets of this hub, setting -> value: from the settings, or generated once per home for the sample hub.

    The HMAC key and the operator token generated here stay in their 0600 files, read by the one component that uses
    each (connect, web); the embedded registry's credential is passed to the registry alone.

    Raises:
        SettingsError: real data and no CASEHUB_HMAC_SECRET (casehub.ground.secrets says how to set it).
    """
    from casehub.connectors.runner import resolve

    home = HomeSecrets(settings.home)
    try:
        databases = {s.mapping.name: s.url for s in resolve(settings)}
    except LookupError:
        databases = {}  # `casehub connect` reports it, naming the connector
    found = {name: getattr(settings, name) for name in (*KAFKA_SECRETS, *REGISTRY_SECRETS, "intake_tokens")}
    if settings.hmac_secret:
        found["hmac_secret"] = settings.hmac_secret
    else:
        hmac_secret(settings, databases)  # refuses real data; for samples, makes sure the home's secret exists
        _say(f"identity hashes use this home's own secret in {home.path('hmac_secret')} (sample data only)")
    if settings.web_tokens:
        found["web_tokens"] = settings.web_tokens
    else:
        found["operator_token"], created = home.ensure(OPERATOR_TOKEN)
        if created:
            _say(f"operator token for the web view created in {home.path(OPERATOR_TOKEN)}")
    if settings.embedded_registry and not (settings.registry_credentials or settings.registry_token):
        found["registry_credentials"], _ = home.ensure(REGISTRY_CREDENTIALS, lambda: "casehub:" + token_urlsafe(32))
    return found


def _court_access(settings: Settings) -> None:
    """On sample data, a token and a signing secret for each court of the sample's directory, created once per home
    (CASEHUB_HOME/secrets/courts, 0600): the court simulator and the hub share them, as a court and the hub would."""
    from casehub.domain.directory import DirectoryError
    from casehub.ground.access import COURTS_FILE, courts_file
    from casehub.sinks.reference import load_reference

    if not settings.uses_samples:
        return
    try:
        ref = load_reference(settings)
    except DirectoryError as exc:
        raise RuntimeError(str(exc)) from exc
    if ref is None:
        _say(f"no roster or court directory in {settings.samples}: no judicial-confirmation requests are built")
        return
    home = HomeSecrets(settings.home)
    _, created = home.ensure(COURTS_FILE, lambda: courts_file([c.code for c in ref.directory.courts]))
    if created:
        _say(f"tokens and signing secrets of the sample's courts created in {home.path(COURTS_FILE)}")


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
    if components.get("intake", {}).get("running"):
        # running is not enough: the endpoint's /healthz says whether it can accept a record now (Kafka reachable)
        health = f"http://{settings.web_host}:{settings.intake_port}/healthz"
        components["intake"]["accepting"] = _http_ok(health)
    broker_up = asyncio.run(broker_answers(KafkaClients(bootstrap, security_options(settings)), timeout=2.0))
    components["kafka"] = {"running": broker_up, "pid": (state.get("broker") or {}).get("pid")}
    out["components"] = components
    out["running"] = bool(state) and all(c["running"] and c.get("accepting", True) for c in components.values())
    return out
