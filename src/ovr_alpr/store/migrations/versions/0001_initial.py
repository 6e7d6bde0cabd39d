"""Initial event store: events, camera status, watchlists, alerts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=False),
        sa.Column("plate_text", sa.String(64), nullable=False),
        sa.Column("plate", sa.String(64), nullable=False),
        sa.Column("plate_len", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("region", sa.String(32)),
        sa.Column("vehicle_type", sa.String(64)),
        sa.Column("vehicle_make", sa.String(64)),
        sa.Column("vehicle_model", sa.String(64)),
        sa.Column("vehicle_color", sa.String(64)),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("extras", sa.JSON(), nullable=False),
        sa.Column("plate_crop", sa.String(512)),
        sa.Column("vehicle_crop", sa.String(512)),
        sa.Column("frame_crop", sa.String(512)),
        sa.Column("crop_bytes", sa.BigInteger(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_captured_at", "events", ["captured_at"])
    op.create_index("ix_events_camera_id_captured_at", "events", ["camera_id", "captured_at"])
    op.create_index("ix_events_plate_captured_at", "events", ["plate", "captured_at"])

    op.create_table(
        "camera_status",
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("last_frame_at", sa.DateTime()),
        sa.Column("fps", sa.Float()),
        sa.Column("frames", sa.BigInteger()),
        sa.Column("dropped_frames", sa.BigInteger()),
        sa.Column("source_up", sa.Boolean()),
        sa.Column("last_event_at", sa.DateTime()),
        sa.Column("last_event_id", sa.String(64)),
        sa.Column("last_plate", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_camera_status"),
    )

    op.create_table(
        "watchlists",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("tolerance", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_watchlists"),
        sa.UniqueConstraint("name", name="uq_watchlists_name"),
    )
    op.create_table(
        "watchlist_entries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("watchlist_id", _ID, nullable=False),
        sa.Column("pattern", sa.String(64), nullable=False),
        sa.Column("note", sa.String(256)),
        sa.PrimaryKeyConstraint("id", name="pk_watchlist_entries"),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name="fk_watchlist_entries_watchlist_id_watchlists",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_watchlist_entries_watchlist_id", "watchlist_entries", ["watchlist_id"])

    op.create_table(
        "alerts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("watchlist", sa.String(64), nullable=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("pattern", sa.String(64), nullable=False),
        sa.Column("plate", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("distance", sa.SmallInteger(), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_event_id", "alerts", ["event_id"])
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("watchlist_entries")
    op.drop_table("watchlists")
    op.drop_table("camera_status")
    op.drop_table("events")
