"""What the event store hands out and takes in: queries, stored events, alerts, watchlists, camera status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from ..events.model import PlateEvent

_NON_ALNUM = re.compile(r"[^A-Z0-9]")

MatchMode = Literal["exact", "prefix", "fuzzy"]


def normalize_plate(text: str) -> str:
    """Upper-case A-Z0-9 only, as `events.normalize` stores plates: `"ab-123 cd"` -> `"AB123CD"`."""
    return _NON_ALNUM.sub("", text.upper())


def max_fuzzy_distance(plate: str) -> int:
    """Largest edit distance a fuzzy search allows for this plate: 2, and 1 below 7 characters.

    More edits than a third of the plate match almost anything (and defeat the index's filter).
    """
    return max(0, min(2, (len(plate) - 1) // 3))


@dataclass(frozen=True)
class EventQuery:
    """Filters of an event search; every one is optional.

    Attributes:
        plate: plate text (normalised to A-Z0-9 before matching).
        match: `exact`, `prefix` or `fuzzy` (within `max_distance` edits).
        max_distance: fuzzy tolerance in edits; capped by `max_fuzzy_distance(plate)`.
        camera_ids: events of these cameras only.
        since, until: `captured_at` range (UTC), since inclusive, until exclusive.
        min_confidence, max_confidence: plate confidence range (0..1).
        limit, offset: the page (newest first).
    """

    plate: str | None = None
    match: MatchMode = "exact"
    max_distance: int = 1
    camera_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: the event, its crops (kind -> path relative to `crops_dir`) and alerts."""

    event: PlateEvent
    crops: dict[str, str]
    alerts: list[Alert] = field(default_factory=list)
    distance: int | None = None


@dataclass(frozen=True)
class SearchResult:
    events: list[StoredEvent]
    has_more: bool
    max_distance: int | None = None


@dataclass(frozen=True)
class Alert:
    """A watchlist hit."""

    event_id: str
    watchlist: str
    label: str
    pattern: str
    plate: str
    camera_id: str
    distance: int
    captured_at: datetime
    created_at: datetime | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("captured_at", "created_at"):
            if data[key] is not None:
                data[key] = iso_z(data[key])
        return data


@dataclass(frozen=True)
class WatchlistEntry:
    pattern: str
    note: str | None = None


@dataclass(frozen=True)
class Watchlist:
    """A named list with a label (`allow`, `deny`, `watch`) and a fuzzy tolerance for plain plates."""

    name: str
    label: str
    tolerance: int = 0
    entries: tuple[WatchlistEntry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "tolerance": self.tolerance,
            "entries": [{"pattern": e.pattern, "note": e.note} for e in self.entries],
        }


@dataclass(frozen=True)
class CameraStatus:
    camera_id: str
    last_frame_at: datetime | None = None
    fps: float | None = None
    frames: int | None = None
    dropped_frames: int | None = None
    source_up: bool | None = None
    last_event_at: datetime | None = None
    last_event_id: str | None = None
    last_plate: str | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("last_frame_at", "last_event_at", "updated_at"):
            if data[key] is not None:
                data[key] = iso_z(data[key])
        return data


@dataclass(frozen=True)
class RetentionResult:
    events_deleted: int = 0
    files_deleted: int = 0
    bytes_freed: int = 0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_z(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
