"""The web page, JSON API and callback endpoint over a real SQLite view (FastAPI's TestClient, the in-memory
publisher): tokens per role, search and filters, link corrections, and every way a court callback is refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.domain.confirmation import request_id_for
from casehub.ground.access import (
    COOKIE,
    COURTS_FILE,
    Access,
    AccessError,
    Role,
    courts_file,
    load_access,
    parse_role,
    parse_tokens,
    sign,
    sign_in_link,
    visible_to,
)
from casehub.ground.publish import MemoryPublisher
from casehub.ground.secrets import OPERATOR_TOKEN, HomeSecrets
from casehub.ground.settings import SettingsError, load_settings
from casehub.ground.topics import Topics
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.sinks.case_view import create_engine, upsert_cases
from casehub.sinks.view_tables import CONTENT, confirmation_deliveries, confirmation_requests, court_answers
from casehub.sinks.web import build_app
from tests.support.view import REF, agreement_case

T = Topics("unit.")
NOW = dt.datetime(2026, 11, 25, 8, tzinfo=dt.UTC)
TOKENS = {
    "op": Role("operator"),
    "vw": Role("viewer"),
    "ig": Role("integrator"),
    "c102": Role("court", "辽0102"),
    "c103": Role("court", "辽0103"),
}
SECRETS = {"辽0102": "s102", "辽0103": "s103"}


def delivered(engine) -> None:
    """The view's request as the relay leaves it once the court has it."""
    with engine.begin() as conn:
        rid = conn.execute(sa.select(confirmation_requests.c.request_id)).scalar_one()
        conn.execute(confirmation_requests.update().values(state="DELIVERED", attempts=1, delivered_at=NOW))
        at = NOW - dt.timedelta(hours=1)
        conn.execute(confirmation_deliveries.insert().values(request_id=rid, attempt=1, at=at, outcome="DELIVERED"))


@pytest.fixture
def view(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'view.db'}")
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
    delivered(engine)
    publisher, codec = MemoryPublisher(), AvroCodec(MemoryRegistry(), prefix=T.prefix)
    client = TestClient(build_app(engine, Access(TOKENS, SECRETS), publisher, codec, T, lambda: NOW))
    yield client, engine, publisher, codec
    engine.dispose()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_every_api_route_needs_a_valid_token(view):
    client, *_ = view
    for path in ("/api/cases", "/api/cases/x", "/api/confirmations", "/api/alerts", "/api/organisations/missing"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=auth("wrong")).status_code == 401, path
    assert client.get("/api/cases", headers=auth("vw")).status_code == 200
    assert client.get("/api/alerts", headers=auth("vw")).status_code == 403  # operators only
    assert client.get("/", follow_redirects=False).status_code == 401  # the page asks to sign in
    assert "登录" in client.get("/").text


def test_only_integrators_get_hashes(view):
    client, *_ = view
    case_id = client.get("/api/cases", headers=auth("op")).json()["cases"][0]["case_id"]
    for token in ("vw", "op"):
        assert "_hash" not in client.get(f"/api/cases/{case_id}", headers=auth(token)).text, token
    assert "id_hash" in client.get(f"/api/cases/{case_id}", headers=auth("ig")).text


