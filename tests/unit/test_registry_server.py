"""The registry's HTTP layer on the in-memory store: who may write, casehub's protected subjects, conflicts reported
and repaired, and bad input answered with a 4xx (hypothesis fuzzes every endpoint; none may answer 500)."""

from __future__ import annotations

import base64
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.schemas.contract import default_contract
from casehub.schemas.registry.auth import RegistryAccess
from casehub.schemas.registry.guard import ContractGuard
from casehub.schemas.registry.memory import MemorySchemaStore
from casehub.schemas.registry.server import build_app
from tests.support.registry import BAD_SCHEMA_BODIES, INTRUDER

CT = "application/vnd.schemaregistry.v1+json"
CREDENTIALS = "casehub:registry-secret-1234"
BASIC = {"Authorization": "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()}
CASES = "casehub.cases-value"


def rec(*fields) -> str:
    return json.dumps({"type": "record", "name": "Probe", "namespace": "t", "fields": list(fields)})


async def started(store, access) -> TestClient:
    await store.start()
    await store.register_contract()
    client = TestClient(TestServer(build_app(store, access)))
    await client.start_server()
    return client


@pytest.fixture
async def registry():
    """(client, store) of a registry guarding casehub's contract, with a basic credential, reads open."""
    store = MemorySchemaStore(ContractGuard.for_contract(default_contract()))
    client = await started(store, RegistryAccess(CREDENTIALS, "registry-token-5678", reads_open=True))
    yield client, store
    await client.close()


async def call(client, method, path, body=None, headers=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    resp = await client.request(method, path, data=data, headers={"Content-Type": CT, **(headers or {})})
    text = await resp.text()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


async def test_writes_need_the_credential_reads_do_not(registry):
    client, _ = registry
    schema = rec({"name": "a", "type": "string"})
    status, body = await call(client, "POST", "/subjects/p-value/versions", {"schema": schema})
    assert status == 401 and body["error_code"] == 40101 and "CASEHUB_REGISTRY_CREDENTIALS" in body["message"]
    status, body = await call(
        client, "POST", "/subjects/p-value/versions", {"schema": schema}, {"Authorization": "Basic d3Jvbmc6d3Jvbmc="}
    )
    assert status == 401
    status, body = await call(client, "POST", "/subjects/p-value/versions", {"schema": schema}, BASIC)
    assert status == 200
    # registering what the subject holds already changes nothing: a read, open on the local address
    assert (await call(client, "POST", "/subjects/p-value/versions", {"schema": schema}))[1] == body
    bearer = {"Authorization": "Bearer registry-token-5678"}
    second = rec({"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0})
    assert (await call(client, "POST", "/subjects/p-value/versions", {"schema": second}, bearer))[0] == 200
    for method, path, payload in (
        ("DELETE", "/subjects/p-value", None),
        ("DELETE", "/subjects/p-value/versions/1", None),
        ("PUT", "/config", {"compatibility": "NONE"}),
        ("PUT", "/config/p-value", {"compatibility": "NONE"}),
        ("POST", "/casehub/repair", {}),
    ):
        assert (await call(client, method, path, payload))[0] == 401, (method, path)
    assert (await call(client, "GET", "/subjects/p-value/versions"))[1] == [1, 2]
    assert (await call(client, "DELETE", "/subjects/p-value/versions/1", headers=BASIC))[1] == 1
    assert (await call(client, "GET", "/subjects/p-value/versions"))[1] == [2]


async def test_a_registry_without_a_credential_refuses_every_write():
    store = MemorySchemaStore()
    client = await started(store, RegistryAccess())
    try:
        status, body = await call(client, "POST", "/subjects/p-value/versions", {"schema": rec()}, BASIC)
        assert status == 403 and "CASEHUB_REGISTRY_CREDENTIALS" in body["message"]
    finally:
        await client.close()


async def test_reads_need_the_credential_when_the_registry_is_exposed():
    store = MemorySchemaStore(ContractGuard.for_contract(default_contract()))
    client = await started(store, RegistryAccess(CREDENTIALS, reads_open=False))
    try:
        assert (await call(client, "GET", "/subjects"))[0] == 401
        assert (await call(client, "GET", "/schemas/ids/1"))[0] == 401
        assert (await call(client, "POST", f"/subjects/{CASES}", {"schema": rec()}))[0] == 401
        status, subjects = await call(client, "GET", "/subjects", headers=BASIC)
        assert status == 200 and CASES in subjects
    finally:
        await client.close()


async def test_casehubs_own_subjects_cannot_be_deleted_or_broken(registry):
    client, store = registry
    status, body = await call(client, "DELETE", f"/subjects/{CASES}", headers=BASIC)
    assert (
        status == 422 and body["error_code"] == 42205 and "CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES" in body["message"]
    )
    assert (await call(client, "DELETE", f"/subjects/{CASES}/versions/1", headers=BASIC))[0] == 422
    # even with the subject's level at NONE, a schema the contract cannot read is refused
    assert (await call(client, "PUT", f"/config/{CASES}", {"compatibility": "NONE"}, BASIC))[0] == 200
    status, body = await call(client, "POST", f"/subjects/{CASES}/versions", {"schema": json.dumps(INTRUDER)}, BASIC)
    assert status == 409 and "cn.casehub.CaseRecord" in body["message"]
    assert store.conflicts() == []


async def test_a_conflict_survives_a_restart_is_reported_and_repaired():
    guard = ContractGuard.for_contract(default_contract(), allow_changes=True)
    store = MemorySchemaStore(guard)
    client = await started(store, RegistryAccess(CREDENTIALS))
    try:
        before = (await call(client, "GET", f"/subjects/{CASES}/versions/latest"))[1]
        assert (await call(client, "DELETE", f"/subjects/{CASES}", headers=BASIC))[1] == [1]
        status, intruder = await call(
            client, "POST", f"/subjects/{CASES}/versions", {"schema": json.dumps(INTRUDER)}, BASIC
        )
        assert status == 200
    finally:
        await client.close()

    # the next start: the locked registry replays the same records and keeps serving, with the conflict named
    restarted = MemorySchemaStore(ContractGuard.for_contract(default_contract()), records=store.records)
    client = await started(restarted, RegistryAccess(CREDENTIALS))
    try:
        status, report = await call(client, "GET", "/casehub/status")
        assert status == 200 and report["ok"] is False and report["repair"] == "casehub schemas repair"
        [conflict] = report["contract"]["conflicts"]
        assert conflict["subject"] == CASES and conflict["record"] == "cn.casehub.CaseRecord"
        assert (conflict["registered_version"], conflict["registered_id"]) == (2, intruder["id"])
        assert (conflict["contract_version"], conflict["contract_id"]) == (1, before["id"])
        assert conflict["contract_version_deleted"] is True and conflict["contract_release"]
        metrics = (await call(client, "GET", "/metrics"))[1]
        assert "casehub_registry_contract_conflicts 1.0" in metrics
        assert (
            f'casehub_registry_contract_conflict{{contract_version="1",registered_version="2",subject="{CASES}"}}'
            in (metrics)
        )
        assert (await call(client, "GET", "/subjects"))[0] == 200

        assert (await call(client, "POST", "/casehub/repair", {}))[0] == 401
        status, repaired = await call(client, "POST", "/casehub/repair", {}, BASIC)
        assert status == 200 and repaired["conflicts"] == []
        [entry] = repaired["repaired"]
        assert entry["deleted_versions"] == [{"version": 2, "id": intruder["id"]}]
        assert entry["contract_id"] == before["id"]  # the contract's schema keeps its id: old data still decodes
        latest = (await call(client, "GET", f"/subjects/{CASES}/versions/latest"))[1]
        assert (latest["id"], latest["schema"]) == (before["id"], before["schema"])
        assert (await call(client, "GET", "/casehub/status"))[1]["ok"] is True
        assert "casehub_registry_contract_conflicts 0.0" in (await call(client, "GET", "/metrics"))[1]
    finally:
        await client.close()


@pytest.mark.parametrize("case", sorted(BAD_SCHEMA_BODIES))
@pytest.mark.parametrize(
    "path", ["/subjects/p-value/versions", "/subjects/p-value", "/compatibility/subjects/p-value/versions/latest"]
)
async def test_bad_schema_bodies_are_a_4xx_with_a_message(registry, case, path):
    client, _ = registry
    status, body = await call(client, "POST", path, headers=BASIC, raw=BAD_SCHEMA_BODIES[case])
    assert 400 <= status < 500 and body["message"], (status, body)


async def test_bad_config_bodies_are_a_4xx_with_a_message(registry):
    client, _ = registry
    for body in ({"compatibility": {"x": 1}}, {"compatibility": 5}, {"compatibility": "SIDEWAYS"}, {}, [1]):
        status, answer = await call(client, "PUT", "/config/p-value", body, BASIC)
        assert status == 422 and answer["message"], body


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
VALUES = JSON | st.sampled_from([rec({"name": "a", "type": "string"}), json.dumps(INTRUDER), "AVRO", "BACKWARD"])
BODIES = (
    # objects with the fields the endpoints read, holding anything
    st.fixed_dictionaries(
        {}, optional={k: VALUES for k in ("schema", "schemaType", "references", "compatibility", "compatibilityLevel")}
    ).map(lambda d: json.dumps(d).encode())
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
    | st.integers(1, 3000).map(lambda n: b'{"schema": ' + b"[" * n + b"]" * n + b"}")
)
ROUTES = [
    ("GET", "/"),
    ("GET", "/subjects"),
    ("GET", "/schemas/types"),
    ("GET", "/schemas/ids/{v}"),
    ("GET", "/schemas/ids/{v}/schema"),
    ("GET", "/schemas/ids/{v}/versions"),
    ("GET", "/subjects/{s}/versions"),
    ("GET", "/subjects/{s}/versions/{v}"),
    ("GET", "/subjects/{s}/versions/{v}/schema"),
    ("POST", "/subjects/{s}/versions"),
    ("POST", "/subjects/{s}"),
    ("DELETE", "/subjects/{s}"),
    ("DELETE", "/subjects/{s}/versions/{v}"),
    ("POST", "/compatibility/subjects/{s}/versions/{v}"),
    ("POST", "/compatibility/subjects/{s}/versions"),
    ("GET", "/config"),
    ("PUT", "/config"),
    ("GET", "/config/{s}"),
    ("PUT", "/config/{s}"),
    ("GET", "/casehub/status"),
    ("POST", "/casehub/repair"),
    ("GET", "/metrics"),
]
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
# the routes as served, and now and then any method on any of them
REQUESTS = st.sampled_from(ROUTES) | st.tuples(METHODS, st.sampled_from([p for _, p in ROUTES]))
SUBJECTS = st.sampled_from(["p-value", CASES, "x%2Fy", "%E6%A1%88"]) | st.text(
    st.characters(categories=["L", "N"]), min_size=1, max_size=10
)
VERSIONS = st.sampled_from(["latest", "-1", "1", "2", "0", "99999999999999999999", "abc", "1.5"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    request=REQUESTS,
    subject=SUBJECTS,
    version=VERSIONS,
    body=BODIES,
    authorised=st.sampled_from([True, True, True, False]),
)
async def test_fuzzed_requests_never_get_a_500(registry, request, subject, version, body, authorised):
    client, _ = registry
    method, path = request
    url = path.format(s=subject, v=version)
    status, answer = await call(client, method, url, headers=BASIC if authorised else None, raw=body)
    assert status < 500, (method, url, body[:200], status, answer)
    if status >= 400:
        assert isinstance(answer, dict) and answer.get("message"), (method, url, status, answer)


def test_every_registry_client_of_the_hub_sends_the_configured_credential():
    from casehub.ground.settings import load_settings
    from casehub.schemas.codec import codec_for

    basic_client = codec_for(load_settings({}, registry_credentials=CREDENTIALS)).registry
    assert basic_client._authorization == BASIC["Authorization"]
    assert codec_for(load_settings({}, registry_token="tok-0123456789")).registry._authorization == (
        "Bearer tok-0123456789"
    )
    assert codec_for(load_settings({})).registry._authorization is None
    assert CREDENTIALS.split(":")[1] not in repr(basic_client)
