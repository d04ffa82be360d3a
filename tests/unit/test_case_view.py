"""The case view store on a real SQLite file and, in CI, on PostgreSQL: idempotent batched upserts that never go
back, redirects followed, parts replaced per version, the outbox written once per agreement, masked parties only,
and a schema that only migrations make."""

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from casehub.sinks.case_view import add_alerts, add_requests, apply_log_entry, create_engine, load_case, upsert_cases
from casehub.sinks.migrate import LegacyViewError, head
from casehub.sinks.view_tables import (
    CONTENT,
    alerts,
    case_agreements,
    case_events,
    case_parties,
    case_refs,
    cases,
    confirmation_requests,
    metadata,
)
from tests.support.databases import needs_mariadb, needs_postgres
from tests.support.events import EVENTS, fold
from tests.support.view import REF, agreement_case

UTC = dt.UTC


_fresh: set[str] = set()


def _clean(eng):
    with eng.begin() as conn:
        for table in reversed(CONTENT):
            conn.execute(table.delete())


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=needs_postgres), pytest.param("mariadb", marks=needs_mariadb)]
)
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'view.db'}")
    else:
        url = request.getfixturevalue(f"{request.param}_url")
        if url not in _fresh:  # the shared test database may hold an older view (or none): start from nothing
            raw = sa.create_engine(url)
            with raw.begin() as conn:
                for name in sa.inspect(conn).get_table_names():
                    if name in metadata.tables or name == "alembic_version":
                        conn.execute(sa.text(f"DROP TABLE {raw.dialect.identifier_preparer.quote(name)} CASCADE"))
            raw.dispose()
            _fresh.add(url)
        eng = create_engine(url)
    _clean(eng)
    yield eng
    _clean(eng)
    eng.dispose()


def test_upsert_is_idempotent_and_never_goes_back(engine):
    v3, v5 = fold(EVENTS[:3]), fold(EVENTS)
    with engine.begin() as conn:
        assert upsert_cases(conn, [v3]) == 1
    with engine.begin() as conn:
        assert upsert_cases(conn, [v5, v5]) == 1
    with engine.begin() as conn:
        assert upsert_cases(conn, [v3]) == 0  # a late, older version must not win
        assert upsert_cases(conn, [v5]) == 0  # a repeated one changes nothing
    with engine.connect() as conn:
        assert conn.execute(sa.select(cases.c.version)).scalar_one() == 5
        assert conn.execute(sa.select(sa.func.count()).select_from(case_events)).scalar_one() == 5
        stored = load_case(conn, v5["case_id"])
    assert stored["status"] == "MEDIATION:AGREEMENT_PERFORMED"
    assert dt.datetime.fromisoformat(stored["updated_at"]) == v5["updated_at"]


def test_a_batch_keeps_the_newest_version_of_each_case_whatever_its_order(engine):
    v3, v5 = fold(EVENTS[:3]), fold(EVENTS)
    with engine.begin() as conn:
        assert upsert_cases(conn, [v5, v3]) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(cases.c.version)).scalar_one() == 5


def test_a_merged_away_id_answers_with_the_surviving_case(engine):
    live = fold(EVENTS)
    redirect = {**fold(EVENTS[:1]), "case_id": "CH-OLD", "merged_into": live["case_id"], "version": 2}
    with engine.begin() as conn:
        upsert_cases(conn, [live, redirect])
    with engine.connect() as conn:
        found = load_case(conn, "CH-OLD")
        assert found["case_id"] == live["case_id"] and found["redirected_from"] == ["CH-OLD"]
        assert load_case(conn, "CH-NONE") is None


def test_parties_are_stored_masked_without_hashes(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [fold(EVENTS)])
    assert not any(c.name.endswith("_hash") for c in case_parties.columns)
    with engine.connect() as conn:
        names = conn.execute(sa.select(case_parties.c.name, case_parties.c.role)).all()
        refs = conn.execute(sa.select(case_refs.c.number, case_refs.c.normalised)).all()
    assert ("王伟", "WORKER") in names
    assert ("沈和调〔2024〕0001号", "沈和调(2024)0001") in refs


def test_an_eligible_agreement_gets_one_outbox_row_across_versions(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(8)], REF)  # a newer version of the same case: the same agreement
    with engine.connect() as conn:
        rows = conn.execute(sa.select(confirmation_requests)).all()
        decision = conn.execute(sa.select(case_agreements.c.confirmation_decision)).scalar_one()
    assert len(rows) == 1 and decision == "REQUEST"
    assert rows[0].court_code == "辽0102" and rows[0].deadline == dt.date(2026, 12, 20) and rows[0].state == "PENDING"
    assert "id_number" not in rows[0].request  # the outbox holds no identity: the relay fills it in


def test_an_agreement_without_both_consents_gets_no_request(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7, consent=False)], REF)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(confirmation_requests)).scalar_one() == 0
        assert conn.execute(sa.select(case_agreements.c.confirmation_decision)).scalar_one() == "NO_CONSENT"