def test_search_by_a_full_width_bracketed_case_number_and_filters(view):
    client, *_ = view
    found = client.get("/api/cases", params={"q": "沈和调［２０２４］ 第0001号"}, headers=auth("vw")).json()
    assert found["total"] == 1
    # the list's form sends every field, empty ones included
    empty = {"stage": "", "status": "", "region": "", "organisation": "", "overdue": "", "group_dispute": ""}
    assert (
        client.get("/api/cases", params={"q": "沈和调〔２０２４〕0001", **empty}, headers=auth("vw")).json()["total"]
        == 1
    )
    assert client.get("/api/cases", params={"overdue": "true"}, headers=auth("vw")).json()["total"] == 0
    assert client.get("/api/cases", params={"q": "沈和调(2023)0001"}, headers=auth("vw")).json()["total"] == 0
    assert client.get("/api/cases", params={"q": "王伟"}, headers=auth("vw")).json()["total"] == 1
    assert client.get("/api/cases", params={"q": "2101**********123X"}, headers=auth("vw")).json()["total"] == 1
    assert client.get("/api/cases", params={"q": "X"}, headers=auth("vw")).json()["total"] == 1  # employer credit code
    assert client.get("/api/cases", params={"stage": "ARBITRATION"}, headers=auth("vw")).json()["total"] == 0
    assert client.get("/api/cases", params={"region": "2101"}, headers=auth("vw")).json()["total"] == 1
    assert client.get("/api/cases", params={"per_page": 1, "page": 2}, headers=auth("vw")).json()["cases"] == []
    # the page: one hit goes straight to the case
    client.cookies.set("casehub_token", "vw")
    page = client.get("/", params={"q": "沈和调〔２０２４〕0001"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/cases/")


def test_a_court_sees_only_its_own_requests(view):
    client, *_ = view
    assert len(client.get("/api/confirmations", headers=auth("c102")).json()["requests"]) == 1
    assert client.get("/api/confirmations", headers=auth("c103")).json()["requests"] == []
    rid = client.get("/api/confirmations", headers=auth("op")).json()["requests"][0]["request_id"]
    assert client.get(f"/api/confirmations/{rid}", headers=auth("c103")).status_code == 404
    own = client.get(f"/api/confirmations/{rid}", headers=auth("c102")).json()
    assert own["request"]["deadline"] == "2026-12-20" and "_hash" not in json.dumps(own)
    assert client.get("/api/cases", headers=auth("c102")).status_code == 403


def test_a_correction_on_the_case_page_publishes_a_link_correction(view):
    client, _, publisher, codec = view
    case_id = client.get("/api/cases", headers=auth("op")).json()["cases"][0]["case_id"]
    client.cookies.set("casehub_token", "vw")
    form = {"action": "SPLIT", "record": "sys:3", "reason": "wrong worker"}
    assert client.post(f"/cases/{case_id}/corrections", data=form).status_code == 403
    client.cookies.set("casehub_token", "op")
    done = client.post(f"/cases/{case_id}/corrections", data=form, follow_redirects=False)
    assert done.status_code == 303
    ((_, value),) = publisher.on(T.corrections)
    correction = codec.decode(value)
    assert correction["action"] == "SPLIT" and correction["records"] == [{"system": "sys", "record_id": "3"}]
    assert correction["operator"] == "operator" and correction["case_ids"] == [case_id]
    joined = client.post(
        f"/api/cases/{case_id}/corrections",
        json={"action": "JOIN", "system": "sys", "record_id": "3", "reason": "same dispute"},
        headers=auth("op"),
    )
    assert joined.status_code == 422 and "other_record_id" in joined.json()["error"]


def test_a_correction_naming_a_case_or_record_that_is_not_there_is_refused(view):
    """As `casehub link` refuses it: the linker would keep a correction it cannot apply for good."""
    client, engine, publisher, codec = view
    case_id = client.get("/api/cases", headers=auth("op")).json()["cases"][0]["case_id"]
    other = agreement_case(8)
    other["case_id"] = "CH-OTHER"
    other["stages"] = [{**other["stages"][0], "system": "ln-arbitration", "record_id": "1288"}]
    with engine.begin() as conn:
        upsert_cases(conn, [other], REF)

    def correct(case: str, **body):
        return client.post(f"/api/cases/{case}/corrections", json={"reason": "r", **body}, headers=auth("op"))

    refused = [
        (correct("NO-SUCH-CASE", action="SPLIT", system="sys", record_id="3"), 404, "case NO-SUCH-CASE not found"),
        (correct(case_id, action="SPLIT", system="sys", record_id="999"), 422, "record sys:999 is not in case"),
        (
            correct(case_id, action="JOIN", system="sys", record_id="3", other_system="x", other_record_id="1"),
            422,
            "no case holds record x:1",
        ),
        (
            correct(case_id, action="JOIN", system="sys", record_id="3", other_system="sys", other_record_id="4"),
            422,
            "in this case already",
        ),
    ]
    for response, status, words in refused:
        assert response.status_code == status and words in response.json()["error"], response.text
    assert publisher.on(T.corrections) == []
    joined = correct(
        case_id, action="JOIN", system="sys", record_id="3", other_system="ln-arbitration", other_record_id="1288"
    )
    assert joined.status_code == 202
    ((_, value),) = publisher.on(T.corrections)
    assert codec.decode(value)["records"][1] == {"system": "ln-arbitration", "record_id": "1288"}
    # the page's form writes records as the command line does: SYSTEM:RECORD_ID
    client.cookies.set("casehub_token", "op")
    page = client.get(f"/cases/{case_id}").text
    assert 'value="sys:3"' in page and 'placeholder="ln-arbitration:123"' in page
    form = {"action": "JOIN", "record": "sys:3", "other": "ln-arbitration|1288", "reason": "r"}
    assert client.post(f"/cases/{case_id}/corrections", data=form).status_code == 422


def test_organisations_named_by_cases_but_missing_from_the_roster_are_listed_for_operators(view):
    client, engine, *_ = view
    from casehub.sinks.case_view import write_roster

    with engine.begin() as conn:
        write_roster(conn, REF.roster)
    record = agreement_case(8)
    record["case_id"] = "CH-UNLISTED"
    record["stages"] = [{**s, "organisation": "未登记街道调解委员会"} for s in record["stages"]]
    with engine.begin() as conn:
        upsert_cases(conn, [record], REF)
    missing = client.get("/api/organisations/missing", headers=auth("op")).json()["organisations"]
    assert missing == [{"name": "未登记街道调解委员会", "cases": 1, "example": "CH-UNLISTED"}]
    client.cookies.set("casehub_token", "op")
    assert "未登记街道调解委员会" in client.get("/operator").text
    assert client.get("/api/organisations/missing", headers=auth("vw")).status_code == 403


def test_the_openapi_document_lists_the_api(view):
    client, *_ = view
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/cases", "/api/cases/{case_id}", "/api/court/callbacks", "/api/confirmations"} <= set(paths)


def callback(client, body, token="c102", secret="s102", when=NOW, signature=None):
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(when.timestamp()))
    headers = {"X-Casehub-Timestamp": stamp, "X-Casehub-Signature": signature or sign(secret, stamp, data)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/api/court/callbacks", content=data, headers=headers)


def _state(engine):
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(court_answers)).all(),
            conn.execute(sa.select(confirmation_requests.c.court_outcome)).all(),
        )


