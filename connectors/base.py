"""What every connector shares: the adapter protocol, and the plain types a row becomes (an event with its
identities, or a mapping error naming the field) on its way to Kafka.

The loop that polls a database is casehub.connectors.polling; mapping rows is casehub.connectors.rows.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple, Protocol

import sqlalchemy as sa


class MappingError(Exception):
    """A row cannot become an event. Names the field, the reason and the dead-letter error kind."""

    def __init__(self, field: str | None, reason: str, kind: str = "OTHER"):
        super().__init__(f"{field or 'row'}: {reason}")
        self.field, self.reason, self.kind = field, reason, kind


class Unreadable:
    """A cell whose value cannot be read as the source shows it (a spreadsheet formula with no saved value, an
    ID that Excel turned into a 15-digit number): the row is dead-lettered naming the column and the reason,
    whether or not the mapping uses the column, so nothing is published altered."""

    __slots__ = ("kind", "reason")

    def __init__(self, reason: str, kind: str = "OTHER"):
        self.reason, self.kind = reason, kind

    def __repr__(self) -> str:
        return f"<unreadable: {self.reason}>"


class Mapped(NamedTuple):
    """One row's output: the event for the agency topic and the full identities for the restricted topic.

    Named tuples here and in Outcome: made for every row, they cost half what a dataclass does.
    """

    event: dict
    identities: list[dict] | tuple = ()


class Adapter(Protocol):
    name: str  # connector name: checkpoint and row-state key
    system: str  # source system id, as written in events
    agency: str  # MEDIATION | ARBITRATION | COURT | INSPECTION
    table: sa.Table
    pk: str  # primary-key column
    cursor: str  # last-change column (timestamp string, epoch ms...)

    def window_start(self, watermark, lag_seconds: float): ...

    def map_row(self, row: dict, ingested_at: dt.datetime) -> Mapped: ...


class Outcome(NamedTuple):
    """What one row became: an event (with identities) or a dead letter."""

    record_id: str
    version: str
    mapped: Mapped | None = None
    error: MappingError | None = None


class Prepared(NamedTuple):
    """One row, ready to publish: its messages (topic, key, value), its row-state entry, and the error if it failed.

    A tuple of plain values so that worker processes can send it back cheaply (3-4 times cheaper to
    pickle than a dataclass). `state` is the row-state entry already serialised; for a dead letter it is
    None, because its entry keeps the refs of the row's last good version, which only the connector knows.
    A row whose content the row state already has (same version, same digest) gives no Prepared at all.
    """

    record_id: str
    version: str
    messages: list[tuple[str, bytes, bytes]]
    error: tuple[str | None, str, str] | None = None  # field, kind, reason
    state: bytes | None = None
    # digest of the row's content (casehub.connectors.rows.row_digest). With no messages, no error and no
    # state, the row is unchanged but its entry had no digest yet (written before digests): record it only.
    digest: str | None = None


class Destinations(NamedTuple):
    """The topics one connector publishes to: its agency's events, dead letters, and full identities."""

    events: str
    deadletter: str
    identities: str

    @classmethod
    def for_agency(cls, topics, agency: str) -> Destinations:
        """From a casehub.ground.topics.Topics."""
        return cls(topics.for_agency(agency), topics.deadletter, topics.identities)
