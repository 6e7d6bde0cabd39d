"""Alembic environment of the event store: runs on the connection `EventStore` hands it."""

from __future__ import annotations

from alembic import context

from ovr_alpr.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always passes its connection
    raise RuntimeError("run the event-store migrations through ovr_alpr.store.EventStore")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
