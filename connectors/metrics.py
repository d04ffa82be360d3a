"""Prometheus metrics of the connectors (rows read, events, dead letters, deletes, last poll), served by `casehub
connect`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

REGISTRY = CollectorRegistry()
ROWS = Counter(
    "casehub_connector_rows_read",
    "Rows read from the source (including re-reads of the lag window)",
    ["connector"],
    registry=REGISTRY,
)
EVENTS = Counter("casehub_connector_events", "Events published to the agency topic", ["connector"], registry=REGISTRY)
DEAD = Counter(
    "casehub_connector_dead_letters", "Rows sent to the dead-letter topic", ["connector", "kind"], registry=REGISTRY
)
DELETED = Counter(
    "casehub_connector_deleted_rows", "Source rows found deleted by reconciliation", ["connector"], registry=REGISTRY
)
LAST_POLL = Gauge(
    "casehub_connector_last_poll_timestamp_seconds", "When the last poll finished", ["connector"], registry=REGISTRY
)


def serve(host: str, port: int) -> None:
    """Expose /metrics on a background thread (prometheus_client's own server)."""
    start_http_server(port, host, registry=REGISTRY)
