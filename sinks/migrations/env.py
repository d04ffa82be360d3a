"""Alembic environment of the case view: migrations run on the connection casehub.sinks.migrate passes in."""

from __future__ import annotations

from alembic import context

from casehub.sinks.view_tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
