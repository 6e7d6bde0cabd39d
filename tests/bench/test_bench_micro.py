"""Micro-benchmarks of hot-path numpy ops on fixed inputs (pytest-benchmark; one plain run by default).

Run them for real with `pytest tests/bench --benchmark-enable`.
"""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.detect.ops import iou_matrix, nms
from ovr_alpr.evaluation.metrics import match_boxes
from ovr_alpr.imaging import Letterbox


@pytest.fixture(scope="module")
def candidate_boxes() -> tuple[np.ndarray, np.ndarray]:
    """2,000 candidate boxes in clusters around 40 plates, as a detector head gives before NMS."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(50, 1200, size=(40, 2))
    jitter = rng.normal(0, 3, size=(2000, 2))
    xy = centres[rng.integers(0, 40, 2000)] + jitter
    wh = rng.uniform(80, 120, size=(2000, 1)) * np.array([[1.0, 0.3]])
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1).astype(np.float32)
    return boxes, rng.uniform(0.1, 1.0, 2000).astype(np.float32)


def test_nms_on_clustered_boxes(benchmark, candidate_boxes):
    boxes, scores = candidate_boxes
    keep = benchmark(nms, boxes, scores, 0.5)
    assert 0 < len(keep) < len(boxes)
    assert np.all(iou_matrix(boxes[keep], boxes[keep])[np.triu_indices(len(keep), 1)] <= 0.5)


def test_letterbox_720p_to_640(benchmark):
    frame = np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    letterbox = Letterbox((640, 640))
    canvas, info = benchmark(letterbox, frame)
    assert canvas.shape == (640, 640, 3) and info.ratio == pytest.approx(0.5)


def test_eval_matching(benchmark, candidate_boxes):
    boxes, scores = candidate_boxes
    labels = boxes[:40] + 1.0
    matched = benchmark(match_boxes, boxes, scores, labels)
    assert len(matched) == 40
