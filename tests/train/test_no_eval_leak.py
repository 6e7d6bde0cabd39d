"""No training manifest holds an evaluation image or plate text (`../shared/data/openalpr`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.train.manifest import (
    Entry,
    EvalGuard,
    drop_leaks,
    labelled_entries,
    load_entry_image,
    normalise,
    read_manifest,
)

SHARED = Path(__file__).resolve().parents[3] / "shared"
EVAL = SHARED / "data" / "openalpr"
OCR = SHARED / "data" / "train" / "ocr"
RUNS = Path(__file__).resolve().parents[2] / "out"

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def guard() -> EvalGuard:
    if not EVAL.is_dir() or not OCR.is_dir():
        pytest.skip(f"{EVAL} or {OCR} is absent (third-party data lives in ../shared/data)")
    return EvalGuard(EVAL)


def _leaks(entries: list[Entry], guard: EvalGuard) -> list[str]:
    out = []
    for e in entries:
        if guard.text_leaks(e.label):
            out.append(f"text {e.label} ({e.path})")
            continue
        image = load_entry_image(e)
        if image is not None and guard.image_leaks(image, e.path):
            out.append(f"image {e.path} (phash distance {guard.nearest(image)})")
    return out


def test_guard_knows_the_evaluation_sets(guard):
    assert len(guard.texts) > 150 and len(guard.hashes) > 400


def test_labelled_crops_hold_no_evaluation_plate(guard):
    assert _leaks(labelled_entries(OCR), guard) == []


def test_written_manifests_hold_no_evaluation_plate(guard):
    manifests = sorted(RUNS.glob("*/manifest.jsonl")) if RUNS.is_dir() else []
    if not manifests:
        pytest.skip("no training run under out/ (run `ovr-alpr train reader`)")
    seen: set[tuple] = set()
    for manifest in manifests:
        entries = [e for e in read_manifest(manifest) if (e.path, e.box, e.label) not in seen]
        seen.update((e.path, e.box, e.label) for e in entries)
        assert _leaks(entries, guard) == [], manifest
        synth = manifest.parent / "synth-labels.txt"
        if synth.is_file():
            texts = {normalise(t) for t in synth.read_text().split()}
            assert not texts & guard.texts, manifest


def test_the_check_catches_planted_evaluation_entries(guard, tmp_path):
    # copies of evaluation data under other names: a plate crop re-encoded as JPEG, a whole image resized and
    # re-encoded, the original image with its plate box; and an evaluation text on a clean training crop
    eval_image = sorted(EVAL.rglob("*.jpg"))[3]
    txt = eval_image.with_suffix(".txt").read_text().split("\t")
    x, y, w, h = (int(v) for v in txt[1:5])
    image = cv2.imread(str(eval_image))
    planted_crop = tmp_path / "crop.jpg"
    cv2.imwrite(str(planted_crop), image[y : y + h, x : x + w], [cv2.IMWRITE_JPEG_QUALITY, 70])
    planted_small = tmp_path / "small.jpg"
    smaller = cv2.resize(image, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(planted_small), smaller, [cv2.IMWRITE_JPEG_QUALITY, 70])
    planted_full = tmp_path / "full.jpg"
    cv2.imwrite(str(planted_full), image)
    clean = labelled_entries(OCR)[0]
    planted = [
        Entry(str(planted_crop), "ZZZ999", "planted", "-"),
        Entry(str(planted_small), "ZZZ997", "planted", "-"),
        Entry(str(planted_full), "ZZZ998", "planted", "-", box=(x, y, x + w, y + h)),
        Entry(clean.path, normalise(txt[5]), "planted", "-"),
        clean,
    ]
    leaks = _leaks(planted, guard)
    assert len(leaks) == 4, leaks
    kept, dropped = drop_leaks(planted, guard)
    assert kept == [clean] and dropped == 4


def test_phash_separates_different_plates(guard):
    # different training plates are far apart: the distance threshold does not drop real data wholesale
    entries = labelled_entries(OCR)[:200]
    distances = [guard.nearest(load_entry_image(e)) for e in entries]
    assert np.mean(distances) > 12
