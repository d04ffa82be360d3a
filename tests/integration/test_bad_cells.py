"""One cell the driver cannot decode costs one dead letter naming record and field; the other rows of the batch
flow (item 3 of issue 10), on SQLite, PostgreSQL and MariaDB, in the connector and in its worker processes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from casehub.connectors.adapters.mediation import metadata
from tests.support.capture import T0, insert, row
from tests.support.databases import needs_mariadb, needs_postgres

GBK_NAME = "张三".encode("gbk")  # not UTF-8


def sqlite_source(tmp_path, request) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'mediation.db'}")
    metadata.create_all(engine)
    return engine


def spoil_sqlite(engine, ajid: int) -> None:
    # what a GBK application writes into a TEXT column: sqlite3 itself then refuses to read the row
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE tj_ajxx SET sqr_xm = CAST(:b AS TEXT) WHERE ajid = :id"), {"b": GBK_NAME, "id": ajid}
        )


def postgres_source(tmp_path, request) -> sa.Engine:
    """A SQL_ASCII database (no encoding checks on input), read through a UTF-8 client as agencies do."""
    base = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"{base.database}_ascii"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(
            sa.text(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
        )
    request.addfinalizer(lambda: _drop(admin, name))
    engine = sa.create_engine(base.set(database=name, query={"client_encoding": "utf8"}))
    metadata.create_all(engine)
    request.addfinalizer(engine.dispose)
    return engine


def _drop(admin, name):
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def spoil_postgres(engine, ajid: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE tj_ajxx SET sqr_xm = convert_from(:b, 'SQL_ASCII') WHERE ajid = :id"),
            {"b": GBK_NAME, "id": ajid},
        )


def mariadb_source(tmp_path, request) -> sa.Engine:
    """MariaDB turns invalid bytes in a utf8mb4 column into '?' on write; agencies' GBK text then sits in binary
    columns, which the driver hands over as bytes."""
    engine = sa.create_engine(request.getfixturevalue("mariadb_url"))
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE tj_ajxx MODIFY sqr_xm VARBINARY(120)"))
    request.addfinalizer(lambda: (metadata.drop_all(engine), engine.dispose()))
    return engine


def spoil_mariadb(engine, ajid: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE tj_ajxx SET sqr_xm = :b WHERE ajid = :id"), {"b": GBK_NAME, "id": ajid})


DATABASES = {
    "sqlite": (sqlite_source, spoil_sqlite),
    "postgresql": (postgres_source, spoil_postgres),
    "mariadb": (mariadb_source, spoil_mariadb),
}


@pytest.mark.parametrize(
    "database",
    ["sqlite", pytest.param("postgresql", marks=needs_postgres), pytest.param("mariadb", marks=needs_mariadb)],
)
@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-reads"])
async def test_one_undecodable_cell_costs_one_dead_letter(database, workers, tmp_path, request, make_harness, prefix):
    make, spoil = DATABASES[database]
    engine = make(tmp_path, request)
    insert(engine, *[row(i, T0 + dt.timedelta(seconds=i)) for i in range(1, 7)])
    spoil(engine, 3)
    h = make_harness(engine, batch_size=100)
    c = await h.connector(workers=workers)
    assert await c.poll() == 6
    assert sorted(int(e["source"]["record_id"]) for e in await h.events()) == [1, 2, 4, 5, 6]
    letters = await h.events(f"{prefix}casehub.deadletter")
    assert [(d["record_id"], d["field"], d["error_kind"]) for d in letters] == [("3", "sqr_xm", "BAD_ENCODING")]
    assert "d5 c5 c8 fd" in letters[0]["reason"]  # the stored bytes, for the agency to find
    assert await c.poll() == 0  # reported once, not on every poll
