"""An agency adapter made from a mapping file: what the polling connector, push intake and file import all use."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from connectors.base import Mapped
from connectors.mapping import Mapping, map_with
from connectors.privacy import Protector, mask_id


class MappedAdapter:
    """Adapter protocol (connectors.base.Adapter) over a declarative mapping.

    The table is reflected from the database on `bind`, so a vendor's schema needs no Python definition.
    """

    def __init__(self, mapping: Mapping, protector: Protector):
        self.mapping, self.protector = mapping, protector
        self.name, self.system, self.agency = mapping.name, mapping.system, mapping.agency
        self.pk, self.cursor = mapping.primary_key, mapping.cursor
        self.table: sa.Table | None = None

    def bind(self, engine: sa.Engine) -> "MappedAdapter":
        """Reflect the source table; raises a clear error when it is missing."""
        try:
            self.table = sa.Table(self.mapping.table, sa.MetaData(), autoload_with=engine)
        except sa.exc.NoSuchTableError as exc:
            raise LookupError(f"{self.name}: table {self.mapping.table!r} not found in {engine.url.render_as_string(hide_password=True)} "
                              f"(mapping {self.mapping.path})") from exc
        for column in (self.pk, self.cursor):
            if column not in self.table.c:
                raise LookupError(f"{self.name}: column {column!r} not in table {self.mapping.table} (mapping {self.mapping.path}); "
                                  f"columns: {', '.join(self.table.c.keys())}")
        return self

    def window_start(self, watermark, lag_seconds: float):
        kind = self.mapping.cursor_type
        if kind == "text_time":
            fmt = self.mapping.cursor_format
            return (dt.datetime.strptime(watermark, fmt) - dt.timedelta(seconds=lag_seconds)).strftime(fmt)
        if kind == "iso_text":
            # ISO-8601 text with a fixed offset sorts as text; step back in the same form
            return (dt.datetime.fromisoformat(watermark) - dt.timedelta(seconds=lag_seconds)).isoformat()
        if kind == "epoch_ms":
            return int(watermark) - int(lag_seconds * 1000)
        if kind == "native" and isinstance(watermark, dt.datetime):
            return watermark - dt.timedelta(seconds=lag_seconds)
        if kind == "native" and isinstance(watermark, str):
            return (dt.datetime.fromisoformat(watermark) - dt.timedelta(seconds=lag_seconds)).isoformat()
        return watermark  # an increasing id has no time: rows cannot commit late "behind" it by time; reconciliation covers it

    def describe(self, row: dict) -> str:
        """The row as text for dead letters and dry runs, with the mapping's sensitive columns masked."""
        shown = {}
        for key, value in row.items():
            if isinstance(value, (bytes, bytearray, memoryview)):
                value = bytes(value).decode(self.mapping.encoding, errors="replace")
            if key in self.mapping.sensitive and value:
                value = mask_id(str(value))
            shown[key] = value
        return repr(shown)

    def map_row(self, row: dict, ingested_at: dt.datetime) -> Mapped:
        return map_with(self.mapping, self.protector, row, ingested_at)
