"""The case view's upserts on a real SQLite file (no broker); the same tests run on PostgreSQL when configured."""

import datetime as dt

import pytest
import sqlalchemy as sa

from casehub.sinks.case_view import case_events, cases, create_engine, load_case, upsert_cases
from tests.support.databases import needs_postgres
from tests.support.events import EVENTS, fold


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'view.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(case_events.delete())
        conn.execute(cases.delete())
    yield eng
    eng.dispose()


def test_upsert_is_idempotent_and_never_goes_back(engine):
    v3, v5 = fold(EVENTS[:3]), fold(EVENTS)
    with engine.begin() as conn:
        upsert_cases(conn, [v3])
    with engine.begin() as conn:
        upsert_cases(conn, [v5, v5])
    with engine.begin() as conn:
        upsert_cases(conn, [v3])  # a late, older version must not win
    with engine.connect() as conn:
        assert conn.execute(sa.select(cases.c.version)).scalar_one() == 5
        assert conn.execute(sa.select(sa.func.count()).select_from(case_events)).scalar_one() == 5
        stored = load_case(conn, v5["case_id"])
    assert stored["status"] == "MEDIATION:AGREEMENT_PERFORMED"
    assert dt.datetime.fromisoformat(stored["updated_at"]) == v5["updated_at"]


@needs_postgres
def test_a_record_the_database_refuses_fails_alone(postgres_url):
    """The sink's fallback relies on this: written on its own, one refused record does not take the others down."""
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(case_events.delete())
        conn.execute(cases.delete())
    good = fold(EVENTS)
    bad = {**fold(EVENTS[:2]), "case_id": "X" * 100}  # longer than the case_id column allows (PostgreSQL enforces it)
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        upsert_cases(conn, [good, bad])
    with engine.begin() as conn:
        upsert_cases(conn, [good])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one() == 1
    engine.dispose()
