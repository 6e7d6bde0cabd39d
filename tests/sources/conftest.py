"""Fixtures for the source tests (helpers live in `source_helpers`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import pytest
from source_helpers import FRAME_H, FRAME_W, MjpegCamera, encode_seq


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """Write a video whose frame i shows `encode_seq(i)`; returns its path."""

    def make(name: str = "clip.mp4", frames: int = 30, fps: float = 10.0, fourcc: str = "mp4v") -> Path:
        path = tmp_path / name
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (FRAME_W, FRAME_H))
        assert writer.isOpened(), f"cannot write {fourcc} video"
        for i in range(frames):
            writer.write(encode_seq(i))
        writer.release()
        return path

    return make


@pytest.fixture
def mjpeg_camera() -> Iterator[MjpegCamera]:
    camera = MjpegCamera()
    camera.start()
    yield camera
    camera.stop()
