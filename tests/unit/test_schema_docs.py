"""schemas/SCHEMAS.md's event-type tables list exactly the symbols of the .avsc enums, in order, with their
meanings (item 15 of issue 10: the tables had drifted from what court.toml emits)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EVENT_TYPES = ["MediationEventType", "ArbitrationEventType", "CourtEventType", "InspectionEventType"]


def table_of(enum: str) -> list[tuple[str, str]]:
    """(symbol, meaning) rows of the table under the heading of `enum` in SCHEMAS.md."""
    text = (SCHEMAS / "SCHEMAS.md").read_text(encoding="utf-8")
    match = re.search(rf"#### `cn\.casehub\.{enum}`[^\n]*\n\n((?:\|[^\n]*\n?)+)", text)
    assert match, f"SCHEMAS.md has no table for cn.casehub.{enum}"
    rows = match.group(1).strip().splitlines()[2:]  # past the header and its rule
    return [(m.group(1), m.group(2).strip()) for m in (re.match(r"\| `(\w+)` \| (.*?) \|", r) for r in rows) if m]


@pytest.mark.parametrize("enum", EVENT_TYPES)
def test_event_type_tables_match_the_schemas(enum):
    schema = json.loads((SCHEMAS / "avro" / f"cn.casehub.{enum}.avsc").read_text(encoding="utf-8"))
    rows = table_of(enum)
    assert [s for s, _ in rows] == schema["symbols"], f"SCHEMAS.md's {enum} table differs from the .avsc symbols"
    for symbol, meaning in rows:
        assert f"{symbol}: {meaning}" in schema["doc"], f"{enum}.{symbol}: meaning differs from the enum's doc"


def test_every_code_a_mapping_emits_is_in_the_tables():
    from casehub.connectors.mapping import builtin_mappings

    for mapping in builtin_mappings().values():
        enum = {"NEGOTIATION": "MEDIATION"}.get(mapping.agency, mapping.agency).title() + "EventType"
        documented = {s for s, _ in table_of(enum)}
        emitted = set(mapping.codes[mapping.event["type"]["codes"]].values())
        assert emitted <= documented, f"{mapping.path.name} emits {sorted(emitted - documented)} not in SCHEMAS.md"
