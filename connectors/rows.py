"""Rows to messages: check, map and encode a batch of rows (pure CPU; runs in mapping worker processes too).

A row that cannot be mapped or encoded becomes a dead letter naming the field; the rest of the batch flows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import traceback
from hashlib import blake2b as _blake2b
from pathlib import Path

from casehub.connectors.base import Destinations, MappingError, Outcome, Prepared, Unreadable
from casehub.connectors.events import event_id
from casehub.connectors.mapping import RELATED
from casehub.connectors.rowstate import published_entry
from casehub.domain.identities import identity_key
from casehub.ground.deadletter import dead_letter, letter_message
from casehub.ground.gcpause import gc_paused
from casehub.schemas.codec import EncodeError

MAX_FIELD_CHARS = 4000


def check_row(row: dict, max_chars: int = MAX_FIELD_CHARS) -> None:
    """Checks every adapter gets for free: oversized text fields, cells that could not be read (Unreadable)."""
    for value in row.values():  # the usual row (short text, numbers, nulls) in one pass without names
        if type(value) is str:
            if len(value) > max_chars:
                break
        elif value is not None and type(value) is not int:
            break
    else:
        return
    for name, value in row.items():
        kind = type(value)
        if value is None or kind is int:  # most columns: decided with no isinstance call
            continue
        if kind is Unreadable:
            raise MappingError(name, value.reason, value.kind)
        if kind is str or kind is bytes or isinstance(value, (str, bytes, bytearray)):
            if len(value) > max_chars:
                raise MappingError(name, f"{len(value)} characters, more than the {max_chars} allowed", "OVERSIZED")
        elif kind is dict:  # child rows of related tables
            for children in value.values():
                for child in children:
                    check_row(child, max_chars)


def canonical(value) -> str:
    """A row version as text that does not depend on the driver or the session time zone."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def version_of(adapter, row: dict) -> str:
    return canonical(row[adapter.cursor])


def map_rows(adapter, rows: list[dict], now: dt.datetime) -> list[Outcome]:
    """Pure: map rows, turning every failure into an outcome that names the field. Used by run and --dry-run."""
    out, seen = [], {}
    for row in rows:
        rid, version = adapter.record_id(row), version_of(adapter, row)
        if rid in seen and seen[rid] != version:
            out.append(
                Outcome(
                    rid,
                    version,
                    error=MappingError(
                        adapter.pk,
                        f"primary key {rid} appears twice in one read with different versions",
                        "DUPLICATE_KEY",
                    ),
                )
            )
            continue
        seen[rid] = version
        try:
            check_row(row)
            out.append(Outcome(rid, version, mapped=adapter.map_row(row, now)))
        except MappingError as exc:
            out.append(Outcome(rid, version, error=exc))
        except Exception as exc:  # a hook or a value the mapping did not foresee: one dead letter, not a stuck batch
            out.append(Outcome(rid, version, error=unforeseen(exc)))
    return out


def unforeseen(exc: Exception) -> MappingError:
    """A dead-letter reason for an error the mapping did not foresee: the type and where it was raised.

    The exception's message is left out: it may repeat a value of the row (an identity number).
    """
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno} ({frame.name})" if frame else ""
    return MappingError(None, f"the row could not be mapped: {type(exc).__name__}{where}", "OTHER")


def row_digest(row: dict) -> str:
    """A digest of a row's content (its columns as read, without related rows), kept in the row state.

    It tells a change that kept the cursor value (second- or day-precision update times) from a re-read
    of the same content. The same driver gives the same values however the row is read (a page, by key,
    streamed), so the digest is the same too. 2 us a row: text joined, one BLAKE2b.
    """
    return _blake2b(_SEP.join([str(v) for k, v in row.items() if k != RELATED]).encode(), digest_size=12).hexdigest()


_SEP = "\x1f"


def revised_event_id(system: str, record_id: str, version: str, digest: str) -> str:
    """The id of a row's content that changed while its version (cursor value) did not: a new event."""
    return event_id(system, record_id, f"{version}#{digest}")


def prepare_rows(
    adapter, codec, rows: list[dict], now: dt.datetime, to: Destinations, known: dict[str, str | None] | None = None
) -> list[Prepared]:
    """Map and encode rows (CPU only, no I/O once the codec's schemas are registered): runs in worker processes too.

    Args:
        known: record id -> the digest the row state has, for rows whose version the row state already has
            (None: an entry written before digests). Such a row is left out when its digest is the same,
            recorded without publishing when the entry had none, and published as a new event when its
            content changed. Rows not in `known` are new versions.
    """
    with gc_paused():
        return _prepare_rows(adapter, codec, rows, now, to, known or {})


def _prepare_rows(adapter, codec, rows, now, to: Destinations, known: dict) -> list[Prepared]:
    out, revised = [], {}
    if known:
        fresh = []
        for row in rows:
            rid = adapter.record_id(row)
            if rid not in known:
                fresh.append(row)
                continue
            digest, before = row_digest(row), known[rid]
            if digest == before:
                continue  # a re-read of what was published
            if before is None:  # published before digests: the content is taken as it is now
                out.append(Prepared(rid, version_of(adapter, row), [], None, None, digest))
                continue
            revised[rid] = digest
            fresh.append(row)
        rows = fresh
    for row, outcome in zip(rows, map_rows(adapter, rows, now)):
        rid = outcome.record_id
        digest = revised.get(rid) or row_digest(row)
        if outcome.error is not None:
            exc = outcome.error
            # a bad version is reported once; a corrected row (new version or content) is read again
            out.append(_dead(adapter, codec, to, row, outcome, exc.field, exc.kind, exc.reason, digest))
            continue
        event = outcome.mapped.event
        if rid in revised:
            event["event_id"] = revised_event_id(adapter.system, rid, outcome.version, digest)
        try:
            messages = [(to.events, rid.encode(), codec.encode(to.events, event))]
            messages += [
                (to.identities, identity_key(i), codec.encode(to.identities, i)) for i in outcome.mapped.identities
            ]
        except EncodeError as exc:
            # e.g. an amount beyond Avro's long: the reason names the record type, never the row's values
            out.append(
                _dead(
                    adapter,
                    codec,
                    to,
                    row,
                    outcome,
                    None,
                    "SCHEMA_MISMATCH",
                    f"the mapped event does not fit {exc.record} ({exc.cause})",
                    digest,
                )
            )
            continue
        state = published_entry(outcome.version, event.get("refs", []), digest)
        out.append(Prepared(rid, outcome.version, messages, None, state, digest))
    return out


def _dead(
    adapter,
    codec,
    to: Destinations,
    row: dict,
    outcome: Outcome,
    field: str | None,
    kind: str,
    reason: str,
    digest: str | None = None,
) -> Prepared:
    """The row as a dead letter (with its masked content) ready to publish."""
    letter = dead_letter(
        f"connector:{adapter.name}",
        to.events,
        kind,
        reason,
        system=adapter.system,
        record_id=outcome.record_id,
        field=field,
        payload_text=adapter.describe(row)[:2000],
    )
    return Prepared(
        outcome.record_id,
        outcome.version,
        [letter_message(codec, to.deadletter, letter)],
        (field, kind, reason),
        None,
        digest,
    )
