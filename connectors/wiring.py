"""The one place a connector is put together, for `casehub connect`, the benchmark and the tests alike."""

from __future__ import annotations

import sqlalchemy as sa

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.base import Destinations
from casehub.connectors.checkpoints import KafkaCheckpointStore
from casehub.connectors.mapping import Mapping
from casehub.connectors.polling import PollingConnector
from casehub.connectors.rowstate import RowState
from casehub.domain.identities import Protector
from casehub.ground.kafka import clients_for
from casehub.ground.publish import Publisher
from casehub.ground.secrets import hmac_secret
from casehub.ground.settings import Settings


def build_connector(
    settings: Settings,
    mapping: Mapping,
    url: str,
    codec,
    publisher: Publisher,
    *,
    engine: sa.Engine | None = None,
    workers: int | None = None,
    workers_read: bool = True,
    **overrides,
) -> PollingConnector:
    """A connector (not started) for one mapping and database, configured from the settings.

    Args:
        url: the SQLAlchemy URL of the agency database (worker processes open it too).
        engine: an engine the caller owns and disposes (default: one made from `url`, disposed by `close()`).
        workers: mapping worker processes (default CASEHUB_CONNECTOR_WORKERS); 0 maps in this process.
        workers_read: workers read the rows by key themselves (else the connector sends them the rows).
        overrides: PollingConnector options that win over the settings (batch_size, lag_seconds, clock...).
    """
    owned = engine is None
    engine = engine if engine is not None else sa.create_engine(url)
    secret = hmac_secret(settings, {mapping.name: url})  # refuses a configured database without CASEHUB_HMAC_SECRET
    adapter = MappedAdapter(mapping, Protector(secret)).bind(engine)
    kafka, topics = clients_for(settings), settings.topics
    destinations = Destinations.for_agency(topics, mapping.agency)
    options = {
        "batch_size": settings.connector_batch_size,
        "poll_interval": settings.poll_interval,
        "lag_seconds": settings.connector_lag_seconds,
        "reconcile_every": settings.reconcile_every,
        **overrides,
    }
    connector = PollingConnector(
        adapter,
        engine,
        codec,
        publisher,
        KafkaCheckpointStore(kafka, topics.connector_offsets, settings.replication_factor),
        RowState(kafka, topics.connector_rows, adapter.name, settings.replication_factor),
        destinations,
        **options,
    )
    connector.owned_engine = owned
    workers = settings.connector_workers if workers is None else workers
    if workers:
        from casehub.connectors.parallel import MappingPool

        connector.pool = MappingPool(
            workers, str(mapping.path), secret, codec, destinations, db_url=url if workers_read else None
        )
    return connector
