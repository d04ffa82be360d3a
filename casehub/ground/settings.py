"""The one settings object of a casehub process, read from CASEHUB_* environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from casehub.ground.topics import Topics

PREFIX = "CASEHUB_"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # casehub/ground/settings.py -> the checkout
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _secret(default=None):
    """A setting that is a secret: never in repr, status output or logs, and passed only to the processes that use
    it (casehub.run.stack)."""
    return field(default=default, repr=False, metadata={"secret": True})


class SettingsError(ValueError):
    """A CASEHUB_* variable is unknown or has a value that cannot be used."""


def _default_home() -> Path:
    # In a source checkout keep run-time data beside the code (git-ignored var/); otherwise in the user's home.
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "var"
    return Path.home() / ".local" / "share" / "casehub"


def _kafka_version() -> str:
    pom = PROJECT_ROOT / "deps" / "kafka" / "pom.xml"
    if pom.exists():
        text = pom.read_text(encoding="utf-8")
        start = text.find("<kafka.version>")
        if start >= 0:
            return text[start + len("<kafka.version>") : text.index("</kafka.version>")].strip()
    return "4.1.1"


@dataclass(frozen=True)
class Settings:
    """Settings of one process. Every field maps to CASEHUB_<FIELD> (upper case).

    Defaults run the whole hub on one machine: a local broker, the embedded schema registry,
    SQLite for the case view, and sample agency databases.
    """

    home: Path = field(default_factory=_default_home)
    kafka_bootstrap: str | None = None  # None: start and use the local broker
    kafka_version: str = field(default_factory=_kafka_version)
    kafka_libs: Path | None = None  # None: .cache/kafka/<version>/libs in the checkout
    broker_port: int = 19092
    controller_port: int = 19093
    broker_heap: str = "512m"
    schema_registry_url: str | None = None  # None: serve the embedded registry on registry_port
    registry_host: str = "127.0.0.1"  # another address also makes reads need the credential
    registry_port: int = 18081
    # "user:password": HTTP basic credential the embedded registry accepts for writes (and, bound elsewhere than the
    # loopback, for reads), and that every registry client of the hub sends (Confluent's basic.auth.user.info)
    registry_credentials: str | None = _secret()
    registry_token: str | None = _secret()  # a bearer token accepted and sent the same way
    registry_allow_contract_changes: bool = False  # let writers delete or break casehub's own subjects (repairs only)
    web_host: str = "127.0.0.1"
    web_port: int = 18080
    # tokens of the web view and /api by role (casehub.ground.access): "operator:T,viewer:T,integrator:T,court/<code>:T"
    web_tokens: str | None = _secret()
    case_view_url: str | None = None  # None: sqlite file under home
    mediation_db_url: str | None = None  # None: the sample mediation database under home
    arbitration_db_url: str | None = None
    court_db_url: str | None = None
    inspection_db_url: str | None = None
    connectors: str | None = None  # comma-separated connector names to run; None: every mapping with a database
    mapping_dir: Path | None = None  # extra mapping files (*.toml) beside the built-in ones
    intake_tokens: str | None = _secret()  # "source:token,source:token" for push intake
    intake_host: str = "127.0.0.1"
    intake_port: int = 18082
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 18083  # Prometheus /metrics of `casehub connect`; 0 turns it off
    sample_dir: Path | None = None
    topic_prefix: str = ""
    partitions: int = 3
    replication_factor: int = 1
    app_id: str = "casehub"
    # key of the identity hashes; None: only sample data may be hashed, with the per-home secret (ground.secrets)
    hmac_secret: str | None = _secret()
    # Kafka security, for every client the hub creates (ground.kafka.clients_for)
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str = "PLAIN"  # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = _secret()
    kafka_ssl_cafile: Path | None = None  # CA bundle that signed the brokers' certificates (default: the system's)
    kafka_ssl_certfile: Path | None = None  # client certificate, for brokers that ask for one (mutual TLS)
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: str | None = _secret()
    poll_interval: float = 1.0
    connector_lag_seconds: float = 300.0  # re-read window behind the watermark: longer than any source transaction
    connector_workers: int = (
        0  # processes that read, map and encode rows for each connector (0: in the connector's process)
    )
    connector_batch_size: int = (
        5000  # rows per read, mapped and published together (more: faster snapshots, more memory)
    )
    reconcile_every: float = 300.0  # seconds between full key/version reconciliations (deletes, very late commits)
    worker_batch_size: int = 500  # messages the stream worker folds per batch (one commit each)
    deadline_sweep_seconds: float = 3600.0  # how often the worker re-evaluates running deadlines that came due
    rules_file: Path | None = None  # TOML overriding the case rules (party-match window, periods, authority)
    holidays_file: Path | None = None  # TOML replacing the shipped holiday calendar (casehub/domain/data/holidays.toml)
    log_level: str = "info"
    log_format: str = "json"  # json | console
    # the courts' HMAC keys of requests and callbacks, "<court code>:SECRET,..." (also CASEHUB_HOME/secrets/courts.toml)
    court_secrets: str | None = _secret()
    # judicial confirmation (docs/CONFIRMATION.md)
    roster_file: Path | None = None  # organisations and mediators (TOML, or CSV); None: <sample_dir>/roster.toml
    court_directory_file: Path | None = None  # courts, endpoints, routing order; None: <sample_dir>/courts.toml
    court_sim_port: int = 18084  # `casehub court-sim` (started by `casehub up` on sample data)
    court_sim_fail_share: float = 0.0  # share of court-sim answers that are 5xx or time-outs (demos, tests)
    confirmation_alert_days: int = 5  # alert when a request is still undelivered this many days before its deadline
    relay_interval: float = 1.0  # seconds between outbox scans of the confirmation relay
    relay_timeout: float = 5.0  # seconds a court endpoint may take to answer one delivery

    # -- derived values ------------------------------------------------------------------------
    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def local_bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or self.local_bootstrap

    @property
    def registry_url(self) -> str:
        return self.schema_registry_url or f"http://{self.registry_host}:{self.registry_port}"

    @property
    def embedded_registry(self) -> bool:
        return self.schema_registry_url is None

    @property
    def web_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def case_view(self) -> str:
        return self.case_view_url or f"sqlite:///{self.home / 'caseview.db'}"

    @property
    def samples(self) -> Path:
        return self.sample_dir or (self.home / "sample")

    def database_url(self, database: str) -> str | None:
        """The configured URL of an agency database (CASEHUB_<NAME>_DB_URL), or the sample file if it exists."""
        configured = getattr(self, f"{database}_db_url", None)
        if configured:
            return configured
        sample = self.samples / f"{database}.db"
        return f"sqlite:///{sample}" if sample.exists() else None

    @property
    def roster_path(self) -> Path:
        return self.roster_file or (self.samples / "roster.toml")

    @property
    def court_directory_path(self) -> Path:
        return self.court_directory_file or (self.samples / "courts.toml")

    @property
    def court_sim_url(self) -> str:
        return f"http://{self.web_host}:{self.court_sim_port}"

    @property
    def uses_samples(self) -> bool:
        return not any((self.mediation_db_url, self.arbitration_db_url, self.court_db_url, self.inspection_db_url))

    @property
    def kafka_libs_dir(self) -> Path:
        return self.kafka_libs or (PROJECT_ROOT / ".cache" / "kafka" / self.kafka_version / "libs")

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def group_id(self) -> str:
        return f"{self.topic_prefix}{self.app_id}"

    @property
    def registry_reads_open(self) -> bool:
        """Reads of the embedded registry need no credential only while it listens on the loopback address."""
        return is_loopback(self.registry_host)

    def public_dict(self) -> dict:
        """The settings as plain values with secrets left out, for status output."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name in SECRET_FIELDS:
                continue
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


