"""`ovr-alpr serve`: the event service — REST API, live web page, Kafka ingest, watchlists and alerts,
Home Assistant discovery and Prometheus metrics over the event store (`ovr_alpr.store`)."""

from __future__ import annotations

from .settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str):  # create_app pulls in FastAPI; import it only when asked for
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
