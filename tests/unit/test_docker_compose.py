"""docker/compose.yaml is valid against the Compose Specification schema (no Docker engine here to run it)."""

import json
from pathlib import Path

import jsonschema
import yaml

from casehub.run.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / ".cache" / "compose" / "compose_spec.json"


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_compose_file_follows_the_compose_specification():
    assert SPEC.exists(), "run `make setup`: it fetches the Compose Specification schema"
    schema = json.loads(SPEC.read_text())
    compose = load_compose()
    # the 2021 schema predates the top-level `name`; everything else must validate
    compose.pop("name", None)
    jsonschema.Draft7Validator(schema).validate(compose)


def test_schema_check_catches_a_broken_file():
    schema = json.loads(SPEC.read_text())
    broken = load_compose()
    broken.pop("name", None)
    broken["services"]["kafka"]["healthcheck"]["retries"] = "many"
    try:
        jsonschema.Draft7Validator(schema).validate(broken)
    except jsonschema.ValidationError:
        return
    raise AssertionError("an invalid compose file passed the schema check")


def test_every_hub_service_runs_a_real_casehub_command():
    commands = set(_parser()._subparsers._group_actions[0].choices)
    services = load_compose()["services"]
    hub = {name: s for name, s in services.items() if s.get("image", "").startswith("casehub")}
    assert set(hub) == {"registry", "worker", "sink", "web", "relay", "connect", "intake"}
    for name, service in hub.items():
        assert service["command"][0] in commands, name
    assert (ROOT / "docker" / "Dockerfile").exists()


def test_only_the_web_port_is_published_and_the_rest_stays_on_the_internal_network():
    compose = load_compose()
    services = compose["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"web"}, f"services publishing ports: {sorted(published)}"
    internal = {name for name, n in compose.get("networks", {}).items() if n.get("internal")}
    assert internal, "no internal network"
    for name in ("kafka", "registry", "intake", "postgres"):
        networks = set(services[name].get("networks", []))
        assert networks and networks <= internal, f"{name} is on {sorted(networks)}"


def test_secrets_go_only_to_the_services_that_use_them():
    services = load_compose()["services"]
    holders = {
        variable: {name for name, s in services.items() if variable in (s.get("environment") or {})}
        for variable in ("CASEHUB_HMAC_SECRET", "CASEHUB_WEB_TOKENS", "CASEHUB_INTAKE_TOKENS")
    }
    assert holders == {
        "CASEHUB_HMAC_SECRET": {"connect", "intake"},
        "CASEHUB_WEB_TOKENS": {"web"},
        "CASEHUB_INTAKE_TOKENS": {"intake"},
    }
    # the web view publishes link corrections and court answers: it reads the registry like any other producer
    assert "CASEHUB_HMAC_SECRET" not in services["web"]["environment"]
    assert {name for name, s in services.items() if "CASEHUB_COURT_SECRETS" in (s.get("environment") or {})} == {
        "web",
        "relay",
    }
