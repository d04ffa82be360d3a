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
    assert set(hub) == {"registry", "worker", "sink", "web", "relay", "connect"}
    for name, service in hub.items():
        assert service["command"][0] in commands, name
    assert (ROOT / "docker" / "Dockerfile").exists()
