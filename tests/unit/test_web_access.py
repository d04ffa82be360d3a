"""The web view and its JSON API: a token from settings or 401, and masked forms only for the viewer role."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from casehub.ground.access import COOKIE, parse_tokens, sign_in_link, visible_to
from casehub.sinks.case_view import create_engine, upsert_cases
from casehub.sinks.web import build_app
from tests.support.events import EVENTS, event, fold

VIEWER, INTEGRATOR = "viewer-token-0123456789", "integrator-token-0123456789"
TOKENS = parse_tokens(f"viewer:{VIEWER},integrator:{INTEGRATOR}")

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
    client = TestClient(TestServer(build_app(engine, TOKENS)))
    await client.start_server()
    client.case_id = case["case_id"]
    yield client
    await client.close()
    engine.dispose()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/", "/api/cases", "/api/cases/{case}", "/cases/{case}"])
async def test_every_page_needs_a_token(client, path):
    url = path.format(case=client.case_id)
    for headers in ({}, bearer("not-a-token-at-all-xyz"), {"Authorization": f"Basic {VIEWER}"}):
        resp = await client.get(url, headers=headers)
        assert resp.status == 401, headers
        assert "casehub up" in await resp.text()  # says how to sign in
    assert (await client.get(url, headers=bearer(VIEWER))).status == 200


async def test_no_hash_reaches_the_viewer(client):
    for path in (f"/api/cases/{client.case_id}", "/api/cases", f"/cases/{client.case_id}", "/"):
        resp = await client.get(path, headers=bearer(VIEWER))
        text = await resp.text()
        assert resp.status == 200 and "_hash" not in text and "a" * 64 not in text and "b" * 64 not in text, path
    record = await (await client.get(f"/api/cases/{client.case_id}", headers=bearer(VIEWER))).json()
    worker = next(p for p in record["parties"] if p["name"] == "王伟" and p.get("id_masked"))
    assert worker["id_masked"] == "2101**********1233" and worker["phone_masked"] == "138****5678"


async def test_the_integrator_role_gets_the_hashes(client):
    record = await (await client.get(f"/api/cases/{client.case_id}", headers=bearer(INTEGRATOR))).json()
    assert any(p.get("id_hash") == "a" * 64 for p in record["parties"])


async def test_the_sign_in_link_sets_a_cookie_and_leaves_the_address_bar(client):
    link = sign_in_link("", VIEWER)
    resp = await client.get(link, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    cookie = resp.cookies[COOKIE]
    assert cookie.value == VIEWER and cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await client.get("/", cookies={COOKIE: VIEWER})).status == 200
    assert (await client.get(sign_in_link("", "wrong-token-0123456789"), allow_redirects=False)).status == 401


async def test_health_stays_open_for_the_supervisor(client):
    assert (await client.get("/healthz")).status == 200


def test_tokens_are_checked_when_read():
    with pytest.raises(ValueError, match="unknown role"):
        parse_tokens("admin:0123456789abcdefgh")
    with pytest.raises(ValueError, match="at least 16"):
        parse_tokens("viewer:short")
    assert "viewer-token" not in repr(TOKENS)


def test_visible_to_drops_hashes_at_any_depth():
    value = {"a_hash": 1, "x": [{"id_hash": 2, "id_masked": "m"}], "y": {"phone_hash": 3}}
    assert visible_to("viewer", value) == {"x": [{"id_masked": "m"}], "y": {}}
    assert visible_to("integrator", value) == value
