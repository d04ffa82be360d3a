"""Reading rows from a source database: plain dicts, by key in IN lists, with their related tables' rows."""

from __future__ import annotations

import sqlalchemy as sa


def as_dicts(result: sa.CursorResult) -> list[dict]:
    """Rows as plain dicts (a third faster than dict(row._mapping) per row)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, r)) for r in result.fetchall()]


def rows_by_key(adapter, conn: sa.Connection, keys: list, chunk: int = 1000) -> list[dict]:
    """The rows (with their related rows) whose primary key is in `keys`; IN lists of at most `chunk`
    keys, the lowest limit among the databases we target (Oracle-compatible ones allow 1,000)."""
    t, rows, key = adapter.table, [], adapter.key_expression()
    for i in range(0, len(keys), chunk):
        rows += as_dicts(conn.execute(sa.select(t).where(key.in_(keys[i : i + chunk]))))
    return with_related(adapter, conn, rows)


def with_related(adapter, conn: sa.Connection, rows: list[dict]) -> list[dict]:
    """The rows with their related tables' rows attached, for adapters that have related tables."""
    attach = getattr(adapter, "attach_related", None)
    return attach(conn, rows) if attach else rows
