"""The event store: searchable `PlateEvent`s with their crops, in SQLite (default) or PostgreSQL.

A stage-level consumer of events, like the sinks; the `db:` sink writes to it during a run and
`ovr-alpr serve` reads and writes it.
"""

from __future__ import annotations

from .plate_index import PlateIndex
from .records import (
    Alert,
    CameraStatus,
    EventQuery,
    RetentionResult,
    SearchResult,
    StoredEvent,
    Watchlist,
    WatchlistEntry,
    max_fuzzy_distance,
    normalize_plate,
)
from .store import CROP_KINDS, EVENT_ID_RE, EventStore, database_url

__all__ = [
    "CROP_KINDS",
    "EVENT_ID_RE",
    "Alert",
    "CameraStatus",
    "EventQuery",
    "EventStore",
    "PlateIndex",
    "RetentionResult",
    "SearchResult",
    "StoredEvent",
    "Watchlist",
    "WatchlistEntry",
    "database_url",
    "max_fuzzy_distance",
    "normalize_plate",
]
