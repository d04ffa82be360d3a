"""The Avro contract: loads schemas/avro/*.avsc (one named type per file) once, and maps topics to record types."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import fastavro

from casehub.ground.topics import TOPIC_RECORDS as _TOPIC_RECORDS

AVRO_DIR = Path(__file__).resolve().parent / "avro"

# Base topic name (before any CASEHUB_TOPIC_PREFIX) -> the record type its values carry: from the topic table.
TOPIC_RECORDS: dict[str, str] = dict(_TOPIC_RECORDS)


class ContractError(Exception):
    """A schema file is missing, is not JSON, or references a type defined nowhere."""


@dataclass(frozen=True)
class Contract:
    """All named types of the contract: raw JSON by full name, parsed (fastavro) and self-contained forms."""

    raw: dict[str, dict]
    parsed: dict[str, object]
    named: dict[str, dict]

    def expanded(self, name: str) -> dict:
        """A self-contained schema (all referenced named types inlined at first use), as registries want it."""
        return _inline(copy.deepcopy(self.raw[name]), self.raw, set())

    def expanded_json(self, name: str) -> str:
        return json.dumps(self.expanded(name), ensure_ascii=False, separators=(",", ":"))

    def record_for_topic(self, topic: str, prefix: str = "") -> str:
        base = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
        try:
            return TOPIC_RECORDS[base]
        except KeyError as exc:
            raise ContractError(f"no record type is mapped to topic {topic!r} (base name {base!r})") from exc


def _inline(schema, raw: dict, seen: set):
    if isinstance(schema, str):
        if schema in raw and schema not in seen:
            seen.add(schema)
            return _inline(copy.deepcopy(raw[schema]), raw, seen)
        return schema
    if isinstance(schema, list):
        return [_inline(s, raw, seen) for s in schema]
    if isinstance(schema, dict):
        t = schema.get("type")
        if t in ("record", "enum", "fixed"):
            seen.add(_full(schema))
        if t == "record":
            for f in schema.get("fields", []):
                f["type"] = _inline(f["type"], raw, seen)
        elif t == "array":
            schema["items"] = _inline(schema["items"], raw, seen)
        elif t == "map":
            schema["values"] = _inline(schema["values"], raw, seen)
        elif isinstance(t, (dict, list)) or (isinstance(t, str) and t in raw):
            schema["type"] = _inline(t, raw, seen)
    return schema


def _full(schema: dict) -> str:
    name = schema["name"]
    return name if "." in name else f"{schema.get('namespace', '')}.{name}".lstrip(".")


def load_contract(directory: Path = AVRO_DIR) -> Contract:
    """Read and parse every .avsc in `directory`, resolving references between files.

    Raises:
        ContractError: unreadable file, or references that never resolve (the names are listed).
    """
    raw: dict[str, dict] = {}
    for path in sorted(Path(directory).glob("*.avsc")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ContractError(f"{path}: not valid JSON: {exc}") from exc
        raw[_full(schema)] = schema
    named: dict[str, dict] = {}
    parsed: dict[str, object] = {}
    pending = dict(raw)
    while pending:
        progress = False
        errors = {}
        for name, schema in list(pending.items()):
            try:
                parsed[name] = fastavro.parse_schema(copy.deepcopy(schema), named_schemas=named)
            except fastavro.schema.UnknownType as exc:
                errors[name] = str(exc)
                continue
            except Exception as exc:
                raise ContractError(f"{name}: invalid Avro schema: {exc}") from exc
            del pending[name]
            progress = True
        if not progress:
            raise ContractError("unresolved references: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    return Contract(raw=raw, parsed=parsed, named=named)


@lru_cache(maxsize=1)
def default_contract() -> Contract:
    """The contract shipped in schemas/avro, parsed once per process."""
    return load_contract(AVRO_DIR)
