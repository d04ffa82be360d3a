"""What one source row becomes: the canonical event (deterministic id, references, parties, claims) and the
full identities it carries; and the event that reports a row deleted at the source. Pure."""

from __future__ import annotations

import datetime as dt
import hashlib

from casehub.connectors.base import Mapped
from casehub.connectors.mapping import RELATED, Mapping
from casehub.connectors.values import RowContext
from casehub.domain.identities import Protector
from casehub.domain.references import normalise_number


def event_id(system: str, record_id: str, version: str) -> str:
    """Deterministic event id: the same row version always gives the same id, so re-reads are recognised."""
    digest = hashlib.sha256(f"{system}\x1f{record_id}\x1f{version}".encode()).hexdigest()[:24]
    return f"{system}:{record_id}:{digest}"


def record_id_for(key_columns: tuple[str, ...], row: dict) -> str:
    """The text record id of a row: its key, or for a composite key the parts joined by "|" ("|" and "\\"
    inside a part escaped with a backslash, so two different keys never give the same id)."""
    if len(key_columns) == 1:
        return str(row[key_columns[0]])
    return "|".join(str(row[c]).replace("\\", "\\\\").replace("|", "\\|") for c in key_columns)


def map_with(mapping: Mapping, protector: Protector, row: dict, ingested_at: dt.datetime) -> Mapped:
    """Turn one row into an event and the identities it carries. Pure (the hook must be too).

    Raises:
        MappingError: the first problem, naming the column and the dead-letter error kind.
    """
    ctx = RowContext(mapping, row)
    plan = mapping.plan  # the readers, decided when the mapping was loaded
    # a status-history row reports a change of its case row: its events are that record's (`record` in the
    # mapping), so the main row and its history reporting one change give one event id
    record_id = str(row[mapping.record_column]) if mapping.record_column else record_id_for(mapping.key_columns, row)
    version = str(row[mapping.cursor])
    source = {
        "system": mapping.system,
        "agency_kind": mapping.agency,
        "record_id": record_id,
        "record_version": version,
    }
    event_type = plan["type"](ctx, "event type")  # both marked required when the file was loaded
    occurred = plan["occurred_at"](ctx, "occurred_at")
    refs = []
    for kind, system, read, label, search in plan["refs"]:
        number = read(ctx, label)
        if not number:
            continue
        found = [m.group(m.re.groups and 1) for m in search.finditer(number)] if search is not None else [number]
        for text in dict.fromkeys(found):  # each number once, in the order written
            refs.append({"kind": kind, "system": system, "number": text, "normalised": normalise_number(text)})
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
        claims.append(
            {
                "type": ctype,
                "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None,
                "description": read_description(ctx, "") if read_description else None,
            }
        )
    read_group, read_count = plan["group_dispute"], plan["worker_count"]
    group = bool(read_group(ctx, "")) if read_group else False
    worker_count = read_count(ctx, "") if read_count else None
    event = {
        "event_id": event_id(mapping.system, record_id, version),
        "event_type": event_type,
        "source": source,
        "occurred_at": occurred,
        "ingested_at": ingested_at,
        "refs": refs,
        "parties": parties,
        "claims": claims,
        "documents": [],
        # 10 or more workers with a common claim make a group dispute (art 7)
        "group_dispute": group or (worker_count is not None and worker_count >= 10),
        "worker_count": worker_count,
    }
    for key, read in plan["fields"]:
        event[key] = read(ctx, key)
    if mapping.hook:
        mapping.hook(ctx, event)
    return Mapped(event=event, identities=identities)


def deleted_event(adapter, record_id: str, state: dict, now: dt.datetime) -> dict:
    """The event reporting that a published row is gone from the source; it carries the refs the row had.

    It happened when the connector first found the row gone (`gone_at` in the row state, recorded before
    the event is published), so an event published again after a crash is the same event.
    """
    version = state.get("v", "")
    occurred = dt.datetime.fromisoformat(state["gone_at"]) if state.get("gone_at") else now
    return {
        "event_id": event_id(adapter.system, record_id, f"deleted|{version}"),
        "event_type": "SOURCE_RECORD_DELETED",
        "source": {
            "system": adapter.system,
            "agency_kind": adapter.agency,
            "record_id": record_id,
            "record_version": f"deleted|{version}",
        },
        "occurred_at": occurred,
        "ingested_at": now,
        "refs": state.get("refs", []),
        "parties": [],
        "claims": [],
        "documents": [],
        "group_dispute": False,
        "worker_count": None,
    }
