"""Every Kafka topic of the hub in one table: its name, what its values are, partitions, compaction, and who reads it.

Adding a topic is one edit: a line in TOPICS. Names, the topics `casehub up` creates, the agency-to-topic
map and the contract's topic-to-record map (casehub.schemas.contract) are all read from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Partitions of a topic whose count is a setting (CASEHUB_PARTITIONS), not fixed.
SETTING = 0


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partitions and configuration.

    strict: an existing topic must have exactly these partitions and settings (state topics, whose readers
    take partition 0 and rely on compaction); others are left as operators changed them.
    """

    name: str
    partitions: int = 1
    config: dict[str, str] = field(default_factory=dict)
    strict: bool = False


@dataclass(frozen=True)
class TopicDef:
    """One topic of the hub.

    Args:
        key: the attribute name (`Topics(prefix).mediation`).
        base: the name before CASEHUB_TOPIC_PREFIX.
        record: the Avro record its values carry, Confluent-framed (None: hub-internal bytes or JSON).
        partitions: a fixed count, or SETTING for CASEHUB_PARTITIONS.
        compact: log compaction (the latest value per key is what readers need).
        public: any Confluent-compatible consumer may read it; False: internal state of the hub.
        agencies: the agency kinds whose source events it carries.
        strict: see TopicSpec.
    """

    key: str
    base: str
    record: str | None
    partitions: int = SETTING
    compact: bool = False
    public: bool = True
    agencies: tuple[str, ...] = ()
    strict: bool = False


TOPICS: tuple[TopicDef, ...] = (
    TopicDef(
        "mediation", "casehub.mediation.events", "cn.casehub.MediationEvent", agencies=("MEDIATION", "NEGOTIATION")
    ),
    TopicDef("arbitration", "casehub.arbitration.events", "cn.casehub.ArbitrationEvent", agencies=("ARBITRATION",)),
    TopicDef("court", "casehub.court.events", "cn.casehub.CourtEvent", agencies=("COURT",)),
    TopicDef("inspection", "casehub.inspection.events", "cn.casehub.InspectionEvent", agencies=("INSPECTION",)),
    TopicDef("cases", "casehub.cases", "cn.casehub.CaseRecord", compact=True),
    TopicDef("deadletter", "casehub.deadletter", "cn.casehub.DeadLetter", partitions=1),
    # full identities: only for the court request path, never a shared topic
    TopicDef("identities", "casehub.identities.restricted", "cn.casehub.IdentityRecord", partitions=1, compact=True),
    TopicDef("alerts", "casehub.alerts", "cn.casehub.Alert", partitions=1),
    TopicDef("confirmation_requests", "casehub.confirmation.requests", "cn.casehub.ConfirmationRequest", partitions=1),
    TopicDef(
        "confirmation_responses", "casehub.confirmation.responses", "cn.casehub.ConfirmationResponse", partitions=1
    ),
    # operators' link corrections (casehub link split|join, the case page), folded like any event
    TopicDef("corrections", "casehub.link.corrections", "cn.casehub.LinkCorrection", partitions=1),
    # each source event with its case ids and link reasons, latest per event id
    TopicDef("enriched", "casehub.events.enriched", "cn.casehub.EnrichedEvent", compact=True),
    # the confirmation relay's log: every request it knows, its deliveries and its state (internal, JSON), the record
    # `casehub rebuild-view` restores requests and deliveries from
    TopicDef(
        "confirmation_log", "_casehub_confirmation_log", None, partitions=1, compact=True, public=False, strict=True
    ),
    # the worker's linking state: every event it folded and each case's version (internal, JSON and raw Avro)
    TopicDef("link_state", "_casehub_link_state", None, partitions=1, compact=True, public=False, strict=True),
    # state of the registry and the connectors: one compacted partition each, JSON
    TopicDef("schemas", "_casehub_schemas", None, partitions=1, compact=True, public=False, strict=True),
    TopicDef(
        "connector_offsets", "_casehub_connector_offsets", None, partitions=1, compact=True, public=False, strict=True
    ),
    TopicDef("connector_rows", "_casehub_connector_rows", None, partitions=1, compact=True, public=False, strict=True),
)
BY_KEY = {t.key: t for t in TOPICS}
AGENCY_TOPIC = {agency: t.key for t in TOPICS for agency in t.agencies}
# base topic name -> the record type its values carry (what the contract registers per subject)
TOPIC_RECORDS = {t.base: t.record for t in TOPICS if t.record}


def spec(definition: TopicDef, name: str, partitions: int) -> TopicSpec:
    return TopicSpec(
        name,
        definition.partitions or partitions,
        {"cleanup.policy": "compact"} if definition.compact else {},
        definition.strict,
    )


def state_topic(name: str) -> TopicSpec:
    """A single-partition compacted topic holding state (checkpoints, row state, registry)."""
    return TopicSpec(name, 1, {"cleanup.policy": "compact"}, strict=True)


@dataclass(frozen=True)
class Topics:
    """Topic names under one optional prefix (a test or a tenant gets its own set): `Topics(p).cases`."""

    prefix: str = ""

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def __getattr__(self, key: str) -> str:
        try:
            return self.prefix + BY_KEY[key].base
        except KeyError:
            raise AttributeError(f"no topic {key!r}; known: {', '.join(BY_KEY)}") from None

    def for_agency(self, agency: str) -> str:
        """The event topic of an agency kind (MEDIATION, NEGOTIATION, ARBITRATION, COURT, INSPECTION)."""
        try:
            return getattr(self, AGENCY_TOPIC[agency])
        except KeyError:
            raise LookupError(
                f"no event topic for agency {agency!r}; known: {', '.join(sorted(AGENCY_TOPIC))}"
            ) from None

    def agency_of(self) -> dict[str, str]:
        """Event topic name -> the agency kind its events come from (the first listed for the topic)."""
        return {getattr(self, t.key): t.agencies[0] for t in TOPICS if t.agencies}

    def event_topics(self) -> list[str]:
        return [getattr(self, t.key) for t in TOPICS if t.agencies]

    def specs(self, partitions: int) -> list[TopicSpec]:
        """Every topic the hub creates up front, with its partitions and policy."""
        return [spec(t, getattr(self, t.key), partitions) for t in TOPICS]
