"""A partition assignor that gives every partition to one member of the group: the linking stage keeps the
references and parties of every case, so one member works and the others stand by to take over."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

ACTIVE = b"active"


class SingleActiveAssignor(AbstractPartitionAssignor):
    """All partitions of every subscribed topic to one member: the one that held them before, if it is still
    a member (so a standby joining moves nothing), else the member with the smallest id.

    An instance, not the class, is given to the consumer: it remembers whether its member holds the partitions
    and says so in its join metadata.
    """

    name = "casehub-single-active"
    version = 0

    def __init__(self):
        self.holding = False

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(self.version, list(topics), ACTIVE if self.holding else b"")

    def assign(
        self, cluster, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        return assign_all(cluster, members, self.version)

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        self.holding = bool(assignment.assignment)


def assign_all(cluster, members: Mapping[str, ConsumerProtocolMemberMetadata], version: int = 0) -> dict:
    """The assignment: every partition of every topic any member subscribes to, to one member."""
    topics = sorted({t for m in members.values() for t in m.subscription})
    holders = sorted(mid for mid, m in members.items() if m.user_data == ACTIVE)
    chosen = holders[0] if holders else min(members)
    partitions = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
    return {
        mid: ConsumerProtocolMemberAssignment(version, [p for p in partitions if p[1]] if mid == chosen else [], b"")
        for mid in members
    }
