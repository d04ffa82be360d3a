"""The case view in SQL (SQLAlchemy 2.x Core): SQLite by default, PostgreSQL (or MySQL/MariaDB) in production.

Upserts are idempotent: a case row only moves to a newer version, and each timeline event is stored once.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(40), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("status", sa.String(80), nullable=False),
    sa.Column("merged_into", sa.String(40)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("group_dispute", sa.Boolean, nullable=False, default=False),
    sa.Column("migrant_worker", sa.Boolean, nullable=False, default=False),
    sa.Column("mediated_before_arbitration", sa.Boolean, nullable=False, default=False),
    sa.Column("record", sa.Text, nullable=False),  # the whole CaseRecord as JSON
)
case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("case_id", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("agency_kind", sa.String(20), nullable=False),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source_system", sa.String(100), nullable=False),
    sa.Column("record_id", sa.String(200), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)
case_refs = sa.Table(
    "case_refs",
    metadata,
    sa.Column("case_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("system", sa.String(100), primary_key=True),
    sa.Column("number", sa.String(200), primary_key=True),
)


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def record_json(case: dict) -> str:
    return json.dumps(case, ensure_ascii=False, default=_json_default, sort_keys=True)


def rows_for(case: dict) -> tuple[dict, list[dict], list[dict]]:
    """Pure: the rows one CaseRecord becomes (case row, timeline rows, reference rows)."""
    head = {
        "case_id": case["case_id"],
        "version": case["version"],
        "stage": case["stage"],
        "status": case["status"],
        "merged_into": case.get("merged_into"),
        "created_at": case["created_at"],
        "updated_at": case["updated_at"],
        "group_dispute": bool(case.get("group_dispute")),
        "migrant_worker": bool(case.get("migrant_worker")),
        "mediated_before_arbitration": bool(case.get("mediated_before_arbitration")),
        "record": record_json(case),
    }
    events = [
        {
            "case_id": case["case_id"],
            "event_id": e["event_id"],
            "agency_kind": e["agency_kind"],
            "event_type": e["event_type"],
            "occurred_at": e["occurred_at"],
            "source_system": e["source"]["system"],
            "record_id": e["source"]["record_id"],
            "summary": e["summary"],
        }
        for e in case.get("timeline", [])
    ]
    refs = [
        {"case_id": case["case_id"], "kind": r["kind"], "system": r["system"], "number": r["number"]}
        for r in case.get("refs", [])
    ]
    return head, events, refs


def create_engine(url: str) -> sa.Engine:
    """Engine for the case view; creates the SQLite folder and the tables when missing."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_conn, _):  # readers (the web view) and the writer (the sink) work side by side
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=10000")

    try:
        metadata.create_all(engine)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        # the sink and the web view start together: the other one may have created the tables in between
        if "already exists" not in str(exc.orig):
            raise
        metadata.create_all(engine)
    return engine


def _insert(dialect: str, table: sa.Table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert
    else:
        raise NotImplementedError(
            f"case view upserts are written for sqlite, postgresql and mysql/mariadb, not {dialect}"
        )
    return insert(table)


def upsert_cases(conn: sa.Connection, records: list[dict]) -> int:
    """Write case records idempotently in one transaction (the caller's); returns how many case rows changed."""
    dialect = conn.dialect.name
    # Within a batch keep the newest version of each case only.
    newest: dict[str, dict] = {}
    for case in records:
        if case["case_id"] not in newest or case["version"] >= newest[case["case_id"]]["version"]:
            newest[case["case_id"]] = case
    changed = 0
    for case in newest.values():
        head, events, refs = rows_for(case)
        if dialect in ("mysql", "mariadb"):
            # MySQL has no conditional upsert: take the row only when it is newer.
            existing = conn.execute(
                sa.select(cases.c.version).where(cases.c.case_id == case["case_id"])
            ).scalar_one_or_none()
            if existing is None:
                conn.execute(cases.insert().values(**head))
            elif existing <= case["version"]:
                conn.execute(cases.update().where(cases.c.case_id == case["case_id"]).values(**head))
            else:
                continue
            taken = True
        else:
            ins = _insert(dialect, cases).values(**head)
            update = {c: ins.excluded[c] for c in head if c != "case_id"}
            result = conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[cases.c.case_id], set_=update, where=cases.c.version <= ins.excluded.version
                ).returning(cases.c.case_id)
            )
            # the row comes back only when it was inserted or updated (rowcount is not that on every driver)
            taken = result.first() is not None
        if not taken:
            continue  # an older version than the stored one: nothing of it is written
        changed += 1
        # the record's timeline and references are the whole truth of this version: a record moved to another
        # case (a merge, a split) leaves this one; a redirect keeps none
        conn.execute(case_events.delete().where(case_events.c.case_id == case["case_id"]))
        conn.execute(case_refs.delete().where(case_refs.c.case_id == case["case_id"]))
        if events:
            conn.execute(_ignore(dialect, case_events, events))
        if refs:
            conn.execute(_ignore(dialect, case_refs, refs))
    return changed


def _ignore(dialect: str, table: sa.Table, rows: list[dict]):
    stmt = _insert(dialect, table).values(rows)
    if dialect in ("mysql", "mariadb"):
        return stmt.prefix_with("IGNORE")
    return stmt.on_conflict_do_nothing()


def load_case(conn: sa.Connection, case_id: str) -> dict | None:
    row = conn.execute(sa.select(cases.c.record).where(cases.c.case_id == case_id)).scalar_one_or_none()
    return json.loads(row) if row else None


def live_records(engine: sa.Engine) -> dict[str, dict]:
    """Every case record in the view that is not a redirect, by case id (JSON-decoded)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(cases.c.case_id, cases.c.record).where(cases.c.merged_into.is_(None))).all()
    return {case_id: json.loads(record) for case_id, record in rows}