def test_add_requests_skips_an_agreement_that_has_one(engine):
    from casehub.sinks.case_view import plan_confirmations

    _, wanted = plan_confirmations(agreement_case(7), REF, 30)
    with engine.begin() as conn:
        assert add_requests(conn, wanted + wanted) == 1
        assert add_requests(conn, wanted) == 0


def _at_court(version: int) -> dict:
    case = agreement_case(version)
    court = {**case["stages"][0], "kind": "JUDICIAL_CONFIRMATION", "system": "court-sys", "record_id": "m1"}
    case["stages"] = case["stages"] + [court]
    return case


def _request(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(confirmation_requests)).one()


def test_a_never_sent_request_is_withdrawn_when_the_court_has_the_agreement_and_reinstated_when_not(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
        upsert_cases(conn, [_at_court(8)], REF)
    row = _request(engine)
    assert row.state == "WITHDRAWING" and row.last_error.startswith("withdrawn, not sent: a court already has")
    with engine.connect() as conn:
        assert conn.execute(sa.select(case_agreements.c.confirmation_decision)).scalar_one() == "AT_COURT"
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(9)], REF)  # the court record split out again
    assert (_request(engine).state, _request(engine).last_error) == ("REINSTATED", None)


def test_a_delivered_request_stays_delivered_whatever_the_agreement_becomes(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
        conn.execute(confirmation_requests.update().values(state="DELIVERED"))
        upsert_cases(conn, [_at_court(8)], REF)
    assert _request(engine).state == "DELIVERED"


def _entry(engine, state: str, attempts: int = 1) -> dict:
    from casehub.sinks.confirmation_relay import request_from_json

    request = request_from_json(_request(engine).request)
    return {"request": request, "state": state, "attempts": attempts, "deliveries": [], "last_error": "relay"}


def test_a_relay_pass_that_read_the_request_before_the_sink_changed_it_does_not_undo_the_change(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
        upsert_cases(conn, [_at_court(8)], REF)
    with engine.begin() as conn:  # the pass had read PENDING: its "waiting for identities" comes after the withdrawal
        apply_log_entry(conn, _entry(engine, "WAITING_IDENTITY"))
    assert (_request(engine).state, _request(engine).attempts) == ("WITHDRAWING", 1)
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(9)], REF)
    with engine.begin() as conn:  # the pass had read WITHDRAWING: its withdrawal comes after the reinstatement
        apply_log_entry(conn, _entry(engine, "WITHDRAWN"))
    assert _request(engine).state == "REINSTATED"
    with engine.begin() as conn:
        apply_log_entry(conn, _entry(engine, "DELIVERED", 2))  # what happened always applies
    assert (_request(engine).state, _request(engine).attempts) == ("DELIVERED", 2)


