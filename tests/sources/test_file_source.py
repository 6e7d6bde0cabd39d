"""Reading video files: every frame in order, pts-based times, sampling, looping and corrupt frames."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from source_helpers import FRAME_H, FRAME_W, corrupt_avi_frame, decode_seq

from ovr_alpr.config import CameraConfig
from ovr_alpr.sources import FileSource, open_source

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def _open(path: Path, **camera: object) -> FileSource:
    source = open_source(CameraConfig(id="gate", source=str(path), **camera), start_time=START)
    assert isinstance(source, FileSource)
    return source


def test_reads_every_frame_in_order(make_video: Callable[..., Path]) -> None:
    with _open(make_video(frames=30, fps=10)) as source:
        assert source.nominal_fps == pytest.approx(10.0)
        assert source.frame_size == (FRAME_W, FRAME_H)
        frames = list(source)
        stats = source.stats
    assert [f.index for f in frames] == list(range(30))
    assert [decode_seq(f.image) for f in frames] == list(range(30))
    first = frames[0]
    assert first.image.dtype == np.uint8 and first.image.shape == (FRAME_H, FRAME_W, 3)
    assert first.camera_id == "gate"
    assert (stats.frames_read, stats.frames_yielded, stats.frames_skipped_by_sampling) == (30, 30, 0)
    assert (stats.corrupt_frames, stats.dropped_frames, stats.is_live, stats.kind) == (0, 0, False, "file")


def test_captured_at_is_start_plus_pts(make_video: Callable[..., Path]) -> None:
    with _open(make_video(frames=20, fps=10)) as source:
        frames = list(source)
    offsets_ms = [(f.captured_at - START) / timedelta(milliseconds=1) for f in frames]
    assert offsets_ms == pytest.approx([100.0 * i for i in range(20)], abs=1.0)
    assert all(f.captured_at.tzinfo is not None for f in frames)


def test_frame_skip(make_video: Callable[..., Path]) -> None:
    with _open(make_video(frames=30), frame_skip=2) as source:
        indices = [f.index for f in source]
        stats = source.stats
    assert indices == list(range(0, 30, 3))
    assert (stats.frames_read, stats.frames_yielded, stats.frames_skipped_by_sampling) == (30, 10, 20)


def test_target_fps_uses_video_time(make_video: Callable[..., Path]) -> None:
    with _open(make_video(frames=30, fps=10), target_fps=2.5) as source:
        frames = list(source)
        stats = source.stats
    assert [f.index for f in frames] == [0, 4, 8, 12, 16, 20, 24, 28]
    assert stats.frames_skipped_by_sampling == 22


def test_loop_continues_index_and_time(make_video: Callable[..., Path]) -> None:
    source = _open(make_video(frames=10, fps=10), loop=True)
    frames = list(islice(source, 25))
    source.close()
    assert [f.index for f in frames] == list(range(25))
    assert [decode_seq(f.image) for f in frames] == [i % 10 for i in range(25)]
    offsets_ms = [(f.captured_at - START) / timedelta(milliseconds=1) for f in frames]
    assert offsets_ms == pytest.approx([100.0 * i for i in range(25)], abs=1.0)


def test_iterating_twice_is_refused(make_video: Callable[..., Path]) -> None:
    source = _open(make_video(frames=3))
    assert len(list(source)) == 3
    with pytest.raises(RuntimeError, match="iterated once"):
        list(source)


def test_corrupt_frame_is_skipped_and_counted(make_video: Callable[..., Path]) -> None:
    path = make_video("clip.avi", frames=30, fourcc="MJPG")
    corrupt_avi_frame(path, 14)
    with _open(path) as source:
        frames = list(source)
        stats = source.stats
    assert [decode_seq(f.image) for f in frames] == [i for i in range(30) if i != 14]
    assert [f.index for f in frames] == [i for i in range(30) if i != 14]
    assert stats.corrupt_frames == 1
    assert stats.frames_yielded == 29


def test_close_ends_iteration(make_video: Callable[..., Path]) -> None:
    source = _open(make_video(frames=30))
    taken = []
    for frame in source:
        taken.append(frame)
        if len(taken) == 5:
            source.close()
    assert len(taken) == 5
