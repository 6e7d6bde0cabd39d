"""A folder of distinct snapshots gives one event per image with a readable plate."""

from __future__ import annotations

import cv2
import numpy as np

from ovr_alpr.config import CameraConfig
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig


def _snapshots(folder, count):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        cv2.imwrite(str(folder / f"car{i}.jpg"), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    return folder


class _EveryImage:
    """A plate in the same place in every image (as a gate camera frames each car)."""

    def __init__(self) -> None:
        self.class_names = {0: "plate"}

    def __call__(self, image):
        from ovr_alpr.types import Detections

        return Detections(
            np.array([[40, 50, 100, 68]], np.float32), np.array([0.9], np.float32), np.zeros(1, np.int64)
        )


def _run(tmp_path, fake_models, monkeypatch, stills=None, **cfg):
    import ovr_alpr.pipeline.pipeline as pipeline_module
    from ovr_alpr.detect.plates import PlateFinder

    monkeypatch.setattr(pipeline_module, "build_finder", lambda *a, **k: PlateFinder(_EveryImage()))
    folder = _snapshots(tmp_path / "snaps", 5)
    config = AppConfig(
        cameras=[CameraConfig(id="gate", source=str(folder), stills=stills)],
        output_dir=str(tmp_path / "out"),
        **cfg,
    )
    return Pipeline(config).run()


def test_one_event_per_snapshot(tmp_path, fake_models, monkeypatch):
    result = _run(tmp_path, fake_models, monkeypatch)
    assert result.stats["events"] == 5
    assert [e.extras["frame_number"] for e in result.events] == [0, 1, 2, 3, 4]
    assert result.stats["ocr_calls"] == 5  # still once per plate
    assert len({e.track_id for e in result.events}) == 5


def test_snapshots_are_not_skipped_as_idle_frames(tmp_path, fake_models, monkeypatch):
    result = _run(tmp_path, fake_models, monkeypatch, quality={"adaptive_sampling": True, "idle_stride": 3})
    assert result.stats["events"] == 5 and result.stats["frames_idle_skipped"] == 0


def test_a_folder_of_video_frames_can_still_be_tracked(tmp_path, fake_models, monkeypatch):
    # stills: false -> one track across the images, so one event for the one plate (the stand-in reads a
    # new plate per call: its first read, from a 60 px box, must be final at once)
    result = _run(tmp_path, fake_models, monkeypatch, stills=False, ocr={"final_min_width_px": 0})
    assert result.stats["tracks"] == 1 and result.stats["events"] == 1
