"""Generated clips and still images: determinism, manifest consistency, label layout."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.synth.clip import ClipManifest, make_clip, make_images, render_clip_frames

SMALL = {"vehicles": 2, "size": (640, 360), "seconds": 2.4, "fps": 10}


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory) -> tuple[Path, ClipManifest]:
    path = tmp_path_factory.mktemp("clip") / "small.mp4"
    return path, make_clip(path, seed=3, **SMALL)


def _decoded_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_manifest_matches_the_written_clip(small_clip: tuple[Path, ClipManifest]) -> None:
    path, manifest = small_clip
    assert manifest.frame_count == round(SMALL["seconds"] * SMALL["fps"]) == _decoded_frames(path)
    assert (manifest.width_px, manifest.height_px) == SMALL["size"]
    assert len(manifest.vehicles) == SMALL["vehicles"]
    assert ClipManifest.read_json(path.with_suffix(".json")) == manifest


def test_every_vehicle_enters_shows_its_plate_and_leaves(small_clip: tuple[Path, ClipManifest]) -> None:
    _, manifest = small_clip
    for vehicle in manifest.vehicles:
        assert re.fullmatch(r"[A-Z0-9]{5,8}", vehicle.plate_text)
        assert 0 < vehicle.first_frame < vehicle.last_frame < manifest.frame_count - 1
        frames = vehicle.plate_frames
        assert len(frames) >= 3
        assert vehicle.first_frame <= frames[0] and frames[-1] <= vehicle.last_frame
        assert frames == list(range(frames[0], frames[-1] + 1))  # in view without gaps
    first, second = manifest.vehicles
    assert first.first_frame < second.first_frame <= first.last_frame  # one after the other, overlapping


def test_plate_boxes_lie_inside_the_frame_and_have_plate_proportions(
    small_clip: tuple[Path, ClipManifest],
) -> None:
    _, manifest = small_clip
    for vehicle in manifest.vehicles:
        for x1, y1, x2, y2 in vehicle.plate_boxes_xyxy.values():
            assert 0 <= x1 < x2 <= manifest.width_px and 0 <= y1 < y2 <= manifest.height_px
            assert 3.0 < (x2 - x1) / (y2 - y1) < 6.0
            # ~110-180 px at 720p, so half that at 360p
            assert 50 < x2 - x1 < 100


def test_same_seed_same_frames_other_seed_other_clip() -> None:
    frames_a, manifest_a = render_clip_frames(seed=4, **SMALL)
    frames_b, manifest_b = render_clip_frames(seed=4, **SMALL)
    assert manifest_a == manifest_b
    assert all(np.array_equal(a, b) for a, b in zip(frames_a, frames_b, strict=True))
    _, manifest_c = render_clip_frames(seed=5, **SMALL)
    assert [v.plate_text for v in manifest_c.vehicles] != [v.plate_text for v in manifest_a.vehicles]


def test_plate_pixels_are_where_the_manifest_says() -> None:
    frames, manifest = render_clip_frames(seed=6, **SMALL)
    for index, frame in enumerate(frames):
        for _, (x1, y1, x2, y2) in manifest.plates_in_frame(index):
            crop = frame[int(y1) + 1 : int(y2) - 1, int(x1) + 1 : int(x2) - 1].astype(np.float32)
            assert crop.mean() > 120  # mostly the light plate sheet
            assert crop.std() > 30  # with dark characters on it


def test_impossible_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        render_clip_frames(vehicles=0)
    with pytest.raises(ValueError, match="vehicles need"):
        render_clip_frames(vehicles=6, seconds=2.0)


def test_images_have_openalpr_labels(tmp_path: Path) -> None:
    labeled = make_images(tmp_path, 4, seed=2, size=(800, 600))
    assert [p.image_path.name for p in labeled] == [f"synth-{i:04d}.jpg" for i in range(4)]
    for item in labeled:
        line = item.label_path.read_text()
        assert line.endswith("\n") and line.count("\n") == 1
        name, x, y, w, h, plate = line.rstrip("\n").split("\t")
        assert name == item.image_path.name and plate == item.plate_text
        x, y, w, h = map(int, (x, y, w, h))
        assert (x, y, w, h) == item.plate_box_xywh
        image = cv2.imread(str(item.image_path))
        assert image.shape[:2] == (600, 800)
        assert x >= 0 and y >= 0 and x + w <= 800 and y + h <= 600 and 3.0 < w / h < 6.0
    again = make_images(tmp_path / "again", 4, seed=2, size=(800, 600))
    assert [(a.plate_text, a.plate_box_xywh) for a in again] == [
        (b.plate_text, b.plate_box_xywh) for b in labeled
    ]
