"""The event store's tables (SQLAlchemy 2): events, camera status, watchlists and alerts.

The Alembic migrations in `migrations/versions` create exactly these; a test compares the two.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Auto-increment primary key: BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """A UTC datetime: stored naive in UTC (SQLite has no time zones), read back time-zone aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class EventRow(Base):
    """One `PlateEvent`, flattened; crops are paths relative to the store's crop folder."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime())
    camera_id: Mapped[str] = mapped_column(String(128))
    track_id: Mapped[int] = mapped_column(BigInteger)
    plate_text: Mapped[str] = mapped_column(String(64))
    plate: Mapped[str] = mapped_column(String(64), doc="normalised text (A-Z0-9)")
    plate_len: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(Float)
    region: Mapped[str | None] = mapped_column(String(32))
    vehicle_type: Mapped[str | None] = mapped_column(String(64))
    vehicle_make: Mapped[str | None] = mapped_column(String(64))
    vehicle_model: Mapped[str | None] = mapped_column(String(64))
    vehicle_color: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    site: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(128))
    extras: Mapped[dict[str, Any]] = mapped_column(JSON)
    plate_crop: Mapped[str | None] = mapped_column(String(512))
    vehicle_crop: Mapped[str | None] = mapped_column(String(512))
    frame_crop: Mapped[str | None] = mapped_column(String(512))
    crop_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index(None, "captured_at"),
        Index(None, "camera_id", "captured_at"),
        Index(None, "plate", "captured_at"),
        # ids only grow (no reuse after deletes), so "rows after id N" finds every new event
        {"sqlite_autoincrement": True},
    )


class CameraStatusRow(Base):
    """Last known state of one camera, posted by `run` or derived from its events."""

    __tablename__ = "camera_status"

    camera_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_frame_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    fps: Mapped[float | None] = mapped_column(Float)
    frames: Mapped[int | None] = mapped_column(BigInteger)
    dropped_frames: Mapped[int | None] = mapped_column(BigInteger)
    source_up: Mapped[bool | None] = mapped_column(Boolean)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_event_id: Mapped[str | None] = mapped_column(String(64))
    last_plate: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WatchlistRow(Base):
    """A named list of plates or patterns with a label: allow, deny or watch."""

    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(8))
    tolerance: Mapped[int] = mapped_column(SmallInteger, default=0, doc="max edit distance for plates")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WatchlistEntryRow(Base):
    """One plate (`AB123CD`) or pattern (`AB*`, `?B123CD`) of a watchlist."""

    __tablename__ = "watchlist_entries"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    watchlist_id: Mapped[int] = mapped_column(_Id, ForeignKey("watchlists.id", ondelete="CASCADE"))
    pattern: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(256))

    __table_args__ = (Index(None, "watchlist_id"),)


class AlertRow(Base):
    """A watchlist hit, stored with the event that raised it."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    watchlist: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(8))
    pattern: Mapped[str] = mapped_column(String(64))
    plate: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(128))
    distance: Mapped[int] = mapped_column(SmallInteger)
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "event_id"), Index(None, "created_at"))


metadata = Base.metadata
events_table = EventRow.__table__
camera_status_table = CameraStatusRow.__table__
watchlists_table = WatchlistRow.__table__
watchlist_entries_table = WatchlistEntryRow.__table__
alerts_table = AlertRow.__table__
