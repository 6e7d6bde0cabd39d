import json
from datetime import datetime, timedelta, timezone

import numpy as np

from ovr_alpr.config import EventsConfig
from ovr_alpr.events.builder import CropStore, EventBuilder
from ovr_alpr.events.dedup import Deduplicator
from ovr_alpr.events.model import PlateEvent
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text import PlateText
from ovr_alpr.plate_text.normalize import PlateNormalizer, normalize_text
from ovr_alpr.track.state import Shot, TrackState

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def test_normalize_text():
    assert normalize_text("ab-123 cd·") == "AB123CD"


def test_region_validation():
    cfg = EventsConfig(regions={"it": r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$"}, allow_unknown_region=False)
    norm = PlateNormalizer(cfg)
    assert norm("ab 123 cd").region == "it" and norm("ab 123 cd").valid
    assert not norm("1234").valid
    assert PlateNormalizer(EventsConfig(regions={}, allow_unknown_region=True))("1234").valid


def test_dedup_within_window_per_camera():
    d = Deduplicator(similarity=0.85, window_s=300)
    assert not d.is_duplicate("cam0", "AB123CD", T0)
    assert d.is_duplicate("cam0", "AB123CO", T0 + timedelta(seconds=10))  # one char off: same vehicle
    assert not d.is_duplicate("cam1", "AB123CD", T0)  # other camera
    assert not d.is_duplicate("cam0", "XY987ZZ", T0)
    assert not d.is_duplicate("cam0", "AB123CD", T0 + timedelta(seconds=301))  # window passed
    assert len(d) <= 4


def test_event_json_layout_and_utc_time():
    ev = PlateEvent(
        captured_at=T0,
        camera_id="gate",
        track_id=3,
        plate={"text": "AB123", "normalized_text": "AB123", "confidence": 0.9, "region": "eu"},
    )
    data = json.loads(ev.to_json())
    assert set(data) == {
        "event_id",
        "captured_at",
        "camera_id",
        "track_id",
        "plate",
        "vehicle",
        "images",
        "latency_ms",
        "node",
        "extras",
    }
    assert data["captured_at"] == "2026-01-02T03:04:05.678Z"
    assert set(data["vehicle"]) == {"type", "make", "model", "color"}
    assert set(data["images"]) == {"plate_url", "vehicle_url", "frame_url"}
    assert PlateEvent.from_json(ev.to_json()) == ev


def _final_state(text):
    s = TrackState(7, "cam0", 10, 5, (100.0, 100.0), last_center=(300.0, 110.0))
    s.best = Shot(np.full((20, 80, 3), 128, np.uint8), np.array([1, 2, 81, 22.0]), 0.8, 0.7, 42, T0, 0.0)
    s.attempts = 2
    return s, PlateText(text, 0.93, (0.93,) * len(text))


def test_builder_saves_crop_fills_extras_and_suppresses_duplicates(tmp_path):
    cfg = AppConfig(output_dir=str(tmp_path))
    builder = EventBuilder(cfg.events, cfg.node, CropStore(tmp_path))
    state, read = _final_state("ab123cd")
    ev = builder.build(state, read)
    assert ev.plate.normalized_text == "AB123CD" and ev.captured_at == T0
    assert ev.extras["frame_number"] == 42 and ev.extras["bbox"] == [1.0, 2.0, 81.0, 22.0]
    assert ev.extras["direction"] == "left_to_right" and ev.extras["quality_score"] == 0.7
    crop = tmp_path / "crops" / "2026-01-02" / "cam0" / f"{ev.event_id}.jpg"
    assert ev.images.plate_url == str(crop.resolve()) and crop.is_file()
    again = builder.build(*_final_state("AB123CD"))
    assert again is None and builder.counters.duplicates == 1
    stamped = EventBuilder.stamp_latency(ev, captured_monotonic=0.0)
    assert stamped.latency_ms > 0
