"""Plates coming into view: first seen in part at the frame's edge (those shots are not read in video), and
fast ones seen while the camera samples sparsely (tracked from every frame once one is seen)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ovr_alpr.config import CameraConfig
from ovr_alpr.detect.plates import PlateFinder
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text import PlateText
from ovr_alpr.types import Detections

SIZE = (320, 240)
FRAMES = 30
CUT_FRAMES = 10


def _box(call: int) -> list[float]:
    """The plate's box in the n-th image detected on: cut by its left edge at first, then whole."""
    if call < CUT_FRAMES:
        return [0, 100, 60 + 6 * call, 130]
    x1 = 10 + 5 * (call - CUT_FRAMES)
    return [x1, 100, x1 + 120, 130]


class EntryDetector:
    """One plate sliding in from the left edge of the image it is given (the frame, or its roi)."""

    def __init__(self) -> None:
        self.class_names = {0: "plate"}
        self.calls = 0

    def __call__(self, image):
        box = _box(self.calls)
        self.calls += 1
        return Detections(np.array([box], np.float32), np.array([0.9]), np.zeros(1))


class WidthReader:
    """Reads what a recogniser reads of a plate cut on its left: the part in view, at high confidence."""

    def __init__(self) -> None:
        self.widths: list[int] = []

    def read_batch(self, crops):
        out = []
        for crop in crops:
            self.widths.append(crop.shape[1])
            text = "ABC123" if crop.shape[1] >= 125 else "BC123"
            out.append(PlateText(text, 0.99, (0.99,) * len(text)))
        return out


@pytest.fixture(scope="module")
def entry_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("edge") / "entry.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, SIZE)
    for _ in range(FRAMES):
        writer.write(np.full((SIZE[1], SIZE[0], 3), 90, np.uint8))
    writer.release()
    return path


def _run(tmp_path, clip, roi=None, **ocr):
    config = AppConfig(
        cameras=[CameraConfig(id="gate", source=str(clip), roi=roi)],
        output_dir=str(tmp_path),
        ocr=ocr,
    )
    reader = WidthReader()
    result = Pipeline(config, sinks=[], finder=PlateFinder(EntryDetector()), reader=reader).run()
    return result, reader


def test_plate_cut_by_the_frame_edge_is_read_once_whole(tmp_path, entry_clip):
    result, reader = _run(tmp_path, entry_clip)
    assert [e.plate.normalized_text for e in result.events] == ["ABC123"]
    assert result.stats["shots_cut_by_edge"] >= CUT_FRAMES - 1
    assert reader.widths and min(reader.widths) >= 125  # no cut shot was read


def test_without_the_margin_the_visible_part_is_published(tmp_path, entry_clip):
    # what the rule prevents: the cut shot's confident read is final at once, a wrong event
    result, _ = _run(tmp_path, entry_clip, edge_margin_px=None)
    assert [e.plate.normalized_text for e in result.events] == ["BC123"]
    assert result.stats["shots_cut_by_edge"] == 0


def test_the_roi_edge_cuts_plates_too(tmp_path, entry_clip):
    # the detector sees the roi: its boxes start at the roi's left edge (x = 40 in the frame)
    result, reader = _run(tmp_path, entry_clip, roi=(40, 0, 320, 240))
    assert [e.plate.normalized_text for e in result.events] == ["ABC123"]
    assert min(reader.widths) >= 125


def test_stills_read_a_plate_at_the_edge(tmp_path):
    image = tmp_path / "still.jpg"
    cv2.imwrite(str(image), np.full((SIZE[1], SIZE[0], 3), 90, np.uint8))

    class EdgeStill:
        def __init__(self) -> None:
            self.class_names = {0: "plate"}

        def __call__(self, image):
            return Detections(np.array([[0, 100, 130, 130]], np.float32), np.array([0.9]), np.zeros(1))

    config = AppConfig(cameras=[CameraConfig(id="s", source=str(image))], output_dir=str(tmp_path))
    result = Pipeline(config, sinks=[], finder=PlateFinder(EdgeStill()), reader=WidthReader()).run()
    assert [e.plate.normalized_text for e in result.events] == ["ABC123"]


class FastPlate:
    """A whole plate, 60 px wide, moving 70 px per frame (a car crossing the view); the frame index comes from
    the box the worker is given to process (see the test)."""

    def __init__(self) -> None:
        self.class_names = {0: "plate"}
        self.frame = 0
        self.seen: list[int] = []

    def __call__(self, image):
        self.seen.append(self.frame)
        x1 = 10 + 70 * self.frame
        if x1 + 60 > SIZE[0] * 2 - 10:
            return Detections.empty()
        return Detections(np.array([[x1, 100, x1 + 60, 120]], np.float32), np.array([0.9]), np.zeros(1))


