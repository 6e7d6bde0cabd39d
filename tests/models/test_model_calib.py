"""`ovr-alpr calib` on a generated video: frame stride, per-video cap, near-duplicate skipping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ovr_alpr.cli import main
from ovr_alpr.runtime.calibration import CalibrationSet
from ovr_alpr.tools.calibrate import build_calibration_set


@pytest.fixture
def clip(tmp_path):
    """40 frames: 20 identical grey frames, then 20 frames of a square moving across a changing background."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    assert writer.isOpened()
    for i in range(40):
        frame = np.full((120, 160, 3), 90, np.uint8)
        if i >= 20:
            frame[:] = (i * 6) % 255
            x = (i - 20) * 6
            cv2.rectangle(frame, (x, 30), (x + 40, 90), (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def test_calib_takes_every_nth_frame_and_skips_duplicates(clip, tmp_path):
    out = tmp_path / "calib"
    summary = build_calibration_set([clip], out, every=2, max_per_video=100, min_diff=4.0, progress=False)
    written = sorted(out.glob("*.jpg"))
    assert summary.written == len(written)
    assert summary.skipped_duplicates >= 8  # the static half is one image, not ten
    assert 5 <= summary.written <= 12
    assert all(int(p.stem.split("_f")[1]) % 2 == 0 for p in written)


def test_calib_respects_max_per_video(clip, tmp_path):
    summary = build_calibration_set(
        [clip], tmp_path / "c", every=1, max_per_video=3, min_diff=0.0, progress=False
    )
    assert summary.written == 3


def test_calib_cli_and_the_set_hash(clip, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "calib",
            "--source",
            str(clip),
            "--out",
            str(out),
            "--every",
            "5",
            "--max-per-video",
            "4",
            "--no-progress",
        ]
    )
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    first = CalibrationSet.from_folder(out)
    assert len(first.images) == len(list(out.glob("*.jpg"))) <= 4
    cv2.imwrite(str(out / "extra.jpg"), np.zeros((10, 10, 3), np.uint8))
    assert CalibrationSet.from_folder(out).sha256 != first.sha256


def test_calib_missing_source_is_an_error(tmp_path, capsys):
    code = main(["calib", "--source", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o")])
    assert code != 0
    assert "not found" in capsys.readouterr().err
