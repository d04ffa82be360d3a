"""Issue 10 item 12, registry half: bad input gets a 4xx with a message naming what is wrong, never a bare 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

CT = "application/vnd.schemaregistry.v1+json"


def post(url: str, data: bytes):
    req = urllib.request.Request(url, method="POST", data=data, headers={"Content-Type": CT})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def nested_records(depth: int) -> str:
    """A record holding a record ... `depth` records deep (as text: json.dumps itself cannot nest that deep)."""
    text = '{"type": "record", "name": "R0", "fields": [{"name": "v", "type": "int"}]}'
    for i in range(1, depth):
        text = f'{{"type": "record", "name": "R{i}", "fields": [{{"name": "inner", "type": {text}}}]}}'
    return text


BAD = {
    "schema as an object": json.dumps({"schema": {"type": "string"}}).encode(),
    "schema as a number": json.dumps({"schema": 5}).encode(),
    "schema as null": json.dumps({"schema": None}).encode(),
    "deep JSON body": b'{"schema": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep JSON schema": json.dumps({"schema": "[" * 5000 + "]" * 5000}).encode(),
    "600-deep nested records": json.dumps({"schema": nested_records(600)}).encode(),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize(
    "endpoint", ["subjects/{s}/versions", "subjects/{s}", "compatibility/subjects/{s}/versions/latest"]
)
def test_bad_schema_bodies_get_a_4xx_with_a_message(registry_url, case, endpoint):
    subject = f"inputs-{uuid.uuid4().hex[:6]}-value"
    status, raw = post(f"{registry_url}/{endpoint.format(s=subject)}", BAD[case])
    assert 400 <= status < 500, (status, raw[:300])
    body = json.loads(raw)
    assert body["message"] and body["error_code"] // 100 == status
