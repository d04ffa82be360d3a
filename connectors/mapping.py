"""Declarative agency mappings (TOML): load and check a mapping file.

A mapping says where the rows are (table, primary key, cursor), how each event field is computed from
columns (value specs: text, time, date, amount, code, bool, int, const; casehub.connectors.values), who
the parties are (casehub.connectors.parties), and optionally names a Python hook for what a table of
columns cannot say. See connectors/mappings/*.toml and docs/CONNECTORS.md. What a row becomes is
casehub.connectors.events.
"""

from __future__ import annotations

import codecs
import importlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from casehub.connectors.parties import PARTY_ATTRIBUTES, PARTY_VALUES, RESTRICTED, compile_party, normalise_party
from casehub.connectors.values import VALUE_TYPES, as_spec, column_of, compile_spec

BUILTIN_DIR = Path(__file__).resolve().parent / "mappings"

RELATED = "_related"  # key under which a row carries its child rows (never a column name)

AGENCIES = {"MEDIATION", "ARBITRATION", "COURT", "INSPECTION", "NEGOTIATION"}

CURSOR_TYPES = {"text_time", "iso_text", "epoch_ms", "native", "int"}


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
    query: str | None = (
        None  # a SELECT read like a table, instead of `table` (e.g. a join the agency will not make a view of)
    )
    record_column: str | None = None  # events belong to this column's record (a status-history row to its case row)
    deletes: str = "report"  # report | ignore: whether a row gone from the source becomes SOURCE_RECORD_DELETED

    def __post_init__(self):
        if not self.key_columns:
            object.__setattr__(self, "key_columns", (self.primary_key,))
        # Every value spec gets its compiled reader now, so mapping a row calls readers directly,
        # and every party its mapper, with what does not depend on the row decided here.
        for spec in self.specs():
            if "_read" not in spec:
                spec["_read"] = compile_spec(spec)
        object.__setattr__(self, "party_mappers", tuple(compile_party(p) for p in self.parties))
        object.__setattr__(
            self,
            "related_mappers",
            tuple((rel["name"], tuple(compile_party(p) for p in rel["parties"])) for rel in self.related),
        )
        reader = lambda spec: spec["_read"] if spec is not None else None  # noqa: E731
        object.__setattr__(
            self,
            "plan",
            {
                "type": self.event["type"]["_read"],
                "occurred_at": self.event["occurred_at"]["_read"],
                "group_dispute": reader(self.event.get("group_dispute")),
                "worker_count": reader(self.event.get("worker_count")),
                "refs": tuple(
                    (
                        r["kind"],
                        r.get("system", self.system),
                        r["number"]["_read"],
                        f"{r['kind']} reference",
                        r.get("_search"),
                    )
                    for r in self.refs
                ),
                "claims": tuple(
                    (reader(c.get("type")), reader(c.get("amount")), reader(c.get("description"))) for c in self.claims
                ),
                "fields": tuple((key, spec["_read"]) for key, spec in self.fields.items()),
            },
        )

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


