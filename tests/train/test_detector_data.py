"""The detector's YOLO dataset: labels from rendered boxes, photos linked not copied, manifest and counts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ovr_alpr.train.detector_data import build_dataset, read_manifest, scene_label_lines


def test_label_lines_are_normalised_centre_and_size():
    lines = scene_label_lines(np.array([[100, 50, 300, 150]]), (400, 200))
    assert lines == ["0 0.500000 0.500000 0.500000 0.500000"]


def _fake_detect_set(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("val", 1)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(
                str(root / "images" / split / f"olpr_{i}.jpg"), rng.integers(0, 255, (60, 80, 3), np.uint8)
            )
            (root / "labels" / split / f"olpr_{i}.txt").write_text("0 0.5 0.5 0.2 0.1\n")


def test_build_dataset_links_photos_renders_scenes_and_writes_manifest(tmp_path):
    detect = tmp_path / "detect"
    _fake_detect_set(detect)
    out = tmp_path / "data"
    data_yaml, counts = build_dataset(out, detect, synth_train=2, synth_val=1, seed=0, progress=False)
    assert f"path: {out.resolve()}" in data_yaml.read_text()
    linked = out / "images" / "train" / "olpr_0.jpg"
    assert linked.is_symlink() and linked.resolve() == (detect / "images" / "train" / "olpr_0.jpg").resolve()
    assert counts.images == {"train": {"olpr": 3, "synth": 2}, "val": {"olpr": 1, "synth": 1}}
    scene_label = (out / "labels" / "train" / "synth_0000000.txt").read_text().splitlines()
    assert scene_label and all(line.startswith("0 ") and len(line.split()) == 5 for line in scene_label)
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == 7 and all(Path(f).is_file() for f, _, _ in manifest)
    assert json.loads((out / "counts.json").read_text())["images"] == counts.images

    first = (out / "images" / "train" / "synth_0000001.jpg").read_bytes()
    build_dataset(out, detect, synth_train=2, synth_val=1, seed=0, progress=False)  # a rebuild keeps them
    assert (out / "images" / "train" / "synth_0000001.jpg").read_bytes() == first


def test_a_built_dataset_is_reused_where_it_was_moved(tmp_path):
    import shutil

    import pytest

    from ovr_alpr.errors import ConfigError
    from ovr_alpr.train.detector import use_dataset

    built = tmp_path / "built"
    build_dataset(built, None, synth_train=1, synth_val=1, seed=0, progress=False)
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(built, moved)
    data_yaml = use_dataset(moved)
    assert f"path: {moved.resolve()}" in data_yaml.read_text()  # no longer the folder it was built in
    (moved / "counts.json").unlink()
    with pytest.raises(ConfigError, match=r"missing counts\.json"):
        use_dataset(moved)
