"""Event store on SQLite and PostgreSQL: upsert by event id, crops, search filters, retention, migrations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from ovr_alpr.errors import ConfigError
from ovr_alpr.store import CameraStatus, EventQuery, EventStore, Watchlist, WatchlistEntry, database_url
from service_fixtures import JPEG, minutes, plate_event


def test_upsert_by_event_id_leaves_no_duplicates(store: EventStore) -> None:
    events = [plate_event(f"AB{i:03d}CD", at=minutes(i)) for i in range(5)]
    assert len(store.add(events)) == 5
    # at-least-once delivery: the same events again, one of them corrected
    again = [*events[:4], events[4].model_copy(update={"track_id": 99})]
    assert store.add(again) == []
    assert store.count() == 5
    assert store.get(events[4].event_id).event.track_id == 99


def test_event_round_trip(store: EventStore) -> None:
    event = plate_event("AB123CD", confidence=0.87)
    store.add([event])
    stored = store.get(event.event_id)
    assert stored is not None
    got = stored.event
    assert got.captured_at == event.captured_at and got.captured_at.tzinfo is not None
    assert (got.camera_id, got.plate.text, got.plate.confidence) == ("gate-1", "AB123CD", 0.87)
    assert got.extras == event.extras and got.node == event.node and got.vehicle == event.vehicle
    assert store.get("nope") is None


def test_crops_are_files_next_to_the_store_and_keep_on_redelivery(store: EventStore, tmp_path: Path) -> None:
    event = plate_event()
    store.add([event], crops={event.event_id: {"plate": JPEG}})
    path = store.crop_path(event.event_id, "plate")
    assert path is not None and path.read_bytes() == JPEG
    assert path.is_relative_to(tmp_path / "crops")
    store.add([event])  # delivered again without its crop: the stored crop stays
    assert store.crop_path(event.event_id, "plate") == path
    # a crop already inside the crop folder is referenced, not copied
    inside = tmp_path / "crops" / "2024-05-01" / "cam" / "x.jpg"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(JPEG)
    other = plate_event("XY999ZZ")
    store.add([other], crops={other.event_id: {"plate": inside}})
    assert store.crop_path(other.event_id, "plate") == inside.resolve()


def test_invalid_input_stores_nothing(store: EventStore) -> None:
    with pytest.raises(ValueError):
        store.add([plate_event(event_id="../../etc/passwd")])
    event = plate_event()
    with pytest.raises(ValueError):
        store.add([event], crops={event.event_id: {"plate": b"<?php not an image"}})
    assert store.count() == 0
    assert not any(store.crops_dir.rglob("*")) if store.crops_dir.exists() else True


def test_search_filters_and_pages(store: EventStore) -> None:
    events = [
        plate_event("AB123CD", "gate-1", minutes(0), 0.95),
        plate_event("AB123CO", "gate-2", minutes(1), 0.60),
        plate_event("AB124XY", "gate-1", minutes(2), 0.80),
        plate_event("ZZ999ZZ", "gate-2", minutes(3), 0.99),
    ]
    store.add(events)

    def plates(**query) -> list[str]:
        return [e.event.plate.normalized_text for e in store.search(EventQuery(**query)).events]

    assert plates() == ["ZZ999ZZ", "AB124XY", "AB123CO", "AB123CD"]  # newest first
    assert plates(plate="ab-123 cd") == ["AB123CD"]
    assert plates(plate="AB12", match="prefix") == ["AB124XY", "AB123CO", "AB123CD"]
    assert plates(plate="AB123CO", match="fuzzy", max_distance=1) == ["AB123CO", "AB123CD"]
    assert plates(plate="AB1_3", match="prefix") == []  # LIKE wildcards are literal
    assert plates(camera_ids=("gate-2",)) == ["ZZ999ZZ", "AB123CO"]
    assert plates(since=minutes(1), until=minutes(3)) == ["AB124XY", "AB123CO"]
    assert plates(min_confidence=0.9) == ["ZZ999ZZ", "AB123CD"]
    first = store.search(EventQuery(limit=3))
    second = store.search(EventQuery(limit=3, offset=3))
    assert first.has_more and not second.has_more
    assert [e.event.plate.normalized_text for e in second.events] == ["AB123CD"]
    fuzzy = store.search(EventQuery(plate="AB123CX", match="fuzzy", max_distance=2))
    assert {e.event.plate.normalized_text: e.distance for e in fuzzy.events} == {"AB123CD": 1, "AB123CO": 1}
    assert fuzzy.max_distance == 2


def test_fuzzy_distance_is_capped_for_short_plates(store: EventStore) -> None:
    store.add([plate_event("AB12"), plate_event("XY99")])
    result = store.search(EventQuery(plate="AB13", match="fuzzy", max_distance=2))
    assert result.max_distance == 1
    assert [e.event.plate.normalized_text for e in result.events] == ["AB12"]


def test_fuzzy_index_sees_events_written_by_another_process(store: EventStore, tmp_path: Path) -> None:
    store.add([plate_event("AB123CD")])
    assert store.search(EventQuery(plate="AB123CO", match="fuzzy")).events
    other = EventStore(str(store.url.render_as_string(hide_password=False)), crops_dir=tmp_path / "crops")
    try:
        other.add([plate_event("QQ777QQ")])
    finally:
        other.close()
    assert [
        e.event.plate.normalized_text for e in store.search(EventQuery(plate="QQ777QO", match="fuzzy")).events
    ] == ["QQ777QQ"]


def test_retention_by_age_removes_rows_and_crop_files(store: EventStore) -> None:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    old = plate_event("OLD111", at=now - timedelta(days=40))
    new = plate_event("NEW222", at=now - timedelta(hours=1))
    store.add([old, new], crops={old.event_id: {"plate": JPEG}, new.event_id: {"plate": JPEG}})
    old_crop = store.crop_path(old.event_id, "plate")
    assert old_crop is not None and old_crop.exists()
    result = store.apply_retention(max_age_s=30 * 86400)
    assert (result.events_deleted, result.files_deleted, result.bytes_freed) == (1, 1, len(JPEG))
    assert not old_crop.exists()
    assert store.get(old.event_id) is None and store.get(new.event_id) is not None
    assert store.crop_path(new.event_id, "plate") is not None


def test_retention_by_disk_budget_removes_the_oldest_first(store: EventStore) -> None:
    big = JPEG[:-2] + b"\x00" * 100_000 + b"\xff\xd9"
    events = [plate_event(f"AB{i:03d}CD", at=minutes(i)) for i in range(10)]
    store.add(events, crops={e.event_id: {"plate": big} for e in events})
    used = store.storage_bytes()
    assert used > 10 * len(big)
    result = store.apply_retention(max_bytes=used - 3 * len(big))
    assert result.events_deleted >= 3 and result.files_deleted == result.events_deleted
    left = [e.event.plate.normalized_text for e in store.search(EventQuery(limit=100)).events]
    assert left == [f"AB{i:03d}CD" for i in range(9, result.events_deleted - 1, -1)]
    files = [p for p in store.crops_dir.rglob("*.jpg")]
    assert len(files) == len(left)


def test_camera_status_posted_and_derived_from_events(store: EventStore) -> None:
    store.add([plate_event("AB123CD", "gate-1", minutes(5)), plate_event("AB000AA", "gate-1", minutes(1))])
    store.update_camera_status(
        CameraStatus("gate-1", last_frame_at=minutes(6), fps=12.5, dropped_frames=3, source_up=True)
    )
    store.update_camera_status(CameraStatus("gate-9", fps=0.0, source_up=False))
    cams = {c.camera_id: c for c in store.cameras()}
    assert cams["gate-1"].last_plate == "AB123CD" and cams["gate-1"].last_event_at == minutes(5)
    assert (cams["gate-1"].fps, cams["gate-1"].dropped_frames, cams["gate-1"].source_up) == (12.5, 3, True)
    assert cams["gate-9"].source_up is False and cams["gate-9"].last_event_at is None


def test_watchlists_saved_replaced_deleted(store: EventStore) -> None:
    store.save_watchlist(Watchlist("stolen", "deny", 1, (WatchlistEntry("AB123CD", "reported 1 May"),)))
    store.save_watchlist(Watchlist("staff", "allow", 0, (WatchlistEntry("ST*"),)))
    store.save_watchlist(Watchlist("stolen", "deny", 2, (WatchlistEntry("XY1"), WatchlistEntry("XY2"))))
    lists = {w.name: w for w in store.watchlists()}
    assert lists["stolen"].tolerance == 2 and [e.pattern for e in lists["stolen"].entries] == ["XY1", "XY2"]
    assert store.delete_watchlist("staff") and not store.delete_watchlist("staff")
    assert [w.name for w in store.watchlists()] == ["stolen"]


def test_migrations_create_exactly_the_models(store: EventStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ovr_alpr.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    # opening again is a no-op migration
    EventStore(store.url.render_as_string(hide_password=False), crops_dir=store.crops_dir).close()


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    with EventStore(str(tmp_path / "e.db")) as s:
        s.add([plate_event()])
    engine = create_engine(f"sqlite:///{tmp_path / 'e.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_database_url_and_errors(tmp_path: Path) -> None:
    assert database_url("", tmp_path) == f"sqlite:///{tmp_path / 'events.db'}"
    assert database_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(ConfigError):
        EventStore("mysql://x/y")
    with pytest.raises(ConfigError, match="cannot open event store"):
        EventStore("postgresql://nobody@127.0.0.1:1/none")
