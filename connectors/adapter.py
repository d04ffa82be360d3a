"""An agency adapter made from a mapping file: what the polling connector, push intake and file import all use."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from casehub.connectors.base import Mapped
from casehub.connectors.events import map_with, record_id_for
from casehub.connectors.mapping import RELATED, Mapping
from casehub.domain.identities import Protector, mask_id, mask_phone


def cursor_indexed(engine: sa.Engine, table: str, cursor: str) -> bool:
    """True when an index or the primary key starts with the cursor column (or the database will not say)."""
    try:
        inspector = sa.inspect(engine)
        leading = [ix["column_names"][0] for ix in inspector.get_indexes(table) if ix.get("column_names")]
        pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
    except (sa.exc.SQLAlchemyError, NotImplementedError):
        return True  # a dialect that cannot list indexes: do not cry wolf
    return cursor in leading or (pk[:1] == [cursor])


def query_source(engine: sa.Engine, query: str, name: str, path) -> sa.Subquery:
    """A mapping's SELECT as a derived table the connector filters, orders and pages like a table.

    Its columns are learnt by running it once with a false condition (no rows read).
    """
    text = sa.text(query.strip().rstrip(";"))
    try:
        with engine.connect() as conn:
            columns = list(
                conn.execute(
                    sa.select(sa.literal_column("*")).select_from(text.columns().subquery("probe")).where(sa.false())
                ).keys()
            )
    except sa.exc.DBAPIError as exc:
        raise LookupError(f"{name}: the mapping's query cannot run: {exc.orig} (mapping {path})") from exc
    return text.columns(*(sa.column(c) for c in columns)).subquery("source")


class MappedAdapter:
    """Adapter protocol (connectors.base.Adapter) over a declarative mapping.

    The table is reflected from the database on `bind`, so a vendor's schema needs no Python definition.
    """

    def __init__(self, mapping: Mapping, protector: Protector):
        self.mapping, self.protector = mapping, protector
        self.name, self.system, self.agency = mapping.name, mapping.system, mapping.agency
        self.pk, self.cursor = mapping.primary_key, mapping.cursor  # pk: the key's column(s) as written, for messages
        self.key_columns = mapping.key_columns
        self.table: sa.Table | None = None
        self.related: dict[str, sa.Table] = {}

    # -- keys: one column, or several (a composite primary key) ------------------------------------
    def key_of(self, row: dict):
        """The row's key as the driver returned it: a value, or a tuple of values for a composite key."""
        if len(self.key_columns) == 1:
            return row[self.key_columns[0]]
        return tuple(row[c] for c in self.key_columns)

    def record_id(self, row: dict) -> str:
        return record_id_for(self.key_columns, row)

    def record_id_of_key(self, key) -> str:
        """The record id of a key as `key_of` gives it."""
        if len(self.key_columns) == 1:
            return str(key)
        return record_id_for(self.key_columns, dict(zip(self.key_columns, key)))

    def key_expression(self):
        """The key as a SQL expression (a column, or a row value for a composite key)."""
        cols = [self.table.c[c] for c in self.key_columns]
        return cols[0] if len(cols) == 1 else sa.tuple_(*cols)

    def key_literal(self, key):
        return sa.tuple_(*key) if len(self.key_columns) > 1 else key

    def key_order(self) -> list:
        return [self.table.c[c] for c in self.key_columns]

    def bind(self, engine: sa.Engine) -> MappedAdapter:
        """Reflect the source table; raises a clear error when it is missing."""
        if self.mapping.query:
            self.table = query_source(engine, self.mapping.query, self.name, self.mapping.path)
        else:
            try:
                self.table = sa.Table(self.mapping.table, sa.MetaData(), autoload_with=engine)
            except sa.exc.NoSuchTableError as exc:
                raise LookupError(
                    f"{self.name}: table {self.mapping.table!r} not found in "
                    f"{engine.url.render_as_string(hide_password=True)} "
                    f"(mapping {self.mapping.path})"
                ) from exc
        for rel in self.mapping.related:
            try:
                self.related[rel["name"]] = sa.Table(rel["table"], sa.MetaData(), autoload_with=engine)
            except sa.exc.NoSuchTableError as exc:
                raise LookupError(
                    f"{self.name}: related table {rel['table']!r} not found (mapping {self.mapping.path})"
                ) from exc
        for column in (*self.key_columns, self.cursor):
            if column not in self.table.c:
                raise LookupError(
                    f"{self.name}: column {column!r} not in table {self.mapping.table} (mapping {self.mapping.path}); "
                    f"columns: {', '.join(self.table.c.keys())}"
                )
        # a query's plan is the database's business: no index advice for it
        self.cursor_indexed = True if self.mapping.query else cursor_indexed(engine, self.mapping.table, self.cursor)
        return self

    def index_advice(self) -> str | None:
        """What to ask the agency's DBA for when no index starts with the cursor column (None when one does)."""
        if getattr(self, "cursor_indexed", True):
            return None
        return (
            f"{self.name}: no index on {self.mapping.table}({self.cursor}): every batch the connector reads sorts "
            "the whole table, "
            f"so a snapshot slows down as the table grows; ask for CREATE INDEX ... ON {self.mapping.table} "
            f"({self.cursor}, {self.pk})"
        )

    def attach_related(self, conn: sa.Connection, rows: list[dict]) -> list[dict]:
        """Read the child rows of `rows` (one query per related table) and attach them under RELATED.

        A change only in a child table is seen when the parent row's cursor moves.
        """
        if not self.mapping.related or not rows:
            return rows
        # children belong to the row's record: its key, or the record column of a status-history mapping
        pk = self.mapping.record_column or self.key_columns[0]
        keys = [r[pk] for r in rows]
        for rel in self.mapping.related:
            table = self.related[rel["name"]]
            fk = table.c[rel["foreign_key"]]
            children: dict = {}
            order = list(table.primary_key.columns) or [fk]
            for child in conn.execute(sa.select(table).where(fk.in_(keys)).order_by(*order)):
                child = dict(child._mapping)
                children.setdefault(child[rel["foreign_key"]], []).append(child)
            for r in rows:
                r.setdefault(RELATED, {})[rel["name"]] = children.get(r[pk], [])
        return rows

    def cursor_value(self, raw, now: dt.datetime | None):
        """The cursor as a comparable value of the cursor type, or None when it is missing, malformed, or
        more than a day in the future (a typo must not move the watermark past every real change)."""
        if raw is None:
            return None
        kind = self.mapping.cursor_type
        try:
            if kind == "text_time":
                text = str(raw)
                moment = dt.datetime.strptime(text, self.mapping.cursor_format).replace(
                    tzinfo=ZoneInfo(self.mapping.timezone)
                )
                value = text
            elif kind == "iso_text":
                text = str(raw)
                moment = dt.datetime.fromisoformat(text)
                moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.mapping.timezone))
                value = text
            elif kind == "epoch_ms":
                value = int(raw)
                moment = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
            elif kind == "native":
                value = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
                moment = value if value.tzinfo else value.replace(tzinfo=ZoneInfo(self.mapping.timezone))
            else:  # an increasing integer
                return int(raw)
        except (ValueError, TypeError, OverflowError, OSError):
            return None
        if now is not None and moment - now > dt.timedelta(days=1):
            return None
        return value

    def window_start(self, watermark, lag_seconds: float):
        """The cursor value `lag_seconds` before the watermark, in the form the column stores."""
        kind = self.mapping.cursor_type
        if kind == "text_time":
            fmt = self.mapping.cursor_format
            return (dt.datetime.strptime(watermark, fmt) - dt.timedelta(seconds=lag_seconds)).strftime(fmt)
        if kind == "iso_text":
            # ISO-8601 text with a fixed offset sorts as text; keep the separator the source writes
            sep = watermark[10] if len(watermark) > 10 else "T"
            return (dt.datetime.fromisoformat(watermark) - dt.timedelta(seconds=lag_seconds)).isoformat(sep=sep)
        if kind == "epoch_ms":
            return int(watermark) - int(lag_seconds * 1000)
        if kind == "native":
            return watermark - dt.timedelta(seconds=lag_seconds)
        return watermark  # an increasing id has no time: reconciliation covers rows that commit late

    def describe(self, row: dict) -> str:
        """The row as text for dead letters and dry runs, with identity columns masked."""
        shown = {}
        for key, value in row.items():
            if key == RELATED:
                continue
            if isinstance(value, (bytes, bytearray, memoryview)):
                value = bytes(value).decode(self.mapping.encoding, errors="replace")
            if value and key in self.mapping.phone_columns:
                value = mask_phone(str(value))
            elif value and key in self.mapping.sensitive:
                value = mask_id(str(value))
            shown[key] = value
        return repr(shown)

    def map_row(self, row: dict, ingested_at: dt.datetime) -> Mapped:
        return map_with(self.mapping, self.protector, row, ingested_at)
