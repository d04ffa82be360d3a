"""Declarative agency mappings (TOML): load and check a mapping file, and turn one source row into a canonical event.

A mapping says where the rows are (table, primary key, cursor), how each event field is computed from
columns (value specs: text, time, date, amount, code, bool, int, const), and optionally names a Python
hook for what a table of columns cannot say. See connectors/mappings/*.toml and docs/CONNECTORS.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from connectors.base import Mapped, MappingError, event_id, record_id_for
from connectors.privacy import InvalidIdentifier, Protector, credit_code_status
from streams.cases import normalise_number

BUILTIN_DIR = Path(__file__).resolve().parent / "mappings"
RELATED = "_related"  # key under which a row carries its child rows (never a column name)
AGENCIES = {"MEDIATION", "ARBITRATION", "COURT", "INSPECTION", "NEGOTIATION"}
DEFAULT_TRUE = ("1", "Y", "y", "true", "True", "是")
VALUE_TYPES = {"text", "time", "date", "amount", "code", "bool", "int"}
CURSOR_TYPES = {"text_time", "iso_text", "epoch_ms", "native", "int"}
PARTY_ATTRIBUTES = ("role", "party_type", "required")  # keys of a party that are not value specs


class MappingFileError(ValueError):
    """A mapping file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Mapping:
    path: Path
    name: str
    system: str
    agency: str
    database: str
    table: str
    primary_key: str
    cursor: str
    cursor_type: str
    cursor_format: str | None
    timezone: str
    encoding: str
    sensitive: tuple[str, ...]
    event: dict
    refs: tuple[dict, ...]
    parties: tuple[dict, ...]
    claims: tuple[dict, ...]
    codes: dict[str, dict[str, str]]
    fields: dict
    hook: Callable | None = field(default=None, compare=False)
    url: str | None = None
    phone_columns: frozenset = frozenset()
    related: tuple[dict, ...] = ()  # child tables read with each row (e.g. the workers of a group dispute)
    key_columns: tuple[str, ...] = ()  # the primary key's columns (one, or several for a composite key)
    query: str | None = None  # a SELECT read like a table, instead of `table` (e.g. a join the agency will not make a view of)

    def __post_init__(self):
        if not self.key_columns:
            object.__setattr__(self, "key_columns", (self.primary_key,))
        # Every value spec gets its compiled reader now, so mapping a row calls readers directly,
        # and every party its mapper, with what does not depend on the row decided here.
        for spec in self.specs():
            if "_read" not in spec:
                spec["_read"] = compile_spec(spec)
        object.__setattr__(self, "party_mappers", tuple(compile_party(p) for p in self.parties))
        object.__setattr__(self, "related_mappers", tuple((rel["name"], tuple(compile_party(p) for p in rel["parties"])) for rel in self.related))
        reader = lambda spec: spec["_read"] if spec is not None else None  # noqa: E731
        object.__setattr__(self, "plan", {
            "type": self.event["type"]["_read"], "occurred_at": self.event["occurred_at"]["_read"],
            "group_dispute": reader(self.event.get("group_dispute")), "worker_count": reader(self.event.get("worker_count")),
            "refs": tuple((r["kind"], r.get("system", self.system), r["number"]["_read"], f"{r['kind']} reference") for r in self.refs),
            "claims": tuple((reader(c.get("type")), reader(c.get("amount")), reader(c.get("description"))) for c in self.claims),
            "fields": tuple((key, spec["_read"]) for key, spec in self.fields.items()),
        })

    def specs(self):
        """Every value spec of the mapping (inline tables)."""
        yield from self.event.values()
        for ref in self.refs:
            yield ref["number"]
        for party in (*self.parties, *(p for rel in self.related for p in rel["parties"])):
            yield from (v for k, v in party.items() if k not in PARTY_ATTRIBUTES)
        for claim in self.claims:
            yield from claim.values()
        yield from self.fields.values()


def _spec(path: Path, where: str, spec: Any, codes: dict) -> None:
    if isinstance(spec, str):
        return
    if not isinstance(spec, dict):
        raise MappingFileError(f"{path}: {where}: expected a column name or an inline table, got {spec!r}")
    if "const" in spec:
        return
    if "column" not in spec:
        raise MappingFileError(f"{path}: {where}: needs `column` (or `const`)")
    kind = spec.get("type", "text")
    if kind not in VALUE_TYPES:
        raise MappingFileError(f"{path}: {where}: unknown type {kind!r}; one of {sorted(VALUE_TYPES)}")
    if kind == "code" and spec.get("codes") not in codes:
        raise MappingFileError(f"{path}: {where}: code table {spec.get('codes')!r} is not defined under [codes]")
    if kind == "amount" and spec.get("unit", "yuan") not in ("yuan", "fen"):
        raise MappingFileError(f"{path}: {where}: unit must be yuan or fen")


