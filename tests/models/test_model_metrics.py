"""AP at IoU 0.5, recall at a threshold, and the validate budget check, on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.tools.metrics import DetectionTally, average_precision, match_detections, normalise_plate
from ovr_alpr.tools.validate import check_budget, format_report

GT = np.array([[10, 10, 50, 30]], dtype=np.float32)


def test_perfect_detections_give_ap_one():
    tally = DetectionTally.new()
    for _ in range(3):
        tally.add(GT.copy(), np.array([0.9]), np.array([0]), GT, np.array([0]))
    assert tally.map50() == pytest.approx(1.0)
    assert tally.recall(0.5) == 1.0
    assert tally.recall(0.95) == 0.0


def test_confident_false_positive_lowers_ap_but_not_recall():
    tally = DetectionTally.new()
    miss = np.array([[200, 200, 240, 220]], dtype=np.float32)
    tally.add(np.concatenate([miss, GT]), np.array([0.95, 0.6]), np.array([0, 0]), GT, np.array([0]))
    tally.add(GT.copy(), np.array([0.9]), np.array([0]), GT, np.array([0]))
    assert 0.5 < tally.map50() < 1.0
    assert tally.recall(0.5) == 1.0


def test_missed_label_counts_against_recall_and_ap():
    tally = DetectionTally.new()
    tally.add(np.empty((0, 4)), np.empty(0), np.empty(0, dtype=np.int64), GT, np.array([0]))
    tally.add(GT.copy(), np.array([0.9]), np.array([0]), GT, np.array([0]))
    assert tally.recall(0.1) == 0.5
    assert tally.map50() == pytest.approx(0.5, abs=0.01)


def test_one_detection_matches_one_label_only():
    dets = np.concatenate([GT, GT + 1])
    tp, matched = match_detections(dets, np.array([0.8, 0.9]), GT)
    assert tp.tolist() == [False, True]  # the more confident duplicate wins, the other is a false positive
    assert matched[0] == pytest.approx(0.9)


def test_average_precision_edge_cases():
    assert average_precision(np.empty(0), np.empty(0, dtype=bool), 3) == 0.0
    assert np.isnan(average_precision(np.empty(0), np.empty(0, dtype=bool), 0))


def test_normalise_plate_keeps_upper_alphanumerics():
    assert normalise_plate("ab-12 cd") == "AB12CD"


def report(delta_int8: float, error: str | None = None) -> dict:
    int8 = {"map50": 0.9, "recall": 0.9, "ms": 5.0, "cpu_ms": 5.0, "delta_pts": delta_int8}
    if error:
        int8["error"] = error
    return {
        "model": "plate",
        "dataset": "d",
        "images": 3,
        "reference": "labels",
        "metric": "map50",
        "results": {
            "fp32": {"map50": 0.91, "recall": 0.9, "ms": 9.0, "cpu_ms": 9.0, "delta_pts": 0.0},
            "int8": int8,
        },
    }


def test_budget_check_flags_only_losses_over_budget():
    assert check_budget(report(-0.5), 1.0) == []
    assert check_budget(report(-1.5), 1.0) == ["int8"]
    assert check_budget(report(+2.0), 1.0) == []
    assert check_budget(report(0.0, error="no calibration"), 1.0) == ["int8"]
    text = format_report(report(-1.5), 1.0)
    assert "FAIL" in text and "int8" in text