def test_a_fast_plate_is_tracked_while_the_camera_samples_sparsely(tmp_path, monkeypatch):
    from ovr_alpr.pipeline.worker import CameraWorker

    path = tmp_path / "wide.mp4"  # 640 x 240: the plate is in view for 9 frames
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (SIZE[0] * 2, SIZE[1]))
    for _ in range(FRAMES):
        writer.write(np.full((SIZE[1], SIZE[0] * 2, 3), 90, np.uint8))
    writer.release()
    det, process = FastPlate(), CameraWorker.process

    def process_frame(self, frame):
        det.frame = frame.index
        return process(self, frame)

    monkeypatch.setattr(CameraWorker, "process", process_frame)
    config = AppConfig(
        cameras=[CameraConfig(id="street", source=str(path))],
        output_dir=str(tmp_path),
        quality={"idle_stride": 3, "idle_min_fps": 4},  # 25 fps: every 3rd frame while nothing is tracked
        ocr={"final_min_width_px": 0},
    )
    reader = WidthReader()
    result = Pipeline(config, sinks=[], finder=PlateFinder(det), reader=reader).run()
    # every 3rd frame the plate moves 210 px, further than the tracker matches; from the first frame it is
    # seen in, every frame is processed until its track has its read
    assert det.seen[:3] == [0, 1, 2]
    assert result.stats["tracks"] == 1 and [e.plate.normalized_text for e in result.events] == ["BC123"]
    assert result.stats["frames_idle_skipped"] > 0  # once read, the camera samples sparsely again


def _plate_at(x: float) -> Detections:
    return Detections(np.array([[x, 100, x + 60, 120]], np.float32), np.array([0.9]), np.zeros(1))


@pytest.mark.parametrize("timed", [True, False])
def test_the_tracker_predicts_over_frames_not_processed(timed):
    """A plate moving 40 px per frame, seen on frames 0-3 (25 fps), then on frame 9 only (sparse sampling):
    with capture times the motion model moves it 240 px ahead and the track goes on; counting one step per
    call it looks 40 px ahead, and the plate starts a new track."""
    from ovr_alpr.track.bytetrack import ByteTrack, ByteTrackConfig

    tracker = ByteTrack(ByteTrackConfig(), 25.0)
    ids = []
    for frame in (0, 1, 2, 3, 9):
        tracked = tracker.update(_plate_at(10 + 40 * frame), frame / 25 if timed else None)
        ids.append(int(tracked.tracker_id[0]) if len(tracked) else None)
    assert ids[0] is None and ids[1] is not None and ids[1] == ids[2] == ids[3]  # confirmed on its 2nd frame
    assert (ids[4] == ids[3]) is timed
    assert tracker.confirming() is (not timed)  # untimed: frame 9's plate is a new track, not confirmed yet


@pytest.mark.parametrize(("activation", "high"), [(0.5, 0.5), (0.4, 0.5), (0.4, 0.4)])
def test_a_track_starts_at_the_higher_of_the_two_thresholds(activation, high):
    """A far plate the detector scores 0.45 on every frame: ByteTrack starts tracks only from its first-pass
    (high-confidence) detections, so it is tracked only when both thresholds are under 0.45."""
    from ovr_alpr.track.bytetrack import ByteTrack, ByteTrackConfig

    cfg = ByteTrackConfig(track_activation_threshold=activation, high_conf_det_threshold=high)
    tracker = ByteTrack(cfg, 25.0)
    ids = []
    for frame in range(4):
        plate = _plate_at(10 + 5 * frame)
        plate.confidence[:] = 0.45
        tracked = tracker.update(plate, frame / 25)
        ids.append(int(tracked.tracker_id[0]) if len(tracked) else None)
    assert (ids[1] is not None and ids[1] == ids[2] == ids[3]) is (max(activation, high) < 0.45)


def test_capture_times_that_stand_still_or_go_back_count_one_step():
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from ovr_alpr.pipeline.worker import CameraWorker
    from ovr_alpr.types import Frame

    t0 = datetime(2026, 12, 6, tzinfo=timezone.utc)
    frames = [
        Frame(np.zeros((2, 2, 3), np.uint8), i, t0 + timedelta(seconds=s), 0.0)
        for i, s in enumerate((0, 1, 1, 0.5, 2))
    ]
    live = SimpleNamespace(source=SimpleNamespace(kind="stream"), _last_time=None)
    times = [CameraWorker._tracker_time(live, f) for f in frames]  # type: ignore[arg-type]
    assert times == [t0.timestamp(), t0.timestamp() + 1, None, None, t0.timestamp() + 2]
    folder = SimpleNamespace(source=SimpleNamespace(kind="images"), _last_time=None)
    assert [CameraWorker._tracker_time(folder, f) for f in frames] == [None] * 5  # type: ignore[arg-type]
