"""Choosing the source kind from a string, and the one-line errors a user sees when a source is wrong."""

from __future__ import annotations

import socket
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.config import CameraConfig
from ovr_alpr.errors import SourceError
from ovr_alpr.sources import SOURCES, detect_kind, open_source
from ovr_alpr.sources.base import FrameSampler, natural_key, redact_url
from ovr_alpr.sources.live import backoff_delays


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "shots"
    folder.mkdir()
    image = folder / "a.jpg"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not really a video")
    return {"folder": folder, "image": image, "video": video}


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("0", "camera"),
        (" 2 ", "camera"),
        ("/dev/video1", "camera"),
        ("rtsp://user:pw@10.0.0.5:554/stream1", "stream"),
        ("rtsps://cam.local/main", "stream"),
        ("http://cam.local/video.mjpg", "stream"),
        ("HTTPS://cam.local/live.m3u8", "stream"),
    ],
)
def test_detect_kind_from_string(source: str, kind: str) -> None:
    assert detect_kind(source) == kind


def test_detect_kind_from_paths(paths: dict[str, Path]) -> None:
    assert detect_kind(str(paths["folder"])) == "images"
    assert detect_kind(str(paths["image"])) == "images"
    assert detect_kind(str(paths["video"])) == "file"
    assert detect_kind(f"file://{paths['video']}") == "file"


def test_registry_has_every_kind() -> None:
    assert SOURCES.names() == ["camera", "file", "images", "stream"]


def _error(source: str) -> SourceError:
    with pytest.raises(SourceError) as info:
        open_source(CameraConfig(source=source))
    line = info.value.one_line()
    assert "\n" not in line
    assert info.value.hint, "every source error says what to do"
    return info.value


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    error = _error(str(tmp_path / "nope.mp4"))
    assert "nope.mp4 not found" in error.message


def test_empty_source_is_a_clear_error() -> None:
    error = _error("  ")
    assert "no video source" in error.message
    assert "camera index" in error.hint


def test_unsupported_scheme_names_it_and_hides_credentials() -> None:
    error = _error("rtmp://admin:secret@cam.local/live")
    assert "rtmp://" in error.message
    assert "secret" not in error.one_line()
    assert "rtsp://" in error.hint


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    assert "has no images" in _error(str(tmp_path)).message
    (tmp_path / "notes.txt").write_text("hello")
    assert "has no images (1 other files)" in _error(str(tmp_path)).message


def test_not_a_video_is_a_clear_error(paths: dict[str, Path]) -> None:
    error = _error(str(paths["video"]))
    assert "cannot read video" in error.message
    assert "ffprobe" in error.hint


def test_missing_camera_is_a_clear_error() -> None:
    assert "cannot open camera 97" in _error("97").message


def test_unreachable_stream_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = _error(f"http://viewer:secret@127.0.0.1:{port}/stream.mjpg")
    assert "cannot connect to stream" in error.message
    assert "secret" not in error.one_line()


def test_redact_url() -> None:
    assert redact_url("rtsp://u:p@h:554/x?y=1") == "rtsp://***@h:554/x?y=1"
    assert redact_url("rtsp://h/x") == "rtsp://h/x"
    assert redact_url("/videos/a@b.mp4") == "/videos/a@b.mp4"


def test_natural_order() -> None:
    names = ["img10.png", "img2.png", "IMG1.png", "img2b.png", "a.png"]
    assert sorted(names, key=natural_key) == ["a.png", "IMG1.png", "img2.png", "img2b.png", "img10.png"]


def test_sampler_frame_skip_and_target_fps() -> None:
    skip = FrameSampler(frame_skip=2)
    assert [i for i in range(10) if skip.keep(i, i / 10)] == [0, 3, 6, 9]
    rate = FrameSampler(target_fps=5.0)  # 25 fps input, 2 s
    kept = [i for i in range(50) if rate.keep(i, i / 25)]
    assert len(kept) == 10
    both = FrameSampler(frame_skip=1, target_fps=5.0)
    assert [i for i in range(25) if both.keep(i, i / 25)] == [0, 6, 10, 16, 20]


def test_backoff_doubles_up_to_the_cap() -> None:
    assert list(islice(backoff_delays(1.0, 10.0), 6)) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
