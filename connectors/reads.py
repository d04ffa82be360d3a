"""Reading rows from a source database: plain dicts, by key in IN lists, with their related tables' rows.

A text cell the driver cannot decode (GBK bytes in a SQLite TEXT column; invalid UTF-8 in a PostgreSQL
SQL_ASCII database) makes the driver fail the whole read. Such a read is done again with the text
columns fetched as bytes: cells that are valid UTF-8 become text as before, the others stay bytes, which
the mapping decodes with the source's declared encoding or dead-letters as BAD_ENCODING naming the column.
One bad cell costs one dead letter, not the batch.
"""

from __future__ import annotations

import sqlalchemy as sa


def as_dicts(result: sa.CursorResult) -> list[dict]:
    """Rows as plain dicts (a third faster than dict(row._mapping) per row)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, r)) for r in result.fetchall()]


def fetch_rows(adapter, conn: sa.Connection, query: sa.Select) -> list[dict]:
    """The rows of `query` (a select of the adapter's table) as dicts; undecodable text cells come back as bytes."""
    try:
        return as_dicts(conn.execute(query))
    except (sa.exc.DBAPIError, UnicodeDecodeError) as exc:
        if not undecodable_text(exc):
            raise
    conn.rollback()  # PostgreSQL refuses further statements in a transaction that failed
    raw, names = raw_query(adapter, conn, query)
    return decode_raw(as_dicts(conn.execute(raw)), names)


def scan_rows(adapter, conn: sa.Connection, query: sa.Select, size: int = 5000):
    """The rows of `query` in lists of about `size`, streamed (a server-side cursor where the driver has one),
    so that a whole table never sits in memory; undecodable text cells come back as bytes (as in fetch_rows).

    A decoding failure restarts the scan from the start with text read as bytes: the caller must accept
    rows it has already had again (a scan that builds a dict by key does).
    """
    try:
        yield from _scan(conn, query, size, ())
        return
    except (sa.exc.DBAPIError, UnicodeDecodeError) as exc:
        if not undecodable_text(exc):
            raise
    conn.rollback()
    raw, names = raw_query(adapter, conn, query)
    yield from _scan(conn, raw, size, names)


def _scan(conn: sa.Connection, query, size: int, names):
    result = conn.execution_options(yield_per=size).execute(query)
    keys = tuple(result.keys())
    for part in result.partitions():
        rows = [dict(zip(keys, r)) for r in part]
        yield decode_raw(rows, names) if names else rows


def raw_query(adapter, conn: sa.Connection, query: sa.Select) -> tuple[sa.Select, list[str]]:
    """`query` with its text columns read as bytes, and the names of those columns."""
    raw = raw_text_columns(adapter, conn.dialect.name)
    names = [name for name, column in raw.items() if column is not adapter.table.c[name]]
    return query.with_only_columns(*raw.values()), names


def decode_raw(rows: list[dict], names: list[str]) -> list[dict]:
    """Text read as bytes made text again where it is valid UTF-8 (what the driver would have given)."""
    for row in rows:
        for name in names:
            value = row[name]
            if value is not None:
                try:
                    row[name] = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    row[name] = bytes(value)  # the mapping decodes it with the declared encoding, or dead-letters it
    return rows


_DECODE_FAILURES = ("Could not decode to UTF-8", "invalid byte sequence for encoding")
_DECODE_SQLSTATES = ("22021", "22P05")  # character_not_in_repertoire, untranslatable_character


def undecodable_text(exc: BaseException) -> bool:
    """True when a read failed because a text cell is not valid in the connection's encoding."""
    if isinstance(exc, UnicodeDecodeError):
        return True
    orig = getattr(exc, "orig", None)
    if isinstance(orig, UnicodeDecodeError) or getattr(orig, "sqlstate", None) in _DECODE_SQLSTATES:
        return True
    return any(text in str(orig) for text in _DECODE_FAILURES)


def raw_text_columns(adapter, dialect: str) -> dict:
    """Column name -> the column, or for a text column other than the key and the cursor, its bytes.

    The key and the cursor stay text: the connector orders and compares them.
    """
    keep = {*adapter.key_columns, adapter.cursor}
    out = {}
    for column in adapter.table.c:
        # only declared text columns: a query source's untyped columns keep their types (a number read as
        # bytes would become text and change the row's digest between reads)
        if column.name in keep or not isinstance(column.type, sa.String):
            out[column.name] = column
        elif dialect == "postgresql":
            # the stored bytes, unconverted (a cast to bytea would parse backslashes as escapes)
            out[column.name] = sa.func.convert_to(sa.cast(column, sa.Text), "SQL_ASCII").label(column.name)
        else:
            out[column.name] = sa.cast(column, sa.LargeBinary).label(column.name)  # SQLite BLOB, MySQL BINARY
    return out


def rows_by_key(adapter, conn: sa.Connection, keys: list, chunk: int = 1000) -> list[dict]:
    """The rows (with their related rows) whose primary key is in `keys`; IN lists of at most `chunk`
    keys, the lowest limit among the databases we target (Oracle-compatible ones allow 1,000)."""
    t, rows, key = adapter.table, [], adapter.key_expression()
    for i in range(0, len(keys), chunk):
        rows += fetch_rows(adapter, conn, sa.select(t).where(key.in_(keys[i : i + chunk])))
    return with_related(adapter, conn, rows)


def with_related(adapter, conn: sa.Connection, rows: list[dict]) -> list[dict]:
    """The rows with their related tables' rows attached, for adapters that have related tables."""
    attach = getattr(adapter, "attach_related", None)
    return attach(conn, rows) if attach else rows
