"""The shipped plate detectors' training photos (`tests/data/plate_detector_manifest.csv.gz`) hold no
evaluation image. The default detector (`plate_detector.md`) and the one trained on the CPU alone
(`plate_detector_cpu.md`) trained on the same photos in the same splits.

Every stage trained on the same 1,539 photos of `../shared/data/train/detect` (plus scenes the project renders
from seeds); the record names each photo by its path under `../shared/data/train` with digests of its file and
its perceptual and average hashes. The check re-reads every photo from `../shared` and compares it by path
and by hash with every evaluation image (`train.eval_guard.find_leaks`, as `train detector` does before
training).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from pathlib import Path

import pytest

from ovr_alpr.train.eval_guard import eval_images, find_leaks

SHARED = Path(__file__).resolve().parents[3] / "shared"
EVAL = SHARED / "data" / "openalpr"
TRAIN = SHARED / "data" / "train"
RECORD = Path(__file__).resolve().parents[1] / "data" / "plate_detector_manifest.csv.gz"

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def records() -> list[dict]:
    if not EVAL.is_dir() or not TRAIN.is_dir():
        pytest.skip(f"{EVAL} or {TRAIN} is absent (third-party data lives in ../shared/data)")
    with gzip.open(RECORD, "rt") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def evals():
    return eval_images([EVAL])


def test_record_is_the_data_in_shared(records):
    assert len(records) == 1539 and {r["split"] for r in records} == {"train", "val"}
    changed = [
        r["path"]
        for r in records
        if hashlib.sha1((TRAIN / r["path"]).read_bytes()).hexdigest()[:16] != r["file_sha1"]
    ]
    assert changed == []


def test_shipped_detector_trained_on_no_evaluation_image(records, evals):
    # hashes recomputed from the files (None), not taken from the record
    photos = [(TRAIN / r["path"], None, None) for r in records]
    assert find_leaks(photos, [EVAL], evals) == []


def test_the_check_catches_an_evaluation_image_by_path_and_by_hash(records, evals, tmp_path):
    eval_image = sorted(EVAL.rglob("*.jpg"))[3]
    copy = tmp_path / "renamed.jpg"
    copy.write_bytes(eval_image.read_bytes())  # the same picture under another name
    planted = [(TRAIN / records[0]["path"], None, None), (eval_image, None, None), (copy, None, None)]
    leaks = find_leaks(planted, [EVAL], evals)
    assert len(leaks) == 2 and leaks[0].reason == "path"
    assert leaks[1].train_path == str(copy) and "phash 0" in leaks[1].reason
