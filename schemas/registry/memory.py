"""In-memory schema registries with the client's interface (`register(subject, schema) -> id`, `schema(id)`),
shipped with the code as test doubles and for processes that must never call the registry.

`MemoryRegistry` applies the same rules as the hub's registry (ids shared by equal schemas, versions,
compatibility checks; casehub.schemas.registry.state). `FixedRegistry` answers only with ids registered
elsewhere: what mapping workers get from the connector that started them. `MemorySchemaStore` is the registry
server's store without Kafka.
"""

from __future__ import annotations

from casehub.schemas.registry.state import RegistryState, normalise
from casehub.schemas.registry.store import SchemaStore


class MemoryRegistry:
    """A registry in a dict: no HTTP, no Kafka, the same answers as the embedded registry."""

    def __init__(self):
        self.state = RegistryState()

    def register(self, subject: str, schema: str) -> int:
        schema_id, record = self.state.registration(subject, normalise(schema))
        if record is not None:
            self.state.apply(*record)
        return schema_id

    def schema(self, schema_id: int) -> str:
        try:
            return self.state.schemas[schema_id]
        except KeyError:
            raise LookupError(f"schema id {schema_id} is not registered") from None


class FixedRegistry:
    """The ids another process registered: subject -> (id, schema text). Registering anything else is an error."""

    def __init__(self, ids: dict[str, tuple[int, str]]):
        self.ids = dict(ids)
        self.by_id = {i: s for i, s in self.ids.values()}

    def register(self, subject: str, schema: str) -> int:
        try:
            return self.ids[subject][0]
        except KeyError:
            raise LookupError(f"subject {subject!r} was not registered before this process started") from None

    def schema(self, schema_id: int) -> str:
        return self.by_id[schema_id]


class MemorySchemaStore(SchemaStore):
    """The registry server's store without Kafka: the same operations and rules, state kept in memory (tests of the
    HTTP layer, fuzzing).

    Args:
        records: what an earlier store wrote (its `records`), replayed on `start()` as the Kafka store replays its
            topic: a restart without a broker.
    """

    def __init__(self, guard=None, records: list[tuple[dict, dict]] | None = None):
        super().__init__(guard)
        self.records: list[tuple[dict, dict]] = list(records or [])

    async def start(self) -> None:
        for key, value in self.records:
            self.state.apply(key, value)

    async def stop(self) -> None:
        pass

    async def _persist(self, key: dict, value: dict) -> None:
        self.records.append((key, value))
