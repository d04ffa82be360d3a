"""Bad input to the push endpoint is a 4xx naming what is wrong, never a bare 500 (items 8 and 12 of issue 10).

The endpoint runs in process over the in-memory registry and publisher (no broker): these are the HTTP
and mapping rules; tests/integration/test_intake.py covers the real broker.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.connectors.intake import IntakeProcessor, build_app
from casehub.connectors.sample import mediation_rows
from casehub.ground.publish import MemoryPublisher
from casehub.ground.settings import load_settings
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry

AUTH = {"Authorization": "Bearer tok"}
COLUMNS = list(mediation_rows(1)[0])


@pytest.fixture
def endpoint():
    """(loop, client, publisher) of an intake app on the in-memory registry and publisher."""
    loop = asyncio.new_event_loop()
    publisher = MemoryPublisher()
    processor = IntakeProcessor(load_settings({}, hmac_secret="k"), AvroCodec(MemoryRegistry()), publisher)
    client = TestClient(TestServer(build_app(processor, {"*": "tok"})), loop=loop)
    loop.run_until_complete(client.start_server())
    yield loop, client, publisher
    loop.run_until_complete(client.close())
    loop.close()


def post(endpoint, data: bytes, content_type: str = "application/json"):
    loop, client, _ = endpoint

    async def go():
        resp = await client.post("/intake/mediation", data=data, headers={**AUTH, "Content-Type": content_type})
        return resp.status, await resp.text()

    return loop.run_until_complete(go())


def record(**changes) -> dict:
    row = dict(mediation_rows(1, seed=5)[0])
    row.update(changes)
    return row


def test_a_record_without_an_optional_column_maps(endpoint):
    row = record()
    del row["bsqr_xydm"]  # optional: the employer's credit code
    status, text = post(endpoint, json.dumps([row]).encode())
    assert status == 200, text
    result = json.loads(text)
    assert result["accepted"] == 1, result
    assert "is not in table" not in text


def test_a_record_without_a_required_column_names_it(endpoint):
    row = record()
    del row["sqr_xm"]  # required: the worker's name
    status, text = post(endpoint, json.dumps([row]).encode())
    assert status == 200
    (result,) = json.loads(text)["results"]
    assert (result["ok"], result["field"], result["kind"]) == (False, "sqr_xm", "MISSING_FIELD")
    assert "required" in result["reason"]


def test_deep_nesting_is_a_400(endpoint):
    status, text = post(endpoint, b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and "nested too deep" in text


def test_an_object_as_a_field_value_is_a_422_naming_the_key(endpoint):
    status, text = post(endpoint, json.dumps([record(sqr_xm={"first": "郭"})]).encode())
    assert status == 422 and "sqr_xm" in text and "object" in text


def test_a_text_plain_body_is_refused(endpoint):
    status, text = post(endpoint, json.dumps([record()]).encode(), content_type="text/plain")
    assert status == 415 and "application/json" in text


json_scalars = st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
samples = st.sampled_from(["10", "40", "GZ", "2024-05-01 20:49:00", "12.345", "2101"])
column_values = json_scalars | samples | json_values
records = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from([record(), {}]),
    st.dictionaries(st.sampled_from(COLUMNS) | st.text(max_size=8), column_values, max_size=6),
)
bodies = (
    st.lists(records, max_size=4).map(lambda r: json.dumps(r).encode())
    | st.lists(records, max_size=3).map(lambda r: json.dumps({"records": r}).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=60)
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream"]))
def test_fuzzed_submissions_never_get_a_500(endpoint, body, content_type):
    status, text = post(endpoint, body, content_type)
    assert status < 500, (status, text)
    if status >= 400:
        assert json.loads(text)["error"]


def test_an_amount_beyond_the_contract_is_a_dead_letter_not_a_500(endpoint):
    status, text = post(endpoint, json.dumps([record(qqje="99999999999999999999")]).encode())
    assert status == 200, text
    (result,) = json.loads(text)["results"]
    assert (result["ok"], result["kind"]) == (False, "SCHEMA_MISMATCH")
