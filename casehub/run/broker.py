"""The local single-node Apache Kafka broker (KRaft, combined broker and controller) started from the Maven-resolved
jars."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from casehub.ground.kafka import KafkaClients, broker_answers, wait_for_broker

LOG4J2 = """Configuration:
  status: warn
  Appenders:
    RollingFile:
      name: server
      fileName: "{log}"
      filePattern: "{log}.%i"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
      Policies:
        SizeBasedTriggeringPolicy:
          size: 50MB
      DefaultRolloverStrategy:
        max: 3
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: server
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
"""


class BrokerError(RuntimeError):
    """The local broker could not be set up, started or stopped; the message says why and where to look."""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Kafka binds: a port in TIME_WAIT is free
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class BrokerSasl:
    """A SASL_PLAINTEXT client listener instead of PLAINTEXT: each user can sign in with PLAIN, SCRAM-SHA-256 and
    SCRAM-SHA-512 (how the hub is tested against a secured broker).

    Args:
        users: name -> password; `admin` must be one of them (the broker's own, inter-broker, user).
    """

    users: dict[str, str] = field(repr=False)
    admin: str = "admin"

    def clients(self, bootstrap: str, user: str | None = None, mechanism: str = "PLAIN") -> KafkaClients:
        """KafkaClients signed in as `user` (default: the admin) with `mechanism`."""
        name = user or self.admin
        return KafkaClients(
            bootstrap,
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": mechanism,
                "sasl_plain_username": name,
                "sasl_plain_password": self.users[name],
            },
        )

    def properties(self) -> dict[str, str]:
        plain_users = " ".join(f'user_{n}="{p}"' for n, p in self.users.items())
        props = {
            "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{self.admin}" password="{self.users[self.admin]}" {plain_users};'
            ),
        }
        for mechanism in SASL_MECHANISMS[1:]:
            props[f"listener.name.sasl_plaintext.{mechanism.lower()}.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        return props

    def scram_arguments(self) -> list[str]:
        """StorageTool arguments that create every user's SCRAM credentials when the storage is formatted (KRaft)."""
        return [
            arg
            for mechanism in SASL_MECHANISMS[1:]
            for name, password in self.users.items()
            for arg in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
        ]


@dataclass
class BrokerInfo:
    pid: int
    bootstrap: str
    data_dir: str
    log_file: str


class LocalBroker:
    """Start, find and stop one local broker whose state lives under `home` (data, config, logs, pid file).

    Args:
        home: folder for this broker's files (created); one broker per folder.
        libs: folder holding kafka_2.13 and its runtime jars (resolved by `make setup`).
        port, controller_port: loopback ports; 0 picks free ones.
        sasl: clients must sign in (SASL_PLAINTEXT listener); None: a PLAINTEXT listener.
    """

    def __init__(
        self,
        home: Path,
        libs: Path,
        port: int = 19092,
        controller_port: int = 19093,
        heap: str = "512m",
        sasl: BrokerSasl | None = None,
    ):
        self.home = Path(home)
        self.sasl = sasl
        self.libs = Path(libs)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.data_dir = self.home / "data"
        self.config_file = self.home / "server.properties"
        self.log_dir = self.home / "logs"
        self.log_file = self.log_dir / "server.log"
        self.stdout_file = self.log_dir / "stdout.log"
        self.state_file = self.home / "broker.json"

    # -- queries -------------------------------------------------------------------------------
    def clients(self, bootstrap: str) -> KafkaClients:
        """How this process talks to the broker (signed in as the admin user when SASL is on)."""
        return self.sasl.clients(bootstrap) if self.sasl else KafkaClients(bootstrap)

    def info(self) -> BrokerInfo | None:
        """The broker recorded in this folder if its process still runs, else None."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if not _pid_alive(int(state["pid"])) or not self._is_our_broker(int(state["pid"])):
            return None
        return BrokerInfo(**state)

    def _is_our_broker(self, pid: int) -> bool:
        """The pid still runs this folder's broker (not another process that reused the pid)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return True  # no /proc (not Linux): trust the pid file
        return "kafka.Kafka" in cmdline and str(self.config_file) in cmdline

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> BrokerInfo:
        """Start the broker, or find the one already running from this folder; return once it answers metadata requests.

        Raises:
            BrokerError: jars missing, java missing, the process died, or no answer within `timeout`.
        """
        running = self.info()
        if running is not None:
            kafka = self.clients(running.bootstrap)
            if asyncio.run(broker_answers(kafka)):
                return running
            asyncio.run(wait_for_broker(kafka, timeout, alive=lambda: _pid_alive(running.pid)))
            return running
        self._check_runtime()
        port = self.port or free_port()
        cport = self.controller_port or free_port()
        for number, setting in ((port, "CASEHUB_BROKER_PORT"), (cport, "CASEHUB_CONTROLLER_PORT")):
            if not _port_free(number):
                raise BrokerError(
                    f"port {number} ({setting}) is already in use on 127.0.0.1 by another process; "
                    f"stop it or set {setting} to a free port"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._write_config(port, cport)
        if not (self.data_dir / "meta.properties").exists():
            self._format()
        bootstrap = f"127.0.0.1:{port}"
        cmd = [
            self._java(),
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            "-cp",
            f"{self.libs}/*",
            "kafka.Kafka",
            str(self.config_file),
        ]
        with open(self.stdout_file, "ab") as out:
            # A session of its own: Ctrl-C in the terminal reaches only the supervisor, which stops the broker last.
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        info = BrokerInfo(pid=proc.pid, bootstrap=bootstrap, data_dir=str(self.data_dir), log_file=str(self.log_file))
        self.state_file.write_text(json.dumps(info.__dict__))
        try:
            asyncio.run(wait_for_broker(self.clients(bootstrap), timeout, alive=lambda: proc.poll() is None))
        except TimeoutError as exc:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self.state_file.unlink(missing_ok=True)
            raise BrokerError(f"{exc}. Last lines of {self.stdout_file} and {self.log_file}:\n{self._tail()}") from exc
        return info

    def stop(self, timeout: float = 60.0) -> bool:
        """Shut the broker down cleanly (SIGTERM, then SIGKILL after `timeout`); False if none was running."""
        info = self.info()
        if info is None:
            self.state_file.unlink(missing_ok=True)
            return False
        os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(info.pid):
            _reap(info.pid)
            time.sleep(0.1)
        if _pid_alive(info.pid):
            os.kill(info.pid, signal.SIGKILL)
            while _pid_alive(info.pid):
                _reap(info.pid)
                time.sleep(0.05)
        self.state_file.unlink(missing_ok=True)
        return True

    def destroy(self) -> None:
        """Stop the broker and delete its folder (tests)."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- internals -----------------------------------------------------------------------------
    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if not java:
            raise BrokerError(
                "java not found: the local broker needs Java 17 or newer (or set CASEHUB_KAFKA_BOOTSTRAP to an "
                "existing cluster)"
            )
        return java

    def _check_runtime(self) -> None:
        if not any(self.libs.glob("kafka_2.13-*.jar")):
            raise BrokerError(f"no Kafka jars in {self.libs}: run `make setup` to resolve them from Maven Central")

    def _write_config(self, port: int, cport: int) -> None:
        client = "SASL_PLAINTEXT" if self.sasl else "PLAINTEXT"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{cport}",
            "listeners": f"{client}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"{client}://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": client,
            "listener.security.protocol.map": f"{client}:{client},CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            # One node: internal topics cannot have more replicas than brokers.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Consumers join at once instead of waiting for more members that will not come.
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
            **(self.sasl.properties() if self.sasl else {}),
        }
        # the file holds the SASL users' passwords when SASL is on: readable by this user only
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.home / "log4j2.yaml").write_text(LOG4J2.format(log=self.log_file))

    def _format(self) -> None:
        cluster_id = _random_cluster_id()
        cmd = [
            self._java(),
            "-cp",
            f"{self.libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.config_file),
            "--ignore-formatted",
            *(self.sasl.scram_arguments() if self.sasl else []),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "KAFKA_LOG4J_OPTS": ""})
        if result.returncode != 0:
            raise BrokerError(f"formatting broker storage in {self.data_dir} failed:\n{result.stdout}\n{result.stderr}")

    def _tail(self, lines: int = 30) -> str:
        out = []
        for f in (self.stdout_file, self.log_file):
            try:
                out.append(f"--- {f}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-lines:]))
            except OSError:
                pass
        return "\n".join(out)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _random_cluster_id() -> str:
    # Kafka cluster ids are 16 random bytes in URL-safe base64 without padding (what StorageTool random-uuid prints).
    import base64

    # Like Kafka's own Uuid, never start with "-": the storage tool would read it as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cluster_id[0] != "-":
            return cluster_id
