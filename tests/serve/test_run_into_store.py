"""`ovr-alpr run --sink db:OUT/events.db` on a generated clip: events land in the store in the same process,
their crops referenced where the run saved them, ready for `ovr-alpr serve --db OUT/events.db`."""

from __future__ import annotations

import pytest

from ovr_alpr.cli import main
from ovr_alpr.store import EventQuery, EventStore
from ovr_alpr.synth.clip import make_clip


@pytest.mark.timeout(600)
def test_run_writes_events_and_crops_into_the_store(tmp_path) -> None:
    clip = tmp_path / "clip.mp4"
    manifest = make_clip(clip, vehicles=2, size=(1280, 720), seconds=6, fps=25, seed=11)
    out = tmp_path / "out"
    argv = [
        "run",
        "--source",
        str(clip),
        "--output-dir",
        str(out),
        "--frame-skip",
        "1",
        "--camera-id",
        "gate-1",
    ]
    argv += ["--sink", f"db:{out}/events.db", "--quiet", "--log-level", "WARNING"]
    assert main(argv) == 0
    with EventStore(str(out / "events.db")) as store:
        events = store.search(EventQuery(limit=10)).events
        assert sorted(e.event.plate.normalized_text for e in events) == sorted(
            v.plate_text for v in manifest.vehicles
        )
        for stored in events:
            crop = store.crop_path(stored.event.event_id, "plate")
            assert crop is not None and crop.is_relative_to((out / "crops").resolve())
        (camera,) = store.cameras()
        assert camera.camera_id == "gate-1" and camera.last_plate in {v.plate_text for v in manifest.vehicles}
