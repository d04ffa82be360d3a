"""Standard tooling reads casehub topics with nothing from casehub but the registry URL.

The Confluent Avro deserializer (confluent-kafka) decodes every topic; Apache Avro's Java reference
implementation parses every registered schema and re-encodes casehub's bytes identically.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import fastavro
import pytest

from casehub.ground.settings import PROJECT_ROOT
from casehub.schemas.codec import AvroCodec
from casehub.schemas.contract import TOPIC_RECORDS, default_contract
from casehub.schemas.examples import example
from casehub.schemas.registry.client import RegistryClient


@pytest.fixture
def published(kafka_bootstrap, registry_url, registry_credentials, prefix):
    """One example record on every casehub topic (under this test's prefix), written by casehub's codec."""
    from confluent_kafka import Producer

    codec = AvroCodec(RegistryClient(registry_url, credentials=registry_credentials), prefix=prefix)
    contract = default_contract()
    values = {}
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for base, record in TOPIC_RECORDS.items():
        topic = prefix + base
        values[topic] = example(contract.expanded(record))
        producer.produce(topic, key=b"k", value=codec.encode(topic, values[topic]))
    assert producer.flush(30) == 0
    return values


def test_confluent_avro_deserializer_decodes_every_topic(
    kafka_bootstrap, registry_url, registry_credentials, prefix, published
):
    from confluent_kafka import DeserializingConsumer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer

    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"{prefix}confluent",
            "auto.offset.reset": "earliest",
            # Confluent's client sends the registry's credential as HTTP basic, which the hub's registry accepts
            "value.deserializer": AvroDeserializer(
                SchemaRegistryClient({"url": registry_url, "basic.auth.user.info": registry_credentials})
            ),
        }
    )
    consumer.subscribe(list(published))
    got = {}
    for _ in range(240):
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got[msg.topic()] = msg.value()
        if len(got) == len(published):
            break
    consumer.close()
    assert set(got) == set(published)
    for topic, value in published.items():
        assert got[topic] == value, topic


def test_apache_avro_java_parses_every_registered_schema_and_reads_our_bytes(registry_url, prefix, published, tmp_path):
    client = RegistryClient(registry_url)
    for topic, value in published.items():
        latest = client.latest(f"{topic}-value")
        schema = json.loads(latest["schema"])
        name = topic[len(prefix) :]
        (tmp_path / f"{name}.avsc").write_text(latest["schema"], encoding="utf-8")
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), value)
        (tmp_path / f"{name}.bin").write_bytes(buf.getvalue())
    libs = PROJECT_ROOT / ".cache" / "avro" / "libs"
    assert any(libs.glob("avro-*.jar")), "run `make setup`: it resolves Apache Avro for this test"
    result = subprocess.run(
        [
            shutil.which("java"),
            "-cp",
            f"{libs}/*",
            str(PROJECT_ROOT / "tests" / "java" / "AvroReference.java"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("re-encoded identically") == len(published)


def test_apache_avro_python_parses_the_contract():
    import avro.schema

    contract = default_contract()
    for record in set(TOPIC_RECORDS.values()):
        assert avro.schema.parse(contract.expanded_json(record)).fullname == record


def test_confluent_schema_registry_client_registers_with_basic_auth_user_info(
    registry_url, registry_credentials, prefix
):
    """Writes need the registry's credential; Confluent's client sends it from `basic.auth.user.info`."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    subject = f"{prefix}confluent-probe-value"
    schema = Schema(json.dumps({"type": "record", "name": "P", "fields": [{"name": "a", "type": "string"}]}), "AVRO")
    with pytest.raises(SchemaRegistryError) as refused:
        SchemaRegistryClient({"url": registry_url}).register_schema(subject, schema)
    assert refused.value.http_status_code == 401
    client = SchemaRegistryClient({"url": registry_url, "basic.auth.user.info": registry_credentials})
    schema_id = client.register_schema(subject, schema)
    assert client.get_latest_version(subject).schema_id == schema_id
