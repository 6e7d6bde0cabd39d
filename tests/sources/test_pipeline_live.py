"""The pipeline on a live HTTP stream: it consumes the latest frames and `stop()` ends the run promptly."""

from __future__ import annotations

import threading
import time

from ovr_alpr.config import CameraConfig
from ovr_alpr.detect.plates import PlateFinder
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text import PlateText
from ovr_alpr.types import Detections


class _NoPlates:
    def __init__(self) -> None:
        self.class_names: dict[int, str] = {}
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        time.sleep(0.02)  # a slow detector: the reader must drop frames, not queue them
        return Detections.empty()


class _Reader:
    def read_batch(self, crops):
        return [PlateText("", 0.0) for _ in crops]


def test_live_stream_run_stops_and_counts_drops(mjpeg_camera, tmp_path):
    cfg = AppConfig(cameras=[CameraConfig(id="live", source=mjpeg_camera.url)], output_dir=str(tmp_path))
    detector = _NoPlates()
    pipeline = Pipeline(cfg, sinks=[], finder=PlateFinder(detector), reader=_Reader())
    timer = threading.Timer(2.0, pipeline.stop)
    timer.start()
    t0 = time.monotonic()
    result = pipeline.run()
    timer.cancel()
    assert time.monotonic() - t0 < 10  # stop() ends a live run, it does not wait for a stream end
    assert detector.calls > 5 and result.stats["frames_processed"] == detector.calls
    source = result.stats["sources"]["live"]
    assert source["is_live"] and source["dropped_frames"] > 0  # latest frame only, no growing lag
