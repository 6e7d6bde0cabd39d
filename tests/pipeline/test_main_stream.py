"""Main-stream reading: detect and track on a small sub-stream, read plates cut from the high-resolution main
stream of the same scene (two generated clips, one seed, two resolutions)."""

from __future__ import annotations

import dataclasses

import cv2
import pytest

from ovr_alpr.config import CameraConfig
from ovr_alpr.detect.plates import PlateFinder
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text import PlateText
from ovr_alpr.synth.clip import make_clip
from scripted import ScriptedDetector


class RecordingReader:
    def __init__(self) -> None:
        self.widths: list[int] = []

    def read_batch(self, crops):
        self.widths += [c.shape[1] for c in crops]
        return [PlateText("AB123CD", 0.97, (0.97,) * 7) for _ in crops]


def _scaled(main, path, size):
    """The sub-stream of a clip: every frame scaled down to `size`, and its manifest's boxes with it."""
    capture = cv2.VideoCapture(main.video_path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), main.fps, size)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    capture.release()
    writer.release()
    sx, sy = size[0] / main.width_px, size[1] / main.height_px
    vehicles = tuple(
        dataclasses.replace(
            v,
            plate_boxes_xyxy={
                f: (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for f, b in v.plate_boxes_xyxy.items()
            },
        )
        for v in main.vehicles
    )
    return dataclasses.replace(
        main, video_path=str(path), width_px=size[0], height_px=size[1], vehicles=vehicles
    )


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streams")
    main = make_clip(folder / "main.mp4", vehicles=2, size=(1280, 720), seconds=4, fps=12, seed=4)
    return _scaled(main, folder / "sub.mp4", (256, 144)), main


def _run(tmp_path, streams, reader, main_stream: bool):
    sub, main = streams
    camera = CameraConfig(
        id="gate", source=sub.video_path, main_source=main.video_path if main_stream else None
    )
    config = AppConfig(cameras=[camera], output_dir=str(tmp_path), events={"dedup_window_s": 0})
    return Pipeline(
        config, sinks=[], finder=PlateFinder(ScriptedDetector(sub), min_plate_width_px=8), reader=reader
    )


def test_plate_crops_come_from_the_main_stream(tmp_path, streams):
    sub, main = streams
    reader = RecordingReader()
    pipeline = _run(tmp_path, streams, reader, main_stream=True)
    result = pipeline.run()
    assert len(result.events) == 2 and reader.widths
    sub_widths = [b[2] - b[0] for v in sub.vehicles for b in v.plate_boxes_xyxy.values()]
    main_widths = [b[2] - b[0] for v in main.vehicles for b in v.plate_boxes_xyxy.values()]
    # every crop read is at the main stream's scale (3.3x the sub-stream's), with crop_plate's margin
    assert min(reader.widths) > 1.5 * max(sub_widths) and max(reader.widths) <= 1.15 * max(main_widths)
    worker = pipeline._workers[0]
    assert worker.main.frames_used == len(reader.widths) and worker.main.frames_missed == 0
    # boxes in the events stay in the sub-stream's pixels, where detection ran
    assert all(e.extras["bbox"][2] <= sub.width_px for e in result.events)


def test_without_main_stream_crops_are_sub_stream_size(tmp_path, streams):
    sub, _ = streams
    reader = RecordingReader()
    _run(tmp_path, streams, reader, main_stream=False).run()
    assert max(reader.widths) <= 1.15 * max(
        b[2] - b[0] for v in sub.vehicles for b in v.plate_boxes_xyxy.values()
    )


def test_main_stream_reads_small_plates_the_sub_stream_cannot(tmp_path, streams):
    """The embedded reader on the same tracks: from the sub-stream's small plates, then from the main's."""
    sub, _ = streams
    truth = {v.plate_text for v in sub.vehicles}
    small = _run(tmp_path / "sub", streams, None, main_stream=False).run()
    full = _run(tmp_path / "main", streams, None, main_stream=True).run()
    right_small = sum(e.plate.normalized_text in truth for e in small.events)
    right_full = sum(e.plate.normalized_text in truth for e in full.events)
    assert right_full == len(truth) and right_full > right_small