SECRET_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings) if f.metadata.get("secret"))


def variable(name: str) -> str:
    """The environment variable of a setting: hmac_secret -> CASEHUB_HMAC_SECRET."""
    return PREFIX + name.upper()


SECRET_VARIABLES = frozenset(variable(name) for name in SECRET_FIELDS)


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(name: str, raw: str, annotation: str):
    kind = annotation.replace(" | None", "").strip()
    if kind == "bool":
        if raw.lower() not in _TRUE + _FALSE:
            raise SettingsError(f"{PREFIX}{name.upper()}={raw!r} is not a valid bool (true or false)")
        return raw.lower() in _TRUE
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        return raw
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc


def load_settings(environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Build the settings from the environment (and explicit overrides, which win).

    Raises:
        SettingsError: a CASEHUB_* variable names no setting, or its value has the wrong type.
    """
    env = os.environ if environ is None else environ
    known = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict = {}
    # Variables used by the tooling around the hub, not settings of a process.
    tooling = {"CASEHUB_TEST_POSTGRES_URL", "CASEHUB_TEST_MARIADB_URL"}
    for key, raw in env.items():
        if not key.startswith(PREFIX) or key in tooling:
            continue
        name = key[len(PREFIX) :].lower()
        if name not in known:
            close = [k for k in known if k.split("_")[0] == name.split("_")[0]]
            hint = f" (did you mean {', '.join(PREFIX + c.upper() for c in close)}?)" if close else ""
            raise SettingsError(
                f"unknown setting {key}{hint}; known: {', '.join(PREFIX + k.upper() for k in sorted(known))}"
            )
        if raw == "":
            continue
        values[name] = _convert(name, raw, str(known[name].type))
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    if settings.log_format not in ("json", "console"):
        raise SettingsError(f"{PREFIX}LOG_FORMAT must be json or console, not {settings.log_format!r}")
    if settings.partitions < 1:
        raise SettingsError(f"{PREFIX}PARTITIONS must be at least 1")
    _check_security(settings)
    return settings


def _check_security(s: Settings) -> None:
    """Security settings that cannot work are errors at start, naming the variable, not a failed handshake later."""
    if s.kafka_security_protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise SettingsError(
            f"{PREFIX}KAFKA_SECURITY_PROTOCOL must be one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}, "
            f"not {s.kafka_security_protocol!r}"
        )
    if s.kafka_security_protocol.startswith("SASL"):
        if s.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
            raise SettingsError(
                f"{PREFIX}KAFKA_SASL_MECHANISM must be one of {', '.join(KAFKA_SASL_MECHANISMS)}, "
                f"not {s.kafka_sasl_mechanism!r}"
            )
        if not (s.kafka_sasl_username and s.kafka_sasl_password):
            raise SettingsError(
                f"{PREFIX}KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol} needs {PREFIX}KAFKA_SASL_USERNAME and "
                f"{PREFIX}KAFKA_SASL_PASSWORD"
            )
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        path = getattr(s, name)
        if path is not None and not path.is_file():
            raise SettingsError(f"{variable(name)}={path} is not a readable file")
    if s.kafka_ssl_keyfile and not s.kafka_ssl_certfile:  # a certificate file may hold its key; a key alone is no use
        raise SettingsError(f"{PREFIX}KAFKA_SSL_KEYFILE needs {PREFIX}KAFKA_SSL_CERTFILE")
    if s.registry_credentials is not None and ":" not in s.registry_credentials:
        raise SettingsError(f"{PREFIX}REGISTRY_CREDENTIALS must be user:password (as Confluent's basic.auth.user.info)")
    if s.web_tokens:
        from casehub.ground.access import parse_tokens

        try:
            parse_tokens(s.web_tokens)
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}WEB_TOKENS: {exc}") from exc
