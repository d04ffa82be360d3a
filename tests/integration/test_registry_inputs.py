"""Issue 10 item 12, registry half: bad input gets a 4xx with a message naming what is wrong, never a bare 500, from
the real `casehub registry` process (the fuzz test over every endpoint is in tests/unit/test_registry_server.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.registry import BAD_SCHEMA_BODIES, basic, call


@pytest.mark.parametrize("case", sorted(BAD_SCHEMA_BODIES))
@pytest.mark.parametrize(
    "endpoint", ["subjects/{s}/versions", "subjects/{s}", "compatibility/subjects/{s}/versions/latest"]
)
def test_bad_schema_bodies_get_a_4xx_with_a_message(registry_url, registry_credentials, case, endpoint):
    subject = f"inputs-{uuid.uuid4().hex[:6]}-value"
    url = f"{registry_url}/{endpoint.format(s=subject)}"
    status, body = call(url, "POST", headers=basic(registry_credentials), raw=BAD_SCHEMA_BODIES[case])
    assert 400 <= status < 500, (status, str(body)[:300])
    assert body["message"] and body["error_code"] // 100 == status
