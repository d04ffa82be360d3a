"""The project's own broker: standard clients work on it; `casehub broker` start/status/stop behave."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from casehub.run.broker import _pid_alive, free_port
from tests.support.kafka import java_tool


def test_standard_java_tools_create_produce_consume(kafka_bootstrap, kafka_libs, prefix):
    topic = f"{prefix}java"
    made = java_tool(
        kafka_libs,
        "org.apache.kafka.tools.TopicCommand",
        "--bootstrap-server",
        kafka_bootstrap,
        "--create",
        "--topic",
        topic,
        "--partitions",
        "2",
    )
    assert made.returncode == 0, made.stderr
    lines = ["调解 one", "arbitration two", "court three"]
    sent = java_tool(
        kafka_libs,
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        kafka_bootstrap,
        "--topic",
        topic,
        input="\n".join(lines) + "\n",
    )
    assert sent.returncode == 0, sent.stderr
    got = java_tool(
        kafka_libs,
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        kafka_bootstrap,
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        "3",
        "--timeout-ms",
        "60000",
    )
    assert got.returncode == 0, got.stderr
    assert sorted(got.stdout.splitlines()) == sorted(lines)


def test_librdkafka_client_round_trip(kafka_bootstrap, prefix):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"{prefix}rdkafka"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})  # keep a reference: the futures die with the handle
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        producer.produce(topic, key=str(i), value=f"v{i}")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": f"{prefix}g", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    values = []
    for _ in range(120):
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            values.append(msg.value().decode())
        if len(values) == 5:
            break
    consumer.close()
    assert values == [f"v{i}" for i in range(5)]


def _casehub(env, *args, timeout=150):
    return subprocess.run(
        [sys.executable, "-m", "casehub", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_broker_command_start_is_idempotent_and_stop_is_clean(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(
        CASEHUB_HOME=str(tmp_path), CASEHUB_BROKER_PORT=str(free_port()), CASEHUB_CONTROLLER_PORT=str(free_port())
    )
    first = _casehub(env, "broker", "start")
    assert first.returncode == 0, first.stderr
    bootstrap = first.stdout.strip()
    assert bootstrap == f"127.0.0.1:{env['CASEHUB_BROKER_PORT']}"
    status = json.loads(_casehub(env, "broker", "status", "--json").stdout)
    assert status["running"] and status["bootstrap"] == bootstrap
    second = _casehub(env, "broker", "start")
    assert second.returncode == 0 and second.stdout.strip() == bootstrap
    assert json.loads(_casehub(env, "broker", "status", "--json").stdout)["pid"] == status["pid"]
    assert (tmp_path / "kafka" / "logs" / "server.log").stat().st_size > 0  # logs go to the file
    stopped = _casehub(env, "broker", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not _pid_alive(status["pid"])
    gone = _casehub(env, "broker", "status", "--json")
    assert gone.returncode == 1 and json.loads(gone.stdout)["running"] is False


def test_a_port_in_use_is_named_before_the_broker_starts(tmp_path):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
        env.update(
            CASEHUB_HOME=str(tmp_path),
            CASEHUB_BROKER_PORT=str(free_port()),
            CASEHUB_CONTROLLER_PORT=str(taken.getsockname()[1]),
        )
        result = _casehub(env, "broker", "start")
    assert result.returncode != 0
    assert f"port {env['CASEHUB_CONTROLLER_PORT']} (CASEHUB_CONTROLLER_PORT) is already in use" in result.stderr
