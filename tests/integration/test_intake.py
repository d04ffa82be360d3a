"""Push intake (authenticated HTTP) and spreadsheet import go through the same mapping, validation and dead letters."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import Workbook

from casehub.connectors.intake import IntakeProcessor, build_app
from casehub.connectors.sample import mediation_rows
from casehub.ground.settings import load_settings
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.client import RegistryClient
from tests.support.kafka import read_topic


def records(n: int, **bad) -> list[dict]:
    rows = [{k: v for k, v in r.items()} for r in mediation_rows(n, seed=31)]
    for r in rows:
        r["ajid"] = str(r["ajid"])
    rows[-1].update(bad)
    return rows


async def decoded(bootstrap, codec, topic):
    return [codec.decode(m.value) for m in await read_topic(bootstrap, topic)]


async def test_push_endpoint_authenticates_maps_and_dead_letters(
    kafka_bootstrap, registry_url, registry_credentials, prefix
):
    settings = load_settings(
        {},
        kafka_bootstrap=kafka_bootstrap,
        schema_registry_url=registry_url,
        registry_credentials=registry_credentials,
        topic_prefix=prefix,
        hmac_secret="push-secret",
    )
    codec = AvroCodec(RegistryClient(registry_url, credentials=registry_credentials), prefix=prefix)
    from casehub.ground.kafka import clients, ensure_topics
    from casehub.ground.publish import KafkaPublisher

    await ensure_topics(kafka_bootstrap, settings.topics.specs(settings.partitions))
    producer = clients(kafka_bootstrap).producer()
    await producer.start()
    client = TestClient(
        TestServer(build_app(IntakeProcessor(settings, codec, KafkaPublisher(producer)), {"mediation": "tok-m"}))
    )
    await client.start_server()
    try:
        body = {"records": records(3, zt="99")}
        assert (await client.post("/intake/mediation", json=body)).status == 401
        assert (
            await client.post("/intake/mediation", json=body, headers={"Authorization": "Bearer wrong"})
        ).status == 401
        resp = await client.post("/intake/mediation", json=body, headers={"Authorization": "Bearer tok-m"})
        assert resp.status == 200
        result = await resp.json()
        assert (result["accepted"], result["dead_lettered"]) == (2, 1)
        assert result["results"][2]["field"] == "zt" and result["results"][2]["kind"] == "UNKNOWN_CODE"
        bad = await client.post(
            "/intake/mediation",
            data=b"{not json",
            headers={"Authorization": "Bearer tok-m", "Content-Type": "application/json"},
        )
        assert bad.status == 400
        nokey = await client.post("/intake/mediation", json=[{"zt": "10"}], headers={"Authorization": "Bearer tok-m"})
        assert nokey.status == 422 and "ajid" in (await nokey.json())["error"]
    finally:
        await client.close()
        await producer.stop()
    events = await decoded(kafka_bootstrap, codec, f"{prefix}casehub.mediation.events")
    assert sorted(e["source"]["record_id"] for e in events) == ["1", "2"]
    letters = await decoded(kafka_bootstrap, codec, f"{prefix}casehub.deadletter")
    assert [(d["stage"], d["record_id"], d["field"]) for d in letters] == [("push:mediation", "3", "zt")]
    raw = [m.value for m in await read_topic(kafka_bootstrap, f"{prefix}casehub.mediation.events")]
    for r in body["records"]:
        assert not any(r["sqr_sfzh"].encode() in v for v in raw)


def _import(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "casehub", "import", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def import_env(kafka_bootstrap, registry_url, registry_credentials, prefix, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(
        CASEHUB_KAFKA_BOOTSTRAP=kafka_bootstrap,
        CASEHUB_SCHEMA_REGISTRY_URL=registry_url,
        CASEHUB_REGISTRY_CREDENTIALS=registry_credentials,
        CASEHUB_TOPIC_PREFIX=prefix,
        CASEHUB_HOME=str(tmp_path),
    )
    return env


def write_csv(path, rows, encoding):
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


async def test_spreadsheet_import_xlsx_and_csv(import_env, kafka_bootstrap, registry_url, prefix, tmp_path):
    rows = records(4, sqr_sfzh="210102199003071234")
    book = Workbook()
    sheet = book.active
    sheet.append(list(rows[0]))
    for r in rows:
        sheet.append([r[k] for k in rows[0]])
    book.save(tmp_path / "cases.xlsx")
    done = _import(import_env, "--source", "mediation", str(tmp_path / "cases.xlsx"))
    assert done.returncode == 1, done.stderr  # one record went to dead letters
    assert "4 records: 3 published, 1 to the dead-letter topic" in done.stdout
    assert "field sqr_sfzh" in done.stdout
    # no CASEHUB_HMAC_SECRET and sample data only: hashed with the home's own secret, and the log says so
    assert "sample secret" in done.stderr and (tmp_path / "secrets" / "hmac_secret").exists()

    gbk = [dict(r, ajid=str(100 + i)) for i, r in enumerate(records(2))]
    write_csv(tmp_path / "gbk.csv", gbk, "gbk")
    refused = _import(import_env, "--source", "mediation", str(tmp_path / "gbk.csv"))
    assert refused.returncode == 2 and "--encoding gbk" in refused.stderr
    accepted = _import(import_env, "--source", "mediation", "--encoding", "gbk", str(tmp_path / "gbk.csv"))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr

    codec = AvroCodec(RegistryClient(registry_url), prefix=prefix)
    events = await decoded(kafka_bootstrap, codec, f"{prefix}casehub.mediation.events")
    assert sorted(e["source"]["record_id"] for e in events) == ["1", "100", "101", "2", "3"]
    names = {e["source"]["record_id"]: e["parties"][0]["name"] for e in events}
    assert names["100"] == gbk[0]["sqr_xm"]  # GBK text decoded, not mojibake
