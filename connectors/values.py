"""Value specs of a mapping (text, time, date, amount, code, bool, int, const) compiled into readers of one row.

Every failure is a MappingError naming the column; identity columns are never repeated in a reason.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from casehub.connectors.base import MappingError

DEFAULT_TRUE = ("1", "Y", "y", "true", "True", "是")

VALUE_TYPES = {"text", "time", "date", "amount", "code", "bool", "int"}


class RowContext:
    """Evaluates value specs against one row; every failure is a MappingError naming the column.

    Each spec is compiled once into a reader (see `compile_spec`) that is kept in the spec itself, so a
    row costs one call per value rather than a walk through the spec's options.
    """

    __slots__ = ("mapping", "row", "tz")

    def __init__(self, mapping, row: dict):  # a casehub.connectors.mapping.Mapping
        self.mapping, self.row = mapping, row
        self.tz = _zone(mapping.timezone)

    def text(self, column: str) -> str | None:
        try:
            value = self.row[column]  # a pushed record answers None for a column it does not carry
        except KeyError:
            raise MappingError(
                column, f"column {column!r} is not in table {self.mapping.table}", "MISSING_FIELD"
            ) from None
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            try:
                value = bytes(value).decode(self.mapping.encoding)
            except UnicodeDecodeError as exc:
                raw = bytes(value)
                # the bytes themselves, so the agency can find and fix the value (never for an identity column)
                shown = "" if column in self.mapping.sensitive else f"; bytes (hex): {raw[:200].hex(' ')}"
                raise MappingError(
                    column,
                    f"text is not valid {self.mapping.encoding}: {exc.reason} at byte {exc.start}{shown}",
                    "BAD_ENCODING",
                ) from exc
        value = str(value).strip()
        if "\ufffd" in value:
            raise MappingError(
                column,
                "text contains U+FFFD replacement characters: it was decoded with the wrong encoding upstream",
                "BAD_ENCODING",
            )
        return value or None

    def value(self, spec, where: str = ""):
        """The value `spec` (a column name or an inline table) gives for this row."""
        if type(spec) is str:
            read = _column_reader(spec)
        else:
            read = spec.get("_read")
            if read is None:
                read = spec["_read"] = compile_spec(spec)
        return read(self, where)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@functools.lru_cache(maxsize=4096)
def _column_reader(column: str):
    return compile_spec({"column": column})


_TEXTLIKE = (str, bytes, bytearray, memoryview)

_CONVERSION_ERRORS = (ValueError, TypeError, decimal.InvalidOperation, OverflowError)

_UTC = dt.UTC


def compile_spec(spec: dict) -> Callable[[RowContext, str], Any]:
    """Turn a value spec into `read(ctx, where) -> value`, deciding everything that does not depend on the row now.

    The reader raises MappingError naming the column; it reads the mapping's encoding, time zone and code
    tables from the context, so one spec may serve mappings that differ in those.
    """
    if "const" in spec:
        const = spec["const"]
        return lambda ctx, where: const
    column = spec["column"]
    required, default, kind = spec.get("required", False), spec.get("default"), spec.get("type", "text")
    convert = _converter(kind, spec)

    def read(ctx: RowContext, where: str):
        try:
            raw = ctx.row[column]
        except KeyError:
            raise MappingError(
                column, f"column {column!r} is not in table {ctx.mapping.table}", "MISSING_FIELD"
            ) from None
        if type(raw) is str:
            raw = raw.strip()
            if "\ufffd" in raw:
                raw = ctx.text(column)  # raises, with the reason
        elif isinstance(raw, _TEXTLIKE):
            raw = ctx.text(column)  # decoded and stripped; numbers and native times pass as they are
        if raw is None or raw == "":
            if required:
                raise MappingError(column, f"{where or column} is required but the column is empty", "MISSING_FIELD")
            return default
        if convert is None:
            # text: a number or a boolean where text is expected (an INTEGER case-number column, a pushed 1)
            return raw if type(raw) is str else str(raw)
        try:
            return convert(ctx, raw)
        except MappingError:
            raise
        except _CONVERSION_ERRORS as exc:
            error_kind = "BAD_DATE" if kind in ("time", "date") else "OTHER"
            secret = column in ctx.mapping.sensitive  # never repeat an identity in an error
            shown, detail = ("the value", "") if secret else (repr(raw), f": {exc}")
            raise MappingError(
                column,
                f"cannot read {shown} as {kind}{' (' + spec['format'] + ')' if spec.get('format') else ''}{detail}",
                error_kind,
            ) from exc

    return read


def _converter(kind: str, spec: dict):
    """The row-independent part of a value type: `convert(ctx, raw)`, or None for text (kept as read)."""
    if kind == "text":
        return None
    if kind == "int":
        return lambda ctx, raw: int(raw)
    if kind == "bool":
        truths = spec.get("_true") or frozenset(str(t) for t in spec.get("true", DEFAULT_TRUE))
        return lambda ctx, raw: (raw if type(raw) is str else str(raw)) in truths
    if kind == "code":
        name, column = spec["codes"], spec["column"]

        def code(ctx, raw):
            table = ctx.mapping.codes[name]
            try:
                return table[raw if type(raw) is str else str(raw)]
            except KeyError:
                shown = "a value" if column in ctx.mapping.sensitive else repr(str(raw))
                raise MappingError(
                    column,
                    f"unknown code {shown} in code table {name} (known: {', '.join(sorted(table))})",
                    "UNKNOWN_CODE",
                ) from None

        return code
    if kind == "amount":
        if spec.get("unit", "yuan") == "fen":
            return lambda ctx, raw: whole_fen(raw)
        return lambda ctx, raw: yuan_to_fen(raw)
    if kind == "time":
        return _time_converter(spec.get("format", "iso"))
    if kind == "date":
        fmt = spec.get("format", "%Y-%m-%d")

        def date(ctx, raw) -> dt.date:
            if isinstance(raw, dt.date):
                return raw
            if fmt == "%Y-%m-%d" and len(str(raw)) == 10:
                return dt.date.fromisoformat(str(raw))
            return dt.datetime.strptime(str(raw), fmt).date()

        return date
    raise ValueError(f"unknown value type {kind!r}")  # load_mapping refuses these first


_DAY_OFFSETS: dict[
    Any, dict[str, dt.timedelta | None]
] = {}  # time zone -> local day -> its UTC offset (None: it changes that day)


def _day_offset(tz, day: str) -> dt.timedelta | None:
    """The UTC offset of `tz` all through the local day `day` (YYYY-MM-DD), or None on a day the offset changes.

    Converting a local time with the zone costs a microsecond (two datetime copies and a zone lookup);
    on days without a transition, every time shares one offset, so it is looked up once per day.
    """
    days = _DAY_OFFSETS.get(tz)
    if days is None:
        days = _DAY_OFFSETS[tz] = {}
    try:
        return days[day]
    except KeyError:
        pass
    date = dt.date.fromisoformat(day)
    first = dt.datetime.combine(date, dt.time(0, 0), tz).utcoffset()
    last = dt.datetime.combine(date, dt.time(23, 59, 59, 999999), tz).utcoffset()
    if len(days) >= 100_000:  # bounded: a century of days
        days.clear()
    offset = days[day] = first if first == last else None
    return offset


_CENT = decimal.Decimal("0.01")


def yuan_to_fen(raw) -> int:
    """An amount in yuan ("12,345.6") as integer fen, exactly.

    Plain amounts with at most two decimals are read with integer arithmetic (exact, and a third of the
    cost of decimal); anything else (signs, exponents, more decimals, non-ASCII digits) goes through
    decimal.Decimal, which also raises for text that is not a number.

    Raises:
        ValueError: the amount is finer than one fen (12345.678 yuan): it is never rounded silently.
    """
    text = (raw if type(raw) is str else str(raw)).replace(",", "")
    whole, _, cents = text.partition(".")
    # at most 18 digits: far inside decimal's 28-digit context, so both paths agree (beyond it decimal raises)
    if (
        len(cents) <= 2
        and len(whole) <= 18
        and whole.isascii()
        and whole.isdigit()
        and (not cents or (cents.isascii() and cents.isdigit()))
    ):
        return int(whole) * 100 + (int(cents) * (10 if len(cents) == 1 else 1) if cents else 0)
    amount = decimal.Decimal(text)
    if not amount.is_finite():
        raise ValueError(f"{text} is not an amount")
    # quantize is exact or raises (InvalidOperation beyond 28 digits); multiplying by 100 could round
    cents = amount.quantize(_CENT)
    if cents != amount:
        raise ValueError(f"{text} yuan is finer than one fen (分); amounts are kept in whole fen and never rounded")
    sign, digits, _ = cents.as_tuple()  # exponent -2: the digits are the fen
    fen = int("".join(map(str, digits)) or "0")
    return -fen if sign else fen


def whole_fen(raw) -> int:
    """An amount already in fen; a fraction of a fen is refused rather than cut off (int(12.5) would be 12)."""
    if type(raw) is int:
        return raw
    value = decimal.Decimal(raw if isinstance(raw, (str, decimal.Decimal)) else str(raw))
    exact = value.to_integral_value()
    if value != exact:
        raise ValueError(f"{raw} fen is not a whole number of fen; amounts are never rounded")
    return int(exact)


def _time_converter(fmt: str):
    if fmt == "epoch_ms":
        return lambda ctx, raw: dt.datetime.fromtimestamp(int(raw) / 1000, _UTC)
    fast = fmt in ("iso", "%Y-%m-%d %H:%M:%S")  # formats whose "YYYY-MM-DD HH:MM:SS" form takes the shortcut
    fromisoformat = dt.datetime.fromisoformat

    def time(ctx, raw) -> dt.datetime:
        if fast and type(raw) is str and len(raw) == 19:
            # a local time without offset, read as UTC and moved by its day's offset: the same instant
            # the zone gives (any other text, or a day with a transition, takes the general path below)
            try:
                as_utc = fromisoformat(raw + "+00:00")
                offset = _day_offset(
                    ctx.tz, raw[:10]
                )  # ValueError for forms whose first ten characters are no date (week dates)
            except ValueError:
                offset = None
            if offset is not None:
                return as_utc - offset
        if isinstance(raw, dt.datetime):
            value = raw
        elif fmt == "iso":
            value = dt.datetime.fromisoformat(str(raw))
        elif fmt == "%Y-%m-%d %H:%M:%S":
            # fromisoformat reads "YYYY-MM-DD HH:MM:SS" too, at a tenth of strptime's cost
            text = str(raw)
            if len(text) != 19:
                raise ValueError(f"expected {fmt}")
            value = dt.datetime.fromisoformat(text)
        else:
            value = dt.datetime.strptime(str(raw), fmt)
        if value.tzinfo is None:
            value = value.replace(tzinfo=ctx.tz)
        return value.astimezone(_UTC)

    return time


def as_spec(spec) -> dict:
    """A value spec as an inline table (a copy); bool specs get their set of true values precomputed."""
    spec = {"column": spec} if isinstance(spec, str) else dict(spec)
    if spec.get("type") == "bool":
        spec["_true"] = frozenset(str(t) for t in spec.get("true", DEFAULT_TRUE))
    return spec


def column_of(spec) -> str:
    return spec if isinstance(spec, str) else spec.get("column", "?")
