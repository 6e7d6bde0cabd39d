"""The shipped readers' training manifests (`tests/data/plate_reader_manifest.jsonl.gz`, and
`plate_reader_blur_manifest.jsonl.gz` of the second opinion, `plate_reader_context_manifest.jsonl.gz` of the
`ovr_context` reader) hold no evaluation image or plate text.

The record names each real training crop by its path under `../shared/data/train`, its box and a digest of its
file and label (the third-party data and labels stay out of the repository); the check re-reads every crop
from `../shared` and compares it, and the label digests, with the evaluation sets.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from ovr_alpr.train.manifest import Entry, EvalGuard, load_entry_image

SHARED = Path(__file__).resolve().parents[3] / "shared"
EVAL = SHARED / "data" / "openalpr"
TRAIN = SHARED / "data" / "train"
DATA = Path(__file__).resolve().parents[1] / "data"
ASSETS = Path(__file__).resolve().parents[2] / "src" / "ovr_alpr" / "assets"
# every shipped reader has its record, named after it
RECORDS = [DATA / f"{model.stem}_manifest.jsonl.gz" for model in sorted(ASSETS.glob("plate_reader*.onnx"))]

pytestmark = pytest.mark.shared_data


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def record_leaks(records: list[dict], guard: EvalGuard) -> list[str]:
    """Records whose label digest is an evaluation text's, or whose crop is an evaluation image."""
    eval_texts = {digest(t.encode()) for t in guard.texts}
    out = []
    for r in records:
        if r["text_sha1"] in eval_texts:
            out.append(f"text of {r['path']}")
            continue
        path = TRAIN / r["path"]
        image = load_entry_image(Entry(str(path), "", r["source"], "", box=tuple(r["box"])))
        if image is None:
            out.append(f"missing {r['path']}")
        elif guard.image_leaks(image, str(path)):
            out.append(f"image {r['path']} (phash distance {guard.nearest(image)})")
    return out


@pytest.fixture(scope="module")
def guard() -> EvalGuard:
    if not EVAL.is_dir() or not TRAIN.is_dir():
        pytest.skip(f"{EVAL} or {TRAIN} is absent (third-party data lives in ../shared/data)")
    return EvalGuard(EVAL)


@pytest.fixture(scope="module", params=RECORDS, ids=lambda p: p.name.split(".")[0])
def records(request) -> list[dict]:
    with gzip.open(request.param, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_record_is_the_data_in_shared(records):
    if not TRAIN.is_dir():
        pytest.skip(f"{TRAIN} is absent")
    assert len(records) > 5000
    changed = [r["path"] for r in records if digest((TRAIN / r["path"]).read_bytes()) != r["file_sha1"]]
    assert changed == []


def test_shipped_reader_trained_on_no_evaluation_plate(records, guard):
    assert record_leaks(records, guard) == []


def test_the_check_catches_planted_records(records, guard, tmp_path):
    clean = records[0]
    eval_text = sorted(guard.texts)[0]
    eval_image = sorted(EVAL.rglob("*.jpg"))[5]
    planted = [
        {**clean, "text_sha1": digest(eval_text.encode())},  # an evaluation plate text
        {**clean, "path": str(Path("..") / "openalpr" / eval_image.relative_to(EVAL)), "box": []},
        clean,
    ]
    assert len(record_leaks(planted, guard)) == 2
