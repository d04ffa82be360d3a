"""Secrets (issue 11): no fixed development secret, a per-home secret for sample data only, real data refused without
CASEHUB_HMAC_SECRET, secret settings never shown, and each component started with the secrets it uses and no other."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from casehub.ground.kafka import clients_for
from casehub.ground.secrets import HMAC_SECRET, HomeSecrets, hmac_secret
from casehub.ground.settings import PROJECT_ROOT, SECRET_FIELDS, SettingsError, load_settings, variable
from casehub.run.stack import USES, child_environment


def test_no_fixed_development_secret_is_left():
    hits = []
    for folder in ("casehub", "connectors", "streams", "sinks", "schemas", "docker"):
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".yaml", ".toml", ""):
                text = path.read_text(encoding="utf-8", errors="replace")
                if "casehub-dev-secret" in text or "DEV_HMAC_SECRET" in text:
                    hits.append(str(path.relative_to(PROJECT_ROOT)))
    assert not hits
    assert load_settings({}).hmac_secret is None


def test_sample_data_gets_a_random_secret_per_home_kept_0600(tmp_path):
    first = hmac_secret(load_settings({}, home=tmp_path / "a"))
    assert hmac_secret(load_settings({}, home=tmp_path / "a")) == first  # reused on the next start
    assert hmac_secret(load_settings({}, home=tmp_path / "b")) != first  # every home its own
    path = HomeSecrets(tmp_path / "a").path(HMAC_SECRET)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(first) >= 40


def test_a_secret_file_others_can_read_is_refused(tmp_path):
    hmac_secret(load_settings({}, home=tmp_path))
    path = HomeSecrets(tmp_path).path(HMAC_SECRET)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match=f"chmod 600 {path}"):
        hmac_secret(load_settings({}, home=tmp_path))


@pytest.mark.parametrize(
    "settings, databases, named",
    [
        ({"mediation_db_url": "postgresql+psycopg://u@db/x"}, None, "CASEHUB_MEDIATION_DB_URL"),
        ({"intake_tokens": "mediation:tok"}, None, "CASEHUB_INTAKE_TOKENS"),
        ({}, {"vendor": "mysql+pymysql://u@db/y"}, "connector 'vendor'"),
    ],
)
def test_real_data_without_a_secret_is_refused_with_how_to_set_it(tmp_path, settings, databases, named):
    with pytest.raises(SettingsError) as err:
        hmac_secret(load_settings({}, home=tmp_path, **settings), databases)
    message = str(err.value)
    assert named in message and "export CASEHUB_HMAC_SECRET=" in message and "secrets.token_urlsafe" in message
    assert not HomeSecrets(tmp_path).path(HMAC_SECRET).exists()
    assert hmac_secret(load_settings({}, home=tmp_path, hmac_secret="configured", **settings), databases) == (
        "configured"
    )


def _casehub(tmp_path, *args, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    # nothing listens on these: a command that got past its secret check would fail or hang, not pass
    env.update(
        CASEHUB_HOME=str(tmp_path / "home"),
        CASEHUB_KAFKA_BOOTSTRAP="127.0.0.1:22999",
        CASEHUB_SCHEMA_REGISTRY_URL="http://127.0.0.1:22998",
        **{variable(k): v for k, v in settings.items()},
    )
    return subprocess.run([sys.executable, "-m", "casehub", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args, settings",
    [
        (("up",), {"mediation_db_url": "sqlite:////nonexistent/agency.db"}),
        (("up",), {"intake_tokens": "mediation:0123456789abcdef"}),
        (("connect",), {"mediation_db_url": "sqlite:////nonexistent/agency.db"}),
        (("intake",), {"intake_tokens": "mediation:0123456789abcdef"}),
        (("import", "--source", "mediation", "rows.csv"), {"mediation_db_url": "sqlite:////nonexistent/agency.db"}),
    ],
)
def test_commands_with_real_data_and_no_secret_refuse_to_start(tmp_path, args, settings):
    done = _casehub(tmp_path, *args, **settings)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "CASEHUB_HMAC_SECRET is not set" in output and "Traceback" not in output
    assert not (tmp_path / "home" / "kafka").exists()  # refused before anything started


def test_secret_settings_are_never_shown():
    values = {name: f"secret-value-{i}-0123456789abcdef" for i, name in enumerate(sorted(SECRET_FIELDS))}
    values["registry_credentials"] = "user:secret-registry-0123456789"
    values["web_tokens"] = "viewer:secret-web-0123456789abcdef"
    s = load_settings({}, **values)
    shown = repr(s) + repr(s.public_dict()) + repr(clients_for(load_settings({}, **values)))
    assert not [v for v in values.values() if v.split(":")[-1] in shown]
    assert {
        "hmac_secret",
        "intake_tokens",
        "web_tokens",
        "registry_credentials",
        "kafka_sasl_password",
    } <= SECRET_FIELDS


def test_each_component_gets_only_the_secrets_it_uses():
    secrets = {name: f"value-of-{name}" for name in SECRET_FIELDS}
    base = {variable(name): "inherited" for name in SECRET_FIELDS} | {"PATH": "/bin"}
    for name, uses in USES.items():
        env = child_environment(name, base, secrets, registry_clients_sign_in=False)
        got = {k for k in env if k.startswith("CASEHUB_")}
        assert got == {variable(u) for u in uses}, name
        assert "inherited" not in env.values() and env["PATH"] == "/bin"
    # the web view publishes link corrections and court answers (Kafka) and checks the courts' signatures
    assert set(USES["web"]) == {"web_tokens", "court_secrets", "kafka_sasl_password", "kafka_ssl_key_password"}
    assert set(USES["relay"]) == {"court_secrets", "kafka_sasl_password", "kafka_ssl_key_password"}
    assert set(USES["court-sim"]) == {"web_tokens", "court_secrets"} and "intake_tokens" in USES["intake"]
    assert not {"hmac_secret", "intake_tokens", "web_tokens"} & set(USES["worker"] + USES["sink"] + USES["registry"])
    assert not {"hmac_secret", "intake_tokens"} & set(USES["web"] + USES["relay"] + USES["court-sim"])
    # with an external registry (or one listening beyond the loopback) its clients need its credential; the court
    # simulator (no registry client) does not
    assert "CASEHUB_REGISTRY_CREDENTIALS" in child_environment("worker", base, secrets, registry_clients_sign_in=True)
    assert "CASEHUB_REGISTRY_CREDENTIALS" in child_environment("web", base, secrets, registry_clients_sign_in=True)
    assert "CASEHUB_REGISTRY_CREDENTIALS" not in child_environment(
        "court-sim", base, secrets, registry_clients_sign_in=True
    )


def test_kafka_security_settings_reach_the_clients(tmp_path):
    s = load_settings(
        {
            "CASEHUB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CASEHUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CASEHUB_KAFKA_SASL_USERNAME": "hub",
            "CASEHUB_KAFKA_SASL_PASSWORD": "pw-0123456789",
        }
    )
    common = clients_for(s).common()
    assert (common["security_protocol"], common["sasl_mechanism"]) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert (common["sasl_plain_username"], common["sasl_plain_password"]) == ("hub", "pw-0123456789")
    assert "pw-0123456789" not in repr(s) and "pw-0123456789" not in repr(clients_for(s))
    assert clients_for(load_settings({})).common().keys() == {"bootstrap_servers"}


@pytest.mark.parametrize(
    "env, named",
    [
        ({"CASEHUB_KAFKA_SECURITY_PROTOCOL": "SASL"}, "CASEHUB_KAFKA_SECURITY_PROTOCOL"),
        ({"CASEHUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "CASEHUB_KAFKA_SASL_USERNAME"),
        (
            {
                "CASEHUB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "CASEHUB_KAFKA_SASL_MECHANISM": "GSSAPI",
                "CASEHUB_KAFKA_SASL_USERNAME": "u",
                "CASEHUB_KAFKA_SASL_PASSWORD": "p",
            },
            "CASEHUB_KAFKA_SASL_MECHANISM",
        ),
        ({"CASEHUB_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "CASEHUB_KAFKA_SSL_CAFILE"),
        ({"CASEHUB_REGISTRY_CREDENTIALS": "no-colon"}, "CASEHUB_REGISTRY_CREDENTIALS"),
        ({"CASEHUB_WEB_TOKENS": "root:0123456789abcdefgh"}, "CASEHUB_WEB_TOKENS"),
        ({"CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES": "perhaps"}, "CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES"),
    ],
)
def test_security_settings_that_cannot_work_name_their_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_services_listen_on_the_loopback_unless_told(tmp_path):
    s = load_settings({})
    assert {s.registry_host, s.web_host, s.intake_host, s.metrics_host} == {"127.0.0.1"}
    assert s.registry_reads_open and not load_settings({"CASEHUB_REGISTRY_HOST": "0.0.0.0"}).registry_reads_open
    assert load_settings({"CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES": "true"}).registry_allow_contract_changes is True
    assert Path(s.home)  # the default home stays where it was
