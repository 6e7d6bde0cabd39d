"""No evaluation image in any training list: by path or by image hash, and the check catches a planted one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.train.detector_data import read_manifest, real_images
from ovr_alpr.train.eval_guard import eval_images, find_leaks

DETECT = Path(__file__).resolve().parents[3] / "shared" / "data" / "train" / "detect"
RUN_MANIFEST = Path(__file__).resolve().parents[2] / "out" / "detector" / "data" / "manifest.csv"


def _photo(rng: np.random.Generator, size=(480, 640)) -> np.ndarray:
    """A random smooth 'photo' (blobs), so that hashes of different ones differ as for real photos."""
    low = rng.uniform(0, 255, (6, 8, 3)).astype(np.float32)
    return cv2.resize(low, size[::-1], interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


def test_guard_catches_eval_paths_and_reencoded_copies(tmp_path):
    rng = np.random.default_rng(0)
    eval_dir, train_dir = tmp_path / "eval", tmp_path / "train"
    eval_dir.mkdir()
    train_dir.mkdir()
    for i in range(5):
        cv2.imwrite(str(eval_dir / f"e{i}.jpg"), _photo(rng))
    clean = []
    for i in range(20):
        path = train_dir / f"t{i}.jpg"
        cv2.imwrite(str(path), _photo(rng))
        clean.append((path, None, None))
    assert find_leaks(clean, [eval_dir]) == []

    copy = train_dir / "copy.png"  # resized and re-encoded: same picture, other bytes
    cv2.imwrite(str(copy), cv2.resize(cv2.imread(str(eval_dir / "e3.jpg")), (320, 240)))
    link = train_dir / "link.jpg"
    link.symlink_to(eval_dir / "e1.jpg")
    leaks = find_leaks([*clean, (copy, None, None), (link, None, None)], [eval_dir])
    assert {(Path(leak.train_path).name, Path(leak.eval_path).name) for leak in leaks} == {
        ("copy.png", "e3.jpg"),
        ("link.jpg", "e1.jpg"),
    }
    assert {leak.reason.split()[0] for leak in leaks} == {"phash", "path"}


@pytest.mark.shared_data
def test_no_training_image_is_an_eval_image(openalpr_dir, tmp_path):
    if not DETECT.is_dir():
        pytest.skip(f"{DETECT} is absent (training data lives in ../shared/data/train)")
    evals = eval_images([openalpr_dir])
    assert len(evals) > 200
    train = [(image, None, None) for _, image, _ in real_images(DETECT)]
    assert len(train) > 1500
    assert find_leaks(train, [openalpr_dir], evals) == []
    if RUN_MANIFEST.is_file():  # the list a training run of this checkout actually used
        assert find_leaks(read_manifest(RUN_MANIFEST), [openalpr_dir], evals) == []

    # the same check catches one evaluation image planted in the list, by path and as a re-encoded copy
    planted = evals[len(evals) // 2].path
    copy = tmp_path / "innocent_name.jpg"
    cv2.imwrite(str(copy), cv2.imread(str(planted)), [cv2.IMWRITE_JPEG_QUALITY, 70])
    leaks = find_leaks([*train[:50], (planted, None, None), (copy, None, None)], [openalpr_dir], evals)
    assert [Path(leak.eval_path) for leak in leaks] == [planted, planted]
    assert [leak.reason.split()[0] for leak in leaks] == ["path", "phash"]