def test_bad_callbacks_are_refused_with_a_clear_error_and_change_nothing(view):
    client, engine, publisher, _ = view
    rid = client.get("/api/confirmations", headers=auth("op")).json()["requests"][0]["request_id"]
    before = _state(engine)
    good = {"request_id": rid, "outcome": "ACCEPTED", "court_case_number": "（2026）辽0102民特7号"}
    cases = [
        (callback(client, good, token=None), 401, "token"),
        (callback(client, good, token="vw"), 401, "court"),
        (callback(client, good, signature="00" * 32), 401, "bad signature"),
        (callback(client, good, when=NOW - dt.timedelta(minutes=10)), 401, "5 minutes"),
        (callback(client, b"{not json"), 422, "not UTF-8 JSON"),
        (callback(client, {"request_id": rid, "outcome": "MAYBE"}), 422, "outcome"),
        (callback(client, {"request_id": rid, "outcome": "ACCEPTED"}), 422, "court_case_number"),
        (callback(client, {"request_id": rid, "outcome": "REJECTED"}), 422, "reason"),
        (callback(client, {**good, "extra": 1}), 422, "unknown fields"),
        (callback(client, {**good, "request_id": "CR-unknown"}), 404, "unknown request"),
        (callback(client, good, token="c103", secret="s103"), 403, "not sent to court"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["error"]
    assert _state(engine) == before and publisher.messages == []


@pytest.mark.parametrize("state", ["EXPIRED", "WITHDRAWN"])
def test_a_callback_for_a_request_that_was_never_sent_is_refused(view, state):
    client, engine, publisher, _ = view
    with engine.begin() as conn:
        conn.execute(confirmation_deliveries.delete())
        conn.execute(confirmation_requests.update().values(state=state, attempts=0, delivered_at=None))
        if state == "EXPIRED":  # the relay's own note of a late request is no sending
            rid = conn.execute(sa.select(confirmation_requests.c.request_id)).scalar_one()
            conn.execute(confirmation_deliveries.insert().values(request_id=rid, attempt=1, at=NOW, outcome="EXPIRED"))
    rid = request_id_for(agreement_case(7)["agreements"][0])
    response = callback(client, {"request_id": rid, "outcome": "RECEIVED"})
    assert response.status_code == 409 and f"never sent to a court ({state})" in response.json()["error"]
    assert publisher.messages == [] and _state(engine)[0] == []
    with engine.connect() as conn:
        cid = conn.execute(sa.select(confirmation_requests.c.case_id)).scalar_one()
    page = client.get(f"/cases/{cid}", headers=auth("op")).text
    assert {"EXPIRED": "已过期，未发送", "WITHDRAWN": "已撤回，未发送"}[state] in page
    # nor does the court see it among its requests
    assert client.get("/api/confirmations", headers=auth("c102")).json()["requests"] == []
    assert client.get(f"/api/confirmations/{rid}", headers=auth("c102")).status_code == 404


def test_a_good_callback_reaches_the_topics_and_the_view_and_a_replay_is_refused(view):
    client, engine, publisher, codec = view
    rid = request_id_for(agreement_case(7)["agreements"][0])
    good = {"request_id": rid, "outcome": "ACCEPTED", "court_case_number": "（2026）辽0102民特7号"}
    assert callback(client, good).status_code == 202
    ((_, event),) = publisher.on(T.court)
    assert codec.decode(event)["event_type"] == "CONFIRMATION_ACCEPTED"
    ((key, response),) = publisher.on(T.confirmation_responses)
    assert key == rid.encode() and codec.decode(response)["court_case_number"] == "（2026）辽0102民特7号"
    replay = callback(client, good)
    assert replay.status_code == 409 and "received before" in replay.json()["error"]
    assert len(publisher.on(T.court)) == 1
    answers, outcome = _state(engine)
    assert len(answers) == 1 and outcome[0].court_outcome == "ACCEPTED"
    # the ruling names no number: the court's 民特 number from its acceptance stays its own reference
    assert callback(client, {"request_id": rid, "outcome": "RULED_VALID"}).status_code == 202
    ruling = codec.decode(publisher.on(T.court)[-1][1])
    assert ruling["refs"][0]["number"] == "（2026）辽0102民特7号" and ruling["event_type"] == "CONFIRMATION_RULED_VALID"


def test_roles_tokens_and_the_home_files(tmp_path):
    assert parse_role("court/辽0102") == Role("court", "辽0102")
    for bad in ("admin", "court", "viewer/辽0102"):
        with pytest.raises(AccessError):
            parse_role(bad)
    with pytest.raises(ValueError, match="unknown role"):
        parse_tokens("admin:0123456789abcdefgh")
    with pytest.raises(ValueError, match="at least 16"):
        parse_tokens("viewer:short")
    home = HomeSecrets(tmp_path)
    operator, _ = home.ensure(OPERATOR_TOKEN)
    home.ensure(COURTS_FILE, lambda: courts_file(["辽0102"]))
    assert stat.S_IMODE(os.stat(home.path(COURTS_FILE)).st_mode) == 0o600
    access = load_access(load_settings({}, home=tmp_path))
    assert access.role_of(operator) == Role("operator")  # the home's operator token, when no tokens are configured
    assert access.role_of(access.token_for("court/辽0102")) == Role("court", "辽0102")
    assert access.secret_of("辽0102") and access.role_of("") is None and access.role_of("nope") is None
    configured = load_access(load_settings({}, home=tmp_path, web_tokens="viewer:a-viewer-token-0123456789"))
    assert configured.role_of("a-viewer-token-0123456789") == Role("viewer")
    assert configured.role_of(operator) is None  # CASEHUB_WEB_TOKENS replaces the home's operator token
    os.chmod(home.path(COURTS_FILE), 0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        load_access(load_settings({}, home=tmp_path))
    for table in CONTENT:  # the view has no column for a full identity
        assert not {"id_number", "phone"} & {c.name for c in table.columns}, table.name


def test_visible_to_drops_hashes_at_any_depth_for_viewers_and_courts():
    value = {"a_hash": 1, "x": [{"id_hash": 2, "id_masked": "m"}], "y": {"phone_hash": 3}}
    assert visible_to("viewer", value) == {"x": [{"id_masked": "m"}], "y": {}}
    assert visible_to(Role("court", "辽0102"), value) == {"x": [{"id_masked": "m"}], "y": {}}
    assert visible_to(Role("operator"), value) == visible_to("viewer", value)
    assert visible_to("integrator", value) == value


def test_the_sign_in_link_sets_a_cookie_and_leaves_the_address_bar(view):
    client, *_ = view
    response = client.get(sign_in_link("", "vw"), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=vw") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get(sign_in_link("", "wrong-token"), follow_redirects=False).status_code == 401
    assert client.get("/healthz").status_code == 200  # open for the supervisor
    client.cookies.clear()
    refused = client.get("/api/cases")
    assert refused.status_code == 401 and "casehub up" in refused.json()["error"]  # says how to sign in


def test_the_case_page_shows_times_as_a_clerk_in_china_reads_them(view):
    """Records carry UTC; the page shows China time (UTC+8), so an event at 20:00 UTC is on the next day."""
    from tests.support.events import event, fold

    client, engine, *_ = view
    late = [
        event(901, "APPLIED", 11 * 60, "沈和调〔2024〕0901号"),
        event(902, "ACCEPTED", 11 * 60 + 30, "沈和调〔2024〕0901号"),
    ]
    case = fold(late)  # 2024-03-01 20:00 and 20:30 UTC
    with engine.begin() as conn:
        upsert_cases(conn, [case], REF)
    page = client.get(f"/cases/{case['case_id']}", headers=auth("op")).text
    assert "2024-03-02 04:00" in page and "2024-03-02 04:30" in page
    assert "2024-03-01 20:00" not in page and "2024-03-01 /" not in page  # neither the time nor the day in UTC


def test_bad_input_gets_a_clear_4xx_never_a_500(view):
    """What a trial found answered with a bare 500 (a page number past the database's integers, a signature with a
    non-ASCII character, a time before year 1, JSON nested too deep, a NUL character), and loose filters that were
    silently read as something else."""
    client, engine, publisher, _ = view
    before = _state(engine)
    rid = request_id_for(agreement_case(7)["agreements"][0])
    op = auth("op")
    for path, status, words in [
        ("/api/cases?page=99999999999999999999", 422, "page"),
        ("/api/cases?page=0", 422, "page"),
        ("/api/cases?per_page=100000", 422, "per_page"),
        ("/api/cases?overdue=maybe", 422, "overdue must be true or false"),
        ("/api/cases?stage=BOGUS", 422, "stage 'BOGUS' is not one of"),
        ("/api/cases?q=%00abc", 400, "NUL"),
        ("/api/cases/CH%00X", 400, "NUL"),
    ]:
        response = client.get(path, headers=op)
        assert response.status_code == status, (path, response.text)
        assert response.json()["status"] == status and words in response.json()["error"], path
    page = client.get("/?page=99999999999999999999", headers=op)  # a person gets the error page, not JSON
    assert page.status_code == 422 and "text/html" in page.headers["content-type"] and "page" in page.text
    good = {"request_id": rid, "outcome": "RECEIVED"}
    for response, status, words in [
        (callback(client, good, signature="签名".encode()), 401, "bad signature"),
        (callback(client, {**good, "decided_at": "0001-01-01T00:00:00+14:00"}), 422, "out of range"),
        (callback(client, {**good, "decided_at": "2099-01-01T00:00:00+08:00"}), 422, "in the future"),
        (callback(client, b"[" * 100_000 + b"]" * 100_000), 413, "at most"),
        (callback(client, b"[" * 20_000 + b"]" * 20_000), 422, "nested too deep"),
        (callback(client, {**good, "request_id": "CR-\u0000"}), 404, "unknown request"),
        (callback(client, {**good, "reason": "x" * 5000}), 422, "at most 4000"),
        (callback(client, {**good, "outcome": "ACCEPTED", "court_case_number": "（2026）辽0102民初7号"}), 422, "民特"),
    ]:
        assert response.status_code == status, response.text
        assert words in response.json()["error"]
    assert _state(engine) == before and publisher.messages == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(["q", "stage", "status", "region", "organisation", "overdue", "group_dispute", "page"]),
        st.text(max_size=12) | st.integers().map(str),
        max_size=4,
    )
)
def test_no_list_query_gets_a_500(view, params):
    client, *_ = view
    response = client.get("/api/cases", params=params, headers=auth("op"))
    assert response.status_code in (200, 400, 422), (params, response.text)


def test_a_court_answers_in_order_and_never_contradicts_itself(view):
    client, engine, publisher, _ = view
    rid = request_id_for(agreement_case(7)["agreements"][0])
    number = "（2026）辽0102民特7号"
    # its ruling may come before its acceptance (a retry): both are kept; the ruling stands
    assert callback(client, {"request_id": rid, "outcome": "RULED_VALID"}).status_code == 202
    accepted = {"request_id": rid, "outcome": "ACCEPTED", "court_case_number": number}
    assert callback(client, accepted).status_code == 202
    assert callback(client, {"request_id": rid, "outcome": "RECEIVED"}).status_code == 202
    refused = [
        ({"request_id": rid, "outcome": "REJECTED", "reason": "违反法律"}, "one final answer"),
        ({"request_id": rid, "outcome": "NOT_ACCEPTED", "reason": "不属于受理范围"}, "one final answer"),
        ({"request_id": rid, "outcome": "RULED_VALID"}, "received before"),
    ]
    for body, words in refused:
        response = callback(client, body)
        assert response.status_code == 409 and words in response.json()["error"], response.text
    answers, outcome = _state(engine)
    assert sorted(a.outcome for a in answers) == ["ACCEPTED", "RECEIVED", "RULED_VALID"]
    assert outcome[0].court_outcome == "RULED_VALID" and len(publisher.on(T.court)) == 3


def test_an_answer_to_a_request_whose_delivery_timed_out_is_taken(view):
    """The relay's attempt timed out (the court may have it) and the request waits for a retry: the court's answer
    is the court's, and is kept; and a court that accepted cannot then not accept."""
    client, engine, publisher, _ = view
    with engine.begin() as conn:
        conn.execute(confirmation_deliveries.update().values(outcome="TIMEOUT"))
        conn.execute(confirmation_requests.update().values(state="PENDING", delivered_at=None))
    rid = request_id_for(agreement_case(7)["agreements"][0])
    accepted = {"request_id": rid, "outcome": "ACCEPTED", "court_case_number": "(2026)辽0102民特9号"}
    assert callback(client, accepted).status_code == 202
    response = callback(client, {"request_id": rid, "outcome": "NOT_ACCEPTED", "reason": "材料不全"})
    assert response.status_code == 409 and "cannot also be not accepted" in response.json()["error"]


@pytest.mark.parametrize("state", ["PENDING", "WITHDRAWING"])
def test_a_court_may_answer_before_the_relay_has_logged_the_delivery(view, state):
    """The relay logs a delivery once the court has answered its POST; the court's RECEIVED may come first, also
    when the sink asked for a withdrawal meanwhile (the relay may be mid-delivery: only it settles a request)."""
    client, engine, publisher, _ = view
    with engine.begin() as conn:
        conn.execute(confirmation_deliveries.delete())
        conn.execute(confirmation_requests.update().values(state=state, attempts=0, delivered_at=None))
    rid = request_id_for(agreement_case(7)["agreements"][0])
    assert callback(client, {"request_id": rid, "outcome": "RECEIVED"}).status_code == 202
    assert len(publisher.on(T.court)) == 1


def test_an_operator_sends_a_refused_request_again(view):
    client, engine, publisher, _ = view
    rid = request_id_for(agreement_case(7)["agreements"][0])
    with engine.begin() as conn:
        conn.execute(confirmation_requests.update().values(state="REFUSED", last_error="HTTP 422 申请材料不全"))
        cid = conn.execute(sa.select(confirmation_requests.c.case_id)).scalar_one()
    page = client.get(f"/cases/{cid}", headers=auth("op")).text
    assert f"/requests/{rid}/resend" in page and "法院拒收" in page
    assert f"/requests/{rid}/resend" not in client.get(f"/cases/{cid}", headers=auth("vw")).text
    assert client.post(f"/api/confirmations/{rid}/resend", headers=auth("vw")).status_code == 403
    response = client.post(f"/api/confirmations/{rid}/resend", headers=auth("op"))
    assert response.status_code == 202 and response.json()["state"] == "REINSTATED"
    with engine.connect() as conn:
        row = conn.execute(sa.select(confirmation_requests.c.state, confirmation_requests.c.last_error)).one()
    assert row.state == "REINSTATED" and "operator" in row.last_error
    # on the relay's log like the relay's own entries, whole (its attempts too): a restart or a rebuild keeps it
    ((key, value),) = publisher.on(T.confirmation_log)
    entry = json.loads(value)
    assert (
        key == rid.encode()
        and entry["state"] == "REINSTATED"
        and [d["outcome"] for d in entry["deliveries"]] == ["DELIVERED"]
    )
    again = client.post(f"/api/confirmations/{rid}/resend", headers=auth("op"))
    assert again.status_code == 409 and "only those are sent again" in again.json()["error"]


def test_operators_see_agreements_no_court_takes_and_organisations_matched_by_roster_id_are_not_missing(view):
    client, engine, *_ = view
    from casehub.domain.directory import CourtDirectory, ReferenceData
    from casehub.sinks.case_view import write_roster

    with engine.begin() as conn:
        write_roster(conn, REF.roster)
    # the directory lists no court for any place of this case: eligible, but for a court
    nowhere = ReferenceData(REF.roster, CourtDirectory(()))
    lost = agreement_case(8)
    lost["case_id"] = "CH-NOCOURT"
    lost["agreements"][0]["record_id"] = "99"
    # an agreement whose organisation the event names by roster id, under a name the roster does not use
    renamed = agreement_case(8)
    renamed["case_id"] = "CH-RENAMED"
    renamed["agreements"][0]["record_id"] = "98"
    renamed["agreements"][0]["organisation"] = {"name": "和平区调解中心(旧名)", "roster_id": "MO-1"}
    renamed["stages"] = [{**s, "organisation": "和平区调解中心(旧名)"} for s in renamed["stages"]]
    with engine.begin() as conn:
        upsert_cases(conn, [lost], nowhere)
        upsert_cases(conn, [renamed], REF)
    unrouted = client.get("/api/agreements/unrouted", headers=auth("op")).json()["agreements"]
    assert [(u["case_id"], u["effective_date"]) for u in unrouted] == [("CH-NOCOURT", "2026-11-20")]
    assert "no basic court" in unrouted[0]["decision_reason"]
    client.cookies.set("casehub_token", "op")
    page = client.get("/operator").text
    assert "无管辖法院的调解协议" in page and "CH-NOCOURT" in page
    assert client.get("/api/organisations/missing", headers=auth("op")).json()["organisations"] == []


def _numbered(n: int, number: str, credit_code: str) -> dict:
    record = agreement_case(8)
    record["case_id"] = f"CH-N{n}"
    record["refs"] = [{"kind": "MEDIATION", "system": "sys", "number": number, "normalised": None}]
    record["parties"] = [{**p, "credit_code": credit_code} if p["role"] == "EMPLOYER" else p for p in record["parties"]]
    record["agreements"] = []
    return record


def test_a_full_case_number_finds_that_case_only_and_codes_match_as_typed_in_any_width(view):
    client, engine, *_ = view
    with engine.begin() as conn:
        upsert_cases(
            conn,
            [
                _numbered(1, "大劳人仲案字〔2023〕第1号", "91210202MA0AAAAA1X"),
                _numbered(12, "大劳人仲案字〔2023〕第12号", "91210202MA0AAAAA2X"),
                _numbered(123, "大劳人仲案字〔2023〕第123号", "91210202MA0AAAAA3X"),
            ],
            REF,
        )

    def ids(q: str) -> list[str]:
        rows = client.get("/api/cases", params={"q": q}, headers=auth("vw")).json()["cases"]
        return sorted(r["case_id"] for r in rows)

    assert ids("大劳人仲案字（２０２３）第1号") == ["CH-N1"]  # not 第12号 and 第123号 as well
    assert ids("大劳人仲案字〔2023〕第12") == ["CH-N12"]
    assert ids("大劳人仲案字〔2023〕") == ["CH-N1", "CH-N12", "CH-N123"]  # the beginning of a number: all it begins
    assert ids("９１２１０２０２ＭＡ０ＡＡＡＡＡ２Ｘ") == ["CH-N12"]  # a full-width credit code
    assert ids(" 91210202ma0aaaaa3x ") == ["CH-N123"]
    assert len(ids("2101 **** ****** 123x")) == 4  # a masked ID with spaces and a small x: the one worker of each


def test_the_list_pages_keep_every_filter_and_the_page_size(view):
    client, engine, *_ = view
    with engine.begin() as conn:
        upsert_cases(conn, [_numbered(i, f"沈和调〔2026〕{i:04d}号", "X") for i in range(2, 9)], REF)
    client.cookies.set("casehub_token", "vw")
    page = client.get("/", params={"status": "MEDIATION", "per_page": 3, "page": 2, "overdue": "false"}).text
    assert 'href="/?status=MEDIATION&amp;overdue=false&amp;per_page=3&amp;page=3"' in page  # 8 cases, 3 a page
    assert 'href="/?status=MEDIATION&amp;overdue=false&amp;per_page=3&amp;page=1"' in page
    # a filter's own & and non-ASCII text stay one value
    page = client.get("/", params={"organisation": "街道&x", "page": 2}).text
    assert 'href="/?organisation=%E8%A1%97%E9%81%93%26x&amp;per_page=50&amp;page=1"' in page


def test_an_id_whose_address_code_is_younger_than_the_worker_is_flagged_on_the_page(view):
    client, engine, *_ = view
    record = agreement_case(8)
    record["parties"] = [{**p, "id_address_known": False} if p["role"] == "WORKER" else p for p in record["parties"]]
    with engine.begin() as conn:
        upsert_cases(conn, [record], REF)
    page = client.get(f"/cases/{record['case_id']}", headers=auth("vw")).text
    assert "地址码与出生年份不符" in page and "2101**********123X" in page


def test_a_nul_character_in_a_correction_is_a_422_not_a_database_error(view):
    """PostgreSQL refuses NUL in text: the request is refused before it reaches the database."""
    client, _, publisher, _ = view
    case_id = client.get("/api/cases", headers=auth("op")).json()["cases"][0]["case_id"]
    body = {"action": "SPLIT", "system": "sys", "record_id": "3\x00", "reason": "r"}
    response = client.post(f"/api/cases/{case_id}/corrections", json=body, headers=auth("op"))
    assert response.status_code == 422 and "NUL" in response.json()["error"]
    client.cookies.set("casehub_token", "op")
    form = {"action": "SPLIT", "record": "sys:3", "reason": "bad\x00"}
    assert client.post(f"/cases/{case_id}/corrections", data=form).status_code == 422
    assert publisher.on(T.corrections) == []