def _party_specs(path: Path, where: str, party: dict, codes: dict) -> None:
    """Check the value specs of one party (its attributes are not specs); an unknown key is an error, not ignored."""
    for key, spec in party.items():
        if key in PARTY_ATTRIBUTES:
            continue
        if key not in PARTY_VALUES:
            known = ", ".join((*PARTY_ATTRIBUTES, *PARTY_VALUES))
            raise MappingFileError(f"{path}: {where}: unknown key {key!r}; a party knows {known}")
        _spec(path, f"{where}.{key}", spec, codes)


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
        raise MappingFileError(
            f"{path}: [source] needs either `table` or `query` (a SELECT whose result is read like a table)"
        )
    if src.get("query") and not str(src["query"]).lstrip().lower().startswith(("select", "with")):
        raise MappingFileError(
            f"{path}: [source] query must be a SELECT (or WITH ... SELECT); the connector only reads"
        )
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
        _party_specs(path, f"parties[{i}]", party, codes)
    for i, claim in enumerate(doc.get("claims", [])):
        for key, spec in claim.items():
            _spec(path, f"claims[{i}].{key}", spec, codes)
    for key, spec in doc.get("fields", {}).items():
        _spec(path, f"fields.{key}", spec, codes)
    hook = None
    if src.get("hook"):
        module, _, func = src["hook"].partition(":")
        if module.split(".")[0] in ("connectors", "streams", "sinks", "schemas"):
            module = "casehub." + module  # mapping files written before casehub installed as one package
        try:
            hook = getattr(importlib.import_module(module), func or "extra")
        except (ImportError, AttributeError) as exc:
            raise MappingFileError(f"{path}: [source] hook {src['hook']!r} cannot be loaded: {exc}") from exc
    try:
        ZoneInfo(src.get("timezone", "Asia/Shanghai"))
    except Exception as exc:
        raise MappingFileError(f"{path}: [source] unknown timezone {src.get('timezone')!r}") from exc
    # Specs in one form (inline tables), decided once here rather than for every row.
    event = {k: as_spec(v) for k, v in event.items()}
    event["type"]["required"] = event["occurred_at"]["required"] = True
    refs = []
    for i, ref in enumerate(doc.get("refs", [])):
        number = as_spec(ref["number"])
        number.setdefault("required", ref.get("required", False))
        entry = {**ref, "number": number}
        if "search" in ref:
            # a reference written inside free text (remarks): every match of the pattern is one reference
            try:
                entry["_search"] = re.compile(ref["search"])
            except (re.error, TypeError) as exc:
                raise MappingFileError(f"{path}: refs[{i}].search: not a regular expression: {exc}") from exc
            if entry["_search"].groups > 1:
                raise MappingFileError(
                    f"{path}: refs[{i}].search: at most one group (the number), not {entry['_search'].groups}"
                )
        refs.append(entry)
    record_column = src.get("record")
    if record_column is not None and (not isinstance(record_column, str) or not record_column):
        raise MappingFileError(f"{path}: [source] record must be a column name (the record the rows' events belong to)")
    deletes = src.get("deletes", "report")
    if deletes not in ("report", "ignore"):
        raise MappingFileError(f"{path}: [source] deletes must be report or ignore, not {deletes!r}")
    parties = [normalise_party(party) for party in doc.get("parties", [])]
    claims = [{k: as_spec(v) for k, v in claim.items()} for claim in doc.get("claims", [])]
    fields = {k: as_spec(v) for k, v in doc.get("fields", {}).items()}
    related = []
    for i, rel in enumerate(doc.get("related", [])):
        for key in ("name", "table", "foreign_key"):
            if not rel.get(key):
                raise MappingFileError(f"{path}: related[{i}] needs `{key}`")
        rel_parties = []
        for j, party in enumerate(rel.get("parties", [])):
            _party_specs(path, f"related[{i}].parties[{j}]", party, codes)
            rel_parties.append(normalise_party(party))
        if len(key_columns) > 1 and not record_column:
            raise MappingFileError(
                f"{path}: related[{i}]: related tables need a single-column primary key on [source] (or `record`)"
            )
        related.append(
            {"name": rel["name"], "table": rel["table"], "foreign_key": rel["foreign_key"], "parties": rel_parties}
        )
    # Identity (and address) columns are always masked when a row is shown, listed in `sensitive` or not.
    all_parties = [*doc.get("parties", []), *(p for rel in doc.get("related", []) for p in rel.get("parties", []))]
    id_columns = {column_of(p["id_number"]) for p in all_parties if "id_number" in p}
    phone_columns = frozenset(column_of(p["phone"]) for p in all_parties if "phone" in p)
    restricted = {column_of(p[k]) for p in all_parties for k in RESTRICTED if k in p}
    sensitive = tuple(sorted(set(src.get("sensitive", [])) | id_columns | phone_columns | restricted))
    return Mapping(
        path=path,
        name=src["name"],
        system=src["system"],
        agency=src["agency"],
        database=src.get("database", src["name"]),
        table=src.get("table") or f"(query of {src['name']})",
        query=src.get("query"),
        primary_key=",".join(key_columns),
        key_columns=key_columns,
        cursor=src["cursor"],
        cursor_type=cursor_type,
        cursor_format=src.get("cursor_format"),
        timezone=src.get("timezone", "Asia/Shanghai"),
        encoding=text_encoding(path, src.get("encoding", "utf-8")),
        sensitive=sensitive,
        phone_columns=phone_columns,
        event=event,
        refs=tuple(refs),
        parties=tuple(parties),
        claims=tuple(claims),
        codes=codes,
        fields=fields,
        hook=hook,
        url=src.get("url"),
        related=tuple(related),
        record_column=record_column,
        deletes=deletes,
    )


# GB 18030 is the mandatory national standard and a superset of GBK and GB 2312: agency systems that say
# "GBK" store GB 18030 (e.g. 䶮, bytes C1 F5 FE 9F in a name), which a GBK decoder refuses.
_SUPERSEDED_BY_GB18030 = {"gbk", "gb2312"}  # codecs.lookup names (cp936 is gbk)


def text_encoding(path: Path, name: str) -> str:
    """The codec that decodes text declared in `name`: GBK and GB 2312 are read as GB 18030.

    Raises:
        MappingFileError: an encoding Python does not know.
    """
    try:
        canonical = codecs.lookup(name).name
    except LookupError as exc:
        raise MappingFileError(f"{path}: [source] unknown encoding {name!r}") from exc
    return "gb18030" if canonical in _SUPERSEDED_BY_GB18030 else canonical


def available_mappings(mapping_dir: Path | str | None = None) -> dict[str, Mapping]:
    """The built-in mappings plus those in `mapping_dir` (CASEHUB_MAPPING_DIR), which win on a name clash."""
    found = builtin_mappings()
    if mapping_dir:
        for path in sorted(Path(mapping_dir).glob("*.toml")):
            m = load_mapping(path)
            found[m.name] = m
    return found


def builtin_mappings() -> dict[str, Mapping]:
    """The reference adapters shipped with casehub, by connector name."""
    return {m.name: m for m in (load_mapping(p) for p in sorted(BUILTIN_DIR.glob("*.toml")))}
