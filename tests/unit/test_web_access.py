"""The web view and its JSON API: a token from settings or 401, and masked forms only for the viewer role."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from casehub.sinks.case_view import create_engine, upsert_cases
from casehub.sinks.web import build_app
from tests.support.events import EVENTS, event, fold

WORKER = {
    "role": "WORKER",
    "party_type": "PERSON",
    "name": "王伟",
    "id_hash": "a" * 64,
    "id_masked": "2101**********1233",
    "phone_hash": "b" * 64,
    "phone_masked": "138****5678",
}


@pytest.fixture
async def client(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'view.db'}")
    case = fold([*EVENTS[:2], event(9, "ACCEPTED", 50, parties=[WORKER])])
    with engine.begin() as conn:
        upsert_cases(conn, [case])
    client = TestClient(TestServer(build_app(engine)))
    await client.start_server()
    client.case_id = case["case_id"]
    yield client
    await client.close()
    engine.dispose()


@pytest.mark.parametrize("path", ["/", "/api/cases", "/api/cases/{case}", "/cases/{case}"])
async def test_every_page_needs_a_token(client, path):
    resp = await client.get(path.format(case=client.case_id))
    assert resp.status == 401


async def test_no_hash_reaches_the_viewer(client):
    resp = await client.get(f"/api/cases/{client.case_id}")
    text = await resp.text()
    assert "_hash" not in text and "a" * 64 not in text and "b" * 64 not in text
    assert json.loads(text)["parties"]
