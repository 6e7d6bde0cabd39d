"""Reading a folder of images: natural order, corrupt files skipped and counted, file times."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import cv2
import pytest
from source_helpers import decode_seq, encode_seq

from ovr_alpr.config import CameraConfig
from ovr_alpr.sources import ImageFolderSource, open_source

T0 = datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """img1.png, img2.jpg, img10.png (numbers 1, 2, 10), a corrupt img3.jpg and a notes.txt."""
    for number, name in [(1, "img1.png"), (2, "img2.jpg"), (10, "img10.png")]:
        path = tmp_path / name
        cv2.imwrite(str(path), encode_seq(number))
        os.utime(path, (T0 + number, T0 + number))
    (tmp_path / "img3.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_reads_images_in_natural_order_and_skips_corrupt(folder: Path) -> None:
    with open_source(CameraConfig(id="dock", source=str(folder))) as source:
        assert isinstance(source, ImageFolderSource)
        assert [p.name for p in source.files] == ["img1.png", "img2.jpg", "img3.jpg", "img10.png"]
        frames = list(source)
        stats = source.stats
    assert [decode_seq(f.image) for f in frames] == [1, 2, 10]
    assert [f.index for f in frames] == [0, 1, 3]
    assert {f.camera_id for f in frames} == {"dock"}
    assert [f.captured_at.timestamp() for f in frames] == pytest.approx([T0 + 1, T0 + 2, T0 + 10])
    assert frames[0].captured_at.tzinfo is not None
    assert (stats.frames_yielded, stats.corrupt_frames, stats.frames_read) == (3, 1, 3)


def test_frame_skip_does_not_read_skipped_files(folder: Path) -> None:
    with open_source(CameraConfig(source=str(folder), frame_skip=1)) as source:
        frames = list(source)
        stats = source.stats
    # files 0 and 2 are selected; file 2 is the corrupt one
    assert [decode_seq(f.image) for f in frames] == [1]
    assert (stats.frames_skipped_by_sampling, stats.corrupt_frames) == (2, 1)


def test_single_image_file(folder: Path) -> None:
    with open_source(CameraConfig(source=str(folder / "img2.jpg"))) as source:
        assert [decode_seq(f.image) for f in source] == [2]