def load_mapping(path: Path | str) -> Mapping:
    """Read and check a mapping file.

    Raises:
        MappingFileError: what is wrong, naming the file and the key.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingFileError(f"{path}: {exc}") from exc
    src = doc.get("source", {})
    for key in ("name", "system", "agency", "primary_key", "cursor"):
        if not src.get(key):
            raise MappingFileError(f"{path}: [source] needs `{key}`")
    if bool(src.get("table")) == bool(src.get("query")):
        raise MappingFileError(f"{path}: [source] needs either `table` or `query` (a SELECT whose result is read like a table)")
    if src.get("query") and not str(src["query"]).lstrip().lower().startswith(("select", "with")):
        raise MappingFileError(f"{path}: [source] query must be a SELECT (or WITH ... SELECT); the connector only reads")
    # primary_key: a column, or a list of columns for a composite key
    key_columns = tuple(src["primary_key"]) if isinstance(src["primary_key"], list) else (src["primary_key"],)
    if not all(isinstance(c, str) and c for c in key_columns) or len(set(key_columns)) != len(key_columns):
        raise MappingFileError(f"{path}: [source] primary_key must be a column name or a list of distinct column names")
    if src["cursor"] in key_columns and len(key_columns) > 1:
        raise MappingFileError(f"{path}: [source] the cursor cannot be part of a composite primary key")
    if src["agency"] not in AGENCIES:
        raise MappingFileError(f"{path}: [source] agency {src['agency']!r} is not one of {sorted(AGENCIES)}")
    cursor_type = src.get("cursor_type", "native")
    if cursor_type not in CURSOR_TYPES:
        raise MappingFileError(f"{path}: [source] cursor_type {cursor_type!r} is not one of {sorted(CURSOR_TYPES)}")
    if cursor_type == "text_time" and not src.get("cursor_format"):
        raise MappingFileError(f"{path}: [source] cursor_type text_time needs cursor_format (e.g. %Y-%m-%d %H:%M:%S)")
    codes = {k: {str(c): v for c, v in table.items()} for k, table in doc.get("codes", {}).items()}
    event = doc.get("event", {})
    for key in ("type", "occurred_at"):
        if key not in event:
            raise MappingFileError(f"{path}: [event] needs `{key}`")
    for key, spec in event.items():
        _spec(path, f"event.{key}", spec, codes)
    for i, ref in enumerate(doc.get("refs", [])):
        _spec(path, f"refs[{i}].number", ref.get("number"), codes)
    for i, party in enumerate(doc.get("parties", [])):
        for key, spec in party.items():
            if key not in ("role", "party_type", "required"):
                _spec(path, f"parties[{i}].{key}", spec, codes)
    for i, claim in enumerate(doc.get("claims", [])):
        for key, spec in claim.items():
            _spec(path, f"claims[{i}].{key}", spec, codes)
    for key, spec in doc.get("fields", {}).items():
        _spec(path, f"fields.{key}", spec, codes)
    hook = None
    if src.get("hook"):
        module, _, func = src["hook"].partition(":")
        try:
            hook = getattr(importlib.import_module(module), func or "extra")
        except (ImportError, AttributeError) as exc:
            raise MappingFileError(f"{path}: [source] hook {src['hook']!r} cannot be loaded: {exc}") from exc
    try:
        ZoneInfo(src.get("timezone", "Asia/Shanghai"))
    except Exception as exc:
        raise MappingFileError(f"{path}: [source] unknown timezone {src.get('timezone')!r}") from exc
    # Specs in one form (inline tables), decided once here rather than for every row.
    event = {k: _normalise(v) for k, v in event.items()}
    event["type"]["required"] = event["occurred_at"]["required"] = True
    refs = []
    for ref in doc.get("refs", []):
        number = _normalise(ref["number"])
        number.setdefault("required", ref.get("required", False))
        refs.append({**ref, "number": number})
    parties = []
    for party in doc.get("parties", []):
        norm = {k: (_normalise(v) if k not in ("role", "party_type", "required") else v) for k, v in party.items()}
        for flag in ("migrant_worker", "dispatched_worker", "new_employment_form"):
            if flag in norm:
                norm[flag].setdefault("type", "bool")
                norm[flag]["_true"] = frozenset(str(t) for t in norm[flag].get("true", DEFAULT_TRUE))
        parties.append(norm)
    claims = [{k: _normalise(v) for k, v in claim.items()} for claim in doc.get("claims", [])]
    fields = {k: _normalise(v) for k, v in doc.get("fields", {}).items()}
    related = []
    for i, rel in enumerate(doc.get("related", [])):
        for key in ("name", "table", "foreign_key"):
            if not rel.get(key):
                raise MappingFileError(f"{path}: related[{i}] needs `{key}`")
        rel_parties = []
        for j, party in enumerate(rel.get("parties", [])):
            for key, spec in party.items():
                if key not in ("role", "party_type", "required"):
                    _spec(path, f"related[{i}].parties[{j}].{key}", spec, codes)
            rel_parties.append({k: (_normalise(v) if k not in ("role", "party_type", "required") else v) for k, v in party.items()})
        if len(key_columns) > 1:
            raise MappingFileError(f"{path}: related[{i}]: related tables need a single-column primary key on [source]")
        related.append({"name": rel["name"], "table": rel["table"], "foreign_key": rel["foreign_key"], "parties": rel_parties})
    # Identity columns are always masked when a row is shown, listed in `sensitive` or not.
    all_parties = [*doc.get("parties", []), *(p for rel in doc.get("related", []) for p in rel.get("parties", []))]
    id_columns = {_column(p["id_number"]) for p in all_parties if "id_number" in p}
    phone_columns = frozenset(_column(p["phone"]) for p in all_parties if "phone" in p)
    sensitive = tuple(sorted(set(src.get("sensitive", [])) | id_columns | phone_columns))
    return Mapping(
        path=path, name=src["name"], system=src["system"], agency=src["agency"], database=src.get("database", src["name"]),
        table=src.get("table") or f"(query of {src['name']})", query=src.get("query"), primary_key=",".join(key_columns), key_columns=key_columns, cursor=src["cursor"], cursor_type=cursor_type,
        cursor_format=src.get("cursor_format"), timezone=src.get("timezone", "Asia/Shanghai"), encoding=src.get("encoding", "utf-8"),
        sensitive=sensitive, phone_columns=phone_columns, event=event, refs=tuple(refs), parties=tuple(parties),
        claims=tuple(claims), codes=codes, fields=fields, hook=hook, url=src.get("url"), related=tuple(related),
    )


def builtin_mappings() -> dict[str, Mapping]:
    """The reference adapters shipped with casehub, by connector name."""
    return {m.name: m for m in (load_mapping(p) for p in sorted(BUILTIN_DIR.glob("*.toml")))}


class RowContext:
    """Evaluates value specs against one row; every failure is a MappingError naming the column.

    Each spec is compiled once into a reader (see `compile_spec`) that is kept in the spec itself, so a
    row costs one call per value rather than a walk through the spec's options.
    """

    __slots__ = ("mapping", "row", "tz")

    def __init__(self, mapping: Mapping, row: dict):
        self.mapping, self.row = mapping, row
        self.tz = _zone(mapping.timezone)

    def text(self, column: str) -> str | None:
        if column not in self.row:
            raise MappingError(column, f"column {column!r} is not in table {self.mapping.table}", "MISSING_FIELD")
        value = self.row[column]
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            try:
                value = bytes(value).decode(self.mapping.encoding)
            except UnicodeDecodeError as exc:
                raise MappingError(column, f"text is not valid {self.mapping.encoding}: {exc.reason} at byte {exc.start}", "BAD_ENCODING") from exc
        value = str(value).strip()
        if "\ufffd" in value:
            raise MappingError(column, "text contains U+FFFD replacement characters: it was decoded with the wrong encoding upstream", "BAD_ENCODING")
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


@functools.lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@functools.lru_cache(maxsize=4096)
def _column_reader(column: str):
    return compile_spec({"column": column})


_TEXTLIKE = (str, bytes, bytearray, memoryview)
_CONVERSION_ERRORS = (ValueError, TypeError, decimal.InvalidOperation, OverflowError)
_UTC = dt.timezone.utc


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
            raise MappingError(column, f"column {column!r} is not in table {ctx.mapping.table}", "MISSING_FIELD") from None
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
            return raw
        try:
            return convert(ctx, raw)
        except MappingError:
            raise
        except _CONVERSION_ERRORS as exc:
            error_kind = "BAD_DATE" if kind in ("time", "date") else "OTHER"
            secret = column in ctx.mapping.sensitive  # never repeat an identity in an error
            shown, detail = ("the value", "") if secret else (repr(raw), f": {exc}")
            raise MappingError(column, f"cannot read {shown} as {kind}{' (' + spec['format'] + ')' if spec.get('format') else ''}{detail}", error_kind) from exc

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
                raise MappingError(column, f"unknown code {shown} in code table {name} (known: {', '.join(sorted(table))})", "UNKNOWN_CODE") from None
        return code
    if kind == "amount":
        if spec.get("unit", "yuan") == "fen":
            return lambda ctx, raw: int(raw)
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


_DAY_OFFSETS: dict[Any, dict[str, dt.timedelta | None]] = {}  # time zone -> local day -> its UTC offset (None: it changes that day)


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


_HUNDRED, _ONE = decimal.Decimal(100), decimal.Decimal(1)


def yuan_to_fen(raw) -> int:
    """An amount in yuan ("12,345.6") as integer fen, rounded half to even beyond two decimals.

    Plain amounts with at most two decimals are read with integer arithmetic (exact, and a third of the
    cost of decimal); anything else (signs, exponents, more decimals, non-ASCII digits) goes through
    decimal.Decimal, which also raises for text that is not a number.
    """
    text = (raw if type(raw) is str else str(raw)).replace(",", "")
    whole, _, cents = text.partition(".")
    # at most 18 digits: far inside decimal's 28-digit context, so both paths agree (beyond it decimal raises)
    if len(cents) <= 2 and len(whole) <= 18 and whole.isascii() and whole.isdigit() and (not cents or (cents.isascii() and cents.isdigit())):
        return int(whole) * 100 + (int(cents) * (10 if len(cents) == 1 else 1) if cents else 0)
    return int((decimal.Decimal(text) * _HUNDRED).quantize(_ONE))


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
                offset = _day_offset(ctx.tz, raw[:10])  # ValueError for forms whose first ten characters are no date (week dates)
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


def map_with(mapping: Mapping, protector: Protector, row: dict, ingested_at: dt.datetime) -> Mapped:
    """Turn one row into an event and the identities it carries. Pure (the hook must be too).

    Raises:
        MappingError: the first problem, naming the column and the dead-letter error kind.
    """
    ctx = RowContext(mapping, row)
    plan = mapping.plan  # the readers, decided when the mapping was loaded
    record_id = record_id_for(mapping.key_columns, row)
    version = str(row[mapping.cursor])
    source = {"system": mapping.system, "agency_kind": mapping.agency, "record_id": record_id, "record_version": version}
    event_type = plan["type"](ctx, "event type")  # both marked required when the file was loaded
    occurred = plan["occurred_at"](ctx, "occurred_at")
    refs = []
    for kind, system, read, label in plan["refs"]:
        number = read(ctx, label)
        if number:
            refs.append({"kind": kind, "system": system, "number": number, "normalised": normalise_number(number)})
    parties, identities = [], []
    for map_party in mapping.party_mappers:
        party, identity = map_party(ctx, protector, source, ingested_at)
        if party:
            parties.append(party)
        if identity:
            identities.append(identity)
    for name, mappers in mapping.related_mappers:
        for child in row.get(RELATED, {}).get(name, []):
            child_ctx = RowContext(mapping, child)
            for map_party in mappers:
                party, identity = map_party(child_ctx, protector, source, ingested_at)
                # the representative is often also on the main row: keep one party per identity
                if party and not (party.get("id_hash") and any(p.get("id_hash") == party["id_hash"] for p in parties)):
                    parties.append(party)
                    if identity:
                        identities.append(identity)
    claims = []
    for read_type, read_amount, read_description in plan["claims"]:
        ctype = read_type(ctx, "") if read_type else "OTHER"
        if not ctype:
            continue
        fen = read_amount(ctx, "") if read_amount else None
        claims.append({"type": ctype, "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None,
                       "description": read_description(ctx, "") if read_description else None})
    read_group, read_count = plan["group_dispute"], plan["worker_count"]
    group = bool(read_group(ctx, "")) if read_group else False
    worker_count = read_count(ctx, "") if read_count else None
    event = {
        "event_id": event_id(mapping.system, record_id, version), "event_type": event_type, "source": source,
        "occurred_at": occurred, "ingested_at": ingested_at, "refs": refs, "parties": parties, "claims": claims, "documents": [],
        # 10 or more workers with a common claim make a group dispute (art 7)
        "group_dispute": group or (worker_count is not None and worker_count >= 10),
        "worker_count": worker_count,
    }
    for key, read in plan["fields"]:
        event[key] = read(ctx, key)
    if mapping.hook:
        mapping.hook(ctx, event)
    return Mapped(event=event, identities=identities)


def _normalise(spec) -> dict:
    """A value spec as an inline table (a copy); bool specs get their set of true values precomputed."""
    spec = {"column": spec} if isinstance(spec, str) else dict(spec)
    if spec.get("type") == "bool":
        spec["_true"] = frozenset(str(t) for t in spec.get("true", DEFAULT_TRUE))
    return spec


def _as_spec(spec) -> dict:
    return {"column": spec} if isinstance(spec, str) else dict(spec)


def compile_party(spec: dict) -> Callable[[RowContext, Protector, dict, dt.datetime], tuple[dict | None, dict | None]]:
    """Turn a party spec into `map(ctx, protector, source, now) -> (party, identity)`; what the spec
    holds (which attributes, their readers and columns) is looked up once here, not for every row."""
    role, party_type, required = spec.get("role", "UNKNOWN"), spec.get("party_type", "UNKNOWN"), spec.get("required")
    label = f"{spec.get('role', 'party')} name"
    read_name = spec["name"]["_read"] if "name" in spec else None
    name_column = _column(spec["name"]) if "name" in spec else None
    flags = tuple((flag, spec[flag]["_read"]) for flag in ("migrant_worker", "dispatched_worker", "new_employment_form") if flag in spec)
    read_kind = spec["new_employment_kind"]["_read"] if "new_employment_kind" in spec else None
    read_id, id_column = (spec["id_number"]["_read"], _column(spec["id_number"])) if "id_number" in spec else (None, None)
    read_phone = spec["phone"]["_read"] if "phone" in spec else None
    read_credit, credit_column = (spec["credit_code"]["_read"], _column(spec["credit_code"])) if "credit_code" in spec else (None, None)
    read_division = spec["division_code"]["_read"] if "division_code" in spec else None

    def map_party(ctx: RowContext, protector: Protector, source: dict, now: dt.datetime):
        name = read_name(ctx, label) if read_name else None
        if not name:
            if required:
                raise MappingError(name_column, f"{label} is required but empty", "MISSING_FIELD")
            return None, None
        party = {"role": role, "party_type": party_type, "name": name}
        for flag, read in flags:
            party[flag] = bool(read(ctx, ""))
        if read_kind:
            party["new_employment_kind"] = read_kind(ctx, "") or "NONE"
        identity = None
        if read_id:
            raw = read_id(ctx, "")
            if raw:
                try:
                    number, id_hash, masked = protector.id_number(raw, id_column)
                except InvalidIdentifier as exc:
                    raise MappingError(id_column, exc.reason, "INVALID_ID_NUMBER") from exc
                party["id_hash"], party["id_masked"] = id_hash, masked
                identity = {"id_hash": id_hash, "party_type": party_type, "name": name, "id_number": number, "source": source, "recorded_at": now}
        if read_phone:
            raw = read_phone(ctx, "")
            if raw:
                phone, phone_hash, phone_masked = protector.phone(raw)
                party["phone_hash"], party["phone_masked"] = phone_hash, phone_masked
                if identity:
                    identity["phone_hash"], identity["phone"] = phone_hash, phone
        if read_credit:
            raw = read_credit(ctx, "")
            if raw:
                try:
                    code, valid = credit_code_status(raw)
                except InvalidIdentifier as exc:
                    raise MappingError(credit_column, exc.reason, "INVALID_CREDIT_CODE") from exc
                party["credit_code"], party["credit_code_valid"], party["division_code"] = code, valid, code[2:8]
        if read_division:
            party["division_code"] = read_division(ctx, "") or party.get("division_code")
        return party, identity
    return map_party


def _column(spec) -> str:
    return spec if isinstance(spec, str) else spec.get("column", "?")
