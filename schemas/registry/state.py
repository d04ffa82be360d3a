"""Registry state (subjects, versions, ids, compatibility config) as plain data, and the rules that fold
records into it: shared by the Kafka-backed store and the in-memory registry."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import avro.schema
import fastavro

from casehub.schemas.compat import Incompatibility, check_compatibility, check_level

# Nesting of JSON (objects and arrays) a schema or request body may have. casehub's own schemas nest 12 deep; the
# parsers and the compatibility check recurse once or more per level, so a limit keeps a hostile schema (hundreds of
# records inside each other) a 422 instead of a RecursionError.
MAX_DEPTH = 100
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class RegistryError(Exception):
    """An error with a Confluent error code and HTTP status."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_kind(value) -> str:
    """How a JSON value is called in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a number")


def check_depth(text: str, what: str, limit: int = MAX_DEPTH) -> None:
    """Raise a 422 when the JSON in `text` nests objects and arrays deeper than `limit` (strings are skipped)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                raise RegistryError(
                    422, 42201, f"Invalid {what}: JSON nested more than {limit} levels deep (casehub's schemas need 12)"
                )


def normalise(schema_str) -> str:
    """Whitespace-free JSON form of a schema: the identity of a schema text (docs and defaults kept).

    Raises:
        RegistryError: 422 naming what is wrong: not a string, not JSON, nested too deep, or not a valid Avro schema.
    """
    if not isinstance(schema_str, str):
        raise RegistryError(
            422,
            42201,
            f"Invalid schema: 'schema' must be a string holding the schema's JSON text, not {json_kind(schema_str)} "
            '(e.g. {"schema": "{\\"type\\": \\"string\\"}"})',
        )
    check_depth(schema_str, "schema")
    try:
        parsed = json.loads(schema_str)
    except (ValueError, RecursionError) as exc:
        raise RegistryError(422, 42201, f"Invalid schema: not JSON ({exc})") from exc
    try:
        fastavro.parse_schema(parsed, _write_hint=False)
        # fastavro is lenient (a record without "fields" passes); the Apache implementation is the judge.
        avro.schema.parse(schema_str)
    except RecursionError as exc:
        raise RegistryError(422, 42201, "Invalid schema: nested too deeply to parse") from exc
    except Exception as exc:  # both libraries raise several types for a bad schema
        raise RegistryError(422, 42201, f"Invalid schema: {exc}") from exc
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)


def mutual_problems(a: str, b: str) -> list[Incompatibility]:
    """Problems reading data of either normalised schema with the other (FULL compatibility of the pair)."""
    left, right = json.loads(a), json.loads(b)
    return check_compatibility(left, right) + check_compatibility(right, left)


def normalise_typed(schema_str: str, schema_type: str | None = "AVRO") -> str:
    """`normalise` for a registration, which may name its schema type (only Avro is served)."""
    if schema_type not in ("AVRO", None):
        raise RegistryError(422, 42201, f"Invalid schema: only AVRO schemas are supported, not {schema_type!r}")
    return normalise(schema_str)


@dataclass
class Version:
    subject: str
    version: int
    id: int
    schema: str
    deleted: bool = False


@dataclass
class RegistryState:
    """Pure in-memory state; `apply` folds one topic record into it."""

    subjects: dict[str, list[Version]] = field(default_factory=dict)
    schemas: dict[int, str] = field(default_factory=dict)
    ids_by_schema: dict[str, int] = field(default_factory=dict)
    global_level: str = "BACKWARD"
    subject_levels: dict[str, str] = field(default_factory=dict)

    def apply(self, key: dict, value: dict | None) -> None:
        if key.get("keytype") == "SCHEMA":
            if value is None:
                return
            v = Version(
                value["subject"],
                int(value["version"]),
                int(value["id"]),
                value["schema"],
                bool(value.get("deleted", False)),
            )
            versions = self.subjects.setdefault(v.subject, [])
            versions[:] = [x for x in versions if x.version != v.version] + [v]
            versions.sort(key=lambda x: x.version)
            self.schemas[v.id] = v.schema
            self.ids_by_schema.setdefault(v.schema, v.id)
        elif key.get("keytype") == "CONFIG":
            subject = key.get("subject")
            level = (value or {}).get("compatibilityLevel")
            if subject:
                if level:
                    self.subject_levels[subject] = level
                else:
                    self.subject_levels.pop(subject, None)
            elif level:
                self.global_level = level

    def live(self, subject: str) -> list[Version]:
        return [v for v in self.subjects.get(subject, []) if not v.deleted]

    def level(self, subject: str | None) -> str:
        return self.subject_levels.get(subject, self.global_level) if subject else self.global_level

    def find(self, subject: str, norm: str) -> Version | None:
        return next((v for v in self.live(subject) if v.schema == norm), None)

    def problems(self, subject: str, norm: str, against: list[Version] | None = None) -> list[Incompatibility]:
        previous = [json.loads(v.schema) for v in (against if against is not None else self.live(subject))]
        return check_level(self.level(subject), json.loads(norm), previous)

    def registration(self, subject: str, norm: str) -> tuple[int, tuple[dict, dict] | None]:
        """What registering `norm` under `subject` means: (its id, the record to write, or None when the
        subject already has it).

        Raises:
            RegistryError: 409 when the schema is incompatible with the subject's versions at its level.
        """
        existing = self.find(subject, norm)
        if existing:
            return existing.id, None
        problems = self.problems(subject, norm)
        if problems:
            raise RegistryError(
                409,
                409,
                f'Schema being registered is incompatible with an earlier schema for subject "{subject}" '
                f"({self.level(subject)}): " + "; ".join(map(str, problems)),
            )
        schema_id = self.ids_by_schema.get(norm) or (max(self.schemas, default=0) + 1)
        version = max((v.version for v in self.subjects.get(subject, [])), default=0) + 1
        key = {"keytype": "SCHEMA", "subject": subject, "version": version}
        return schema_id, (
            key,
            {
                "subject": subject,
                "version": version,
                "id": schema_id,
                "schema": norm,
                "schemaType": "AVRO",
                "deleted": False,
            },
        )
