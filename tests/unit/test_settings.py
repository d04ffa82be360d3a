import dataclasses
from pathlib import Path

import pytest

from casehub.ground.settings import SettingsError, load_settings


def test_defaults_run_on_one_machine():
    s = load_settings({})
    assert s.kafka_bootstrap is None
    assert s.bootstrap == "127.0.0.1:19092"
    assert s.registry_url == "http://127.0.0.1:18081"
    assert s.case_view.startswith("sqlite:///") and s.case_view.endswith("caseview.db")
    assert s.topics.mediation == "casehub.mediation.events"


def test_environment_overrides_and_types():
    s = load_settings(
        {
            "CASEHUB_KAFKA_BOOTSTRAP": "kafka-1:9092",
            "CASEHUB_PARTITIONS": "6",
            "CASEHUB_HOME": "/tmp/x",
            "CASEHUB_TOPIC_PREFIX": "dev.",
        }
    )
    assert s.bootstrap == "kafka-1:9092"
    assert s.partitions == 6
    assert s.home == Path("/tmp/x")
    assert s.topics.cases == "dev.casehub.cases"


def test_unknown_key_is_rejected_with_its_name():
    with pytest.raises(SettingsError, match="CASEHUB_KAFKA_BOOTSTRAPS"):
        load_settings({"CASEHUB_KAFKA_BOOTSTRAPS": "x:1"})


def test_bad_number_names_the_variable():
    with pytest.raises(SettingsError, match="CASEHUB_PARTITIONS"):
        load_settings({"CASEHUB_PARTITIONS": "many"})


def test_secret_never_in_public_output():
    s = load_settings({"CASEHUB_HMAC_SECRET": "s3cret"})
    assert "s3cret" not in repr(s)
    assert "hmac_secret" not in s.public_dict()


def test_settings_are_frozen():
    s = load_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.partitions = 9  # type: ignore[misc]


def test_cluster_ids_never_look_like_options():
    from casehub.run.broker import _random_cluster_id

    ids = [_random_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