def test_a_withdrawn_request_takes_its_alerts_out_of_the_view(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
    rid = _request(engine).request_id
    alert = {
        "alert_id": f"{rid}:DEADLINE_MISSED",
        "kind": "DEADLINE_MISSED",
        "severity": "CRITICAL",
        "case_id": "CH1",
        "raised_at": dt.datetime(2026, 11, 25, tzinfo=UTC),
        "message": "late",
    }
    with engine.begin() as conn:
        assert add_alerts(conn, [alert]) == 1
        upsert_cases(conn, [_at_court(8)], REF)
        apply_log_entry(conn, _entry(engine, "WITHDRAWN"))
    with engine.begin() as conn:
        assert conn.execute(sa.select(alerts)).all() == []
        assert add_alerts(conn, [alert]) == 0  # read again (a rebuild reads alerts after the log): still not shown


def test_the_migrated_schema_is_the_declared_one(engine):
    """A table changed in view_tables.py without a migration fails here."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
        assert MigrationContext.configure(conn).get_current_revision() == head()
    assert diff == []


def test_a_view_from_before_migrations_is_refused_with_the_way_out(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    with old.begin() as conn:
        conn.execute(sa.text("CREATE TABLE cases (case_id TEXT PRIMARY KEY)"))
    old.dispose()
    with pytest.raises(LegacyViewError, match="rebuild-view"):
        create_engine(url)


def _corrected(version: int) -> dict:
    """The same agreement (same source record) after the platform corrected its number."""
    case = agreement_case(version)
    case["agreements"][0]["agreement"]["number"] = "A1（更正）"
    return case


def test_an_agreement_whose_number_is_corrected_keeps_its_one_request(engine):
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
        conn.execute(confirmation_requests.update().values(state="DELIVERED"))
    with engine.begin() as conn:
        upsert_cases(conn, [_corrected(8)], REF)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(confirmation_requests.c.request_id, confirmation_requests.c.state)).all()
        decided = conn.execute(sa.select(case_agreements.c.request_id)).scalar_one()
    assert [r.state for r in rows] == ["DELIVERED"] and decided == rows[0].request_id


def _old(row, number: str, state: str, created: dt.datetime) -> dict:
    """A request as revision 0001 made it: keyed by record and number, its id the hash of that key."""
    import hashlib
    import json

    key = f"{row.agreement_key}|{number}"
    rid = "CR-" + hashlib.sha256(key.encode()).hexdigest()[:24]
    body = {**json.loads(row.request), "agreement_key": key, "request_id": rid}
    body["agreement"] = {**body["agreement"], "number": number}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    return {
        **row._mapping,
        "request_id": rid,
        "agreement_key": key,
        "request": text,
        "state": state,
        "created_at": created,
    }


def test_a_view_whose_agreement_keys_held_the_number_is_migrated_and_finds_its_request(tmp_path):
    """A view made before revision 0002 keyed agreements by record and number, and so could hold two requests of
    one record (the number corrected in between): after the upgrade the delivered one is the agreement's request,
    the decision names it, a corrected number finds it, and the never-sent second one is withdrawn."""
    from casehub.sinks.migrate import upgrade

    eng = create_engine(f"sqlite:///{tmp_path / 'v1.db'}", migrate=False)
    upgrade(eng, "0001")
    with eng.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)  # written by today's code: make it what revision 0001 held
        today = conn.execute(sa.select(confirmation_requests)).one()
        first = _old(today, "A1", "DELIVERED", dt.datetime(2026, 11, 20, tzinfo=UTC))
        second = _old(today, "A1（更正）", "PENDING", dt.datetime(2026, 11, 21, tzinfo=UTC))
        conn.execute(confirmation_requests.delete())
        conn.execute(confirmation_requests.insert(), [second, first])
        conn.execute(
            case_agreements.update().values(agreement_key=first["agreement_key"], request_id=first["request_id"])
        )
    upgrade(eng)
    with eng.begin() as conn:
        rows = {r.request_id: r for r in conn.execute(sa.select(confirmation_requests))}
        assert rows[first["request_id"]].agreement_key == today.agreement_key
        assert rows[second["request_id"]].state == "WITHDRAWING"
        assert f"a duplicate of {first['request_id']}" in rows[second["request_id"]].last_error
        upsert_cases(conn, [_corrected(8)], REF)
        assert conn.execute(sa.select(sa.func.count()).select_from(confirmation_requests)).scalar_one() == 2
        decision = conn.execute(sa.select(case_agreements.c.agreement_key, case_agreements.c.request_id)).one()
    assert tuple(decision) == (today.agreement_key, first["request_id"])  # the request the outbox holds
    eng.dispose()
    # a rebuild reading a log written then: the never-sent second request first, the delivered one after it
    from casehub.sinks.confirmation_relay import request_from_json

    fresh = create_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    with fresh.begin() as conn:
        for old, state in ((second, "PENDING"), (first, "DELIVERED")):
            entry = {"request": request_from_json(old["request"]), "state": state, "attempts": 1, "deliveries": []}
            apply_log_entry(conn, entry)
        upsert_cases(conn, [_corrected(8)], REF)
        states = dict(conn.execute(sa.select(confirmation_requests.c.request_id, confirmation_requests.c.state)).all())
        decided = conn.execute(sa.select(case_agreements.c.request_id)).scalar_one()
    assert states == {first["request_id"]: "DELIVERED", second["request_id"]: "WITHDRAWING"}
    assert decided == first["request_id"]
    fresh.dispose()


def _judged(engine) -> tuple:
    with engine.connect() as conn:
        decisions = conn.execute(
            sa.select(
                case_agreements.c.agreement_key, case_agreements.c.confirmation_decision, case_agreements.c.request_id
            )
        ).all()
        requests = conn.execute(
            sa.select(
                confirmation_requests.c.request_id,
                confirmation_requests.c.state,
                confirmation_requests.c.court_code,
                confirmation_requests.c.deadline,
                confirmation_requests.c.request,
            )
        ).all()
    return [tuple(r) for r in decisions], [tuple(r) for r in requests]


def test_an_organisation_added_to_the_roster_gets_its_agreements_judged_again(engine, tmp_path):
    """The operator page listed the organisation as missing; an operator adds it: the stored agreement becomes
    eligible and gets its request, as a rebuild with the new roster would give; taken out again, the never-sent
    request is withdrawn."""
    from casehub.domain.directory import ReferenceData, Roster
    from casehub.sinks.case_view import judge_with

    without = ReferenceData(Roster(()), REF.directory)
    assert judge_with(engine, without) == 0
    with engine.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], without)
    assert judge_with(engine, without) is None  # the same data: nothing to do
    with engine.connect() as conn:
        assert conn.execute(sa.select(case_agreements.c.confirmation_decision)).scalar_one() == "NOT_IN_ROSTER"
        assert conn.execute(sa.select(confirmation_requests)).all() == []
    assert judge_with(engine, REF) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(case_agreements.c.confirmation_decision)).scalar_one() == "REQUEST"
        assert conn.execute(sa.select(confirmation_requests.c.state)).scalar_one() == "PENDING"
    fresh = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")  # what a rebuild with the new roster gives
    with fresh.begin() as conn:
        upsert_cases(conn, [agreement_case(7)], REF)
    assert _judged(fresh) == _judged(engine)
    fresh.dispose()
    assert judge_with(engine, without) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(confirmation_requests.c.state)).scalar_one() == "WITHDRAWING"
