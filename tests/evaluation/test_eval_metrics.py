"""Scoring rules of `ovr-alpr eval` on hand-made boxes and texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ovr_alpr.evaluation.datasets import LabelledImage
from ovr_alpr.evaluation.metrics import (
    PlateOutcome,
    SizeRecall,
    Tally,
    cer,
    confusable_match,
    exact_match,
    match_boxes,
    pick_reads,
    size_bucket,
)
from ovr_alpr.evaluation.runner import score_image
from ovr_alpr.pipeline.alpr import PlateRead


@pytest.mark.parametrize(
    ("read", "label", "expected"),
    [
        ("AB123CD", "AB123CD", True),
        ("ab-123 cd", "AB 123 CD", True),
        ("AB·123·CD", "ab123cd", True),
        ("AB123C", "AB123CD", False),
        ("", "AB123CD", False),
        ("RK099AN", "RKO99AN", False),
    ],
)
def test_exact_match_compares_upper_case_alphanumerics(read, label, expected):
    assert exact_match(read, label) is expected


def test_confusable_match_treats_o_as_0_and_i_as_1():
    assert confusable_match("RK099AN", "RKO99AN")
    assert confusable_match("LM298A1", "LM298AI")
    assert not confusable_match("RK099AB", "RKO99AN")


@pytest.mark.parametrize(
    ("read", "label", "expected"),
    [
        ("AB123", "AB123", 0.0),
        ("AB-123", "ab123", 0.0),
        ("AB124", "AB123", 0.2),  # one substitution in five
        ("AB12", "AB123", 0.2),  # one deletion
        ("XAB123", "AB123", 0.2),  # one insertion
        ("", "AB123", 1.0),
        ("ABCDEFGHIJ", "AB123", 8 / 5),  # can exceed 1
    ],
)
def test_cer_is_levenshtein_over_label_length(read, label, expected):
    assert cer(read, label) == pytest.approx(expected)


def test_match_boxes_is_one_to_one_most_confident_first():
    label = np.array([[0, 0, 100, 40]], dtype=np.float32)
    preds = np.array([[2, 0, 100, 40], [0, 0, 98, 40]], dtype=np.float32)  # both overlap the label well
    matched = match_boxes(preds, np.array([0.4, 0.9]), label)
    assert matched.tolist() == [1]  # the duplicate (less confident) box is left unmatched


def test_match_boxes_needs_iou_of_one_half():
    label = np.array([[0, 0, 100, 40]], dtype=np.float32)
    inside_half = np.array([[0, 0, 50, 40]], dtype=np.float32)  # IoU 0.5 exactly
    inside_less = np.array([[0, 0, 49, 40]], dtype=np.float32)
    assert match_boxes(inside_half, np.array([0.9]), label).tolist() == [0]
    assert match_boxes(inside_less, np.array([0.9]), label).tolist() == [-1]


def test_match_boxes_gives_each_label_its_own_box():
    labels = np.array([[0, 0, 100, 40], [200, 0, 300, 40]], dtype=np.float32)
    preds = np.array([[205, 0, 300, 40], [0, 2, 100, 40], [600, 0, 700, 40]], dtype=np.float32)
    assert match_boxes(preds, np.array([0.5, 0.6, 0.99]), labels).tolist() == [1, 0]


def test_match_boxes_with_nothing_to_match():
    assert match_boxes(np.empty((0, 4)), np.empty(0), np.array([[0, 0, 1, 1.0]])).tolist() == [-1]
    assert match_boxes(np.array([[0, 0, 1, 1.0]]), np.array([0.5]), np.empty((0, 4))).tolist() == []


def test_pick_reads_falls_back_to_most_confident_unmatched_read_with_text():
    label = np.array([[0, 0, 100, 40]], dtype=np.float32)
    # neither box overlaps the label enough; the empty read is more confident but has no text
    preds = np.array([[0, 0, 30, 40], [60, 0, 100, 40], [300, 0, 400, 40]], dtype=np.float32)
    box_match, text_pick = pick_reads(preds, np.array([0.5, 0.9, 0.7]), ["AB123", "", "XY999"], label)
    assert box_match.tolist() == [-1]
    assert text_pick.tolist() == [2]


def test_pick_reads_prefers_the_matched_box_even_if_less_confident():
    label = np.array([[0, 0, 100, 40]], dtype=np.float32)
    preds = np.array([[0, 0, 100, 40], [300, 0, 400, 40]], dtype=np.float32)
    box_match, text_pick = pick_reads(preds, np.array([0.4, 0.9]), ["AB123", "XY999"], label)
    assert box_match.tolist() == [0]
    assert text_pick.tolist() == [0]


def test_pick_reads_without_reads():
    box_match, text_pick = pick_reads(np.empty((0, 4)), np.empty(0), [], np.array([[0, 0, 1, 1.0]]))
    assert box_match.tolist() == [-1] and text_pick.tolist() == [-1]


def _read(xyxy, text, conf=0.8):
    return PlateRead(xyxy=xyxy, detection_confidence=conf, text=text, raw_text=text, confidence=0.9)


def test_score_image_and_tally():
    sample = LabelledImage(Path("/data/set/a.jpg"), np.array([[10, 10, 110, 50]]), ["AB-123"])
    hit = score_image(
        sample,
        [_read((12, 10, 110, 50), "AB123"), _read((400, 0, 500, 40), "ZZ999", 0.95)],
        Path("/data/set"),
    )
    assert hit == [
        PlateOutcome(
            "a.jpg", "AB-123", "AB123", True, (10.0, 10.0, 110.0, 50.0), (12.0, 10.0, 110.0, 50.0), 0.9
        )
    ]
    other = LabelledImage(Path("/data/set/sub/b.jpg"), np.array([[0, 0, 100, 40]]), ["CD456"])
    miss = score_image(other, [], Path("/data/set"))
    assert miss[0].file == "sub/b.jpg" and miss[0].read == "" and not miss[0].detected

    tally = Tally()
    tally.add(hit, n_predictions=2)
    tally.add(miss, n_predictions=0)
    assert tally.images == 2 and tally.labels == 2
    assert tally.exact_match == 0.5
    assert tally.detection_recall == 0.5
    assert tally.detection_precision == 0.5  # the unlabelled ZZ999 plate counts against precision
    assert tally.cer == pytest.approx(5 / 10)  # 0 edits on AB123, 5 on CD456


def test_tally_without_text_labels_reports_detection_only():
    sample = LabelledImage(Path("x.jpg"), np.array([[0, 0, 100, 40]]))  # YOLO label: box, no text
    tally = Tally()
    tally.add(score_image(sample, [_read((0, 0, 100, 40), "AB123")]), n_predictions=1)
    assert tally.exact_match is None and tally.cer is None
    assert tally.detection_recall == 1.0 and tally.detection_precision == 1.0


@pytest.mark.parametrize(
    ("width", "bucket"),
    [
        (20.0, "small"),
        (63.9, "small"),
        (64.0, "medium"),
        (279.0, "medium"),
        (280.0, "closeup"),
        (900, "closeup"),
    ],
)
def test_size_buckets_by_plate_width(width, bucket):
    assert size_bucket(width) == bucket


def test_tally_splits_detection_recall_by_plate_size():
    labels = np.array([[0, 0, 40, 12], [100, 0, 300, 50], [0, 100, 500, 220], [600, 0, 640, 12.0]])
    sample = LabelledImage(Path("x.jpg"), labels)
    # found: the medium plate and the close-up; missed: both small ones
    reads = [_read((100, 0, 300, 50), ""), _read((0, 100, 500, 220), "")]
    tally = Tally()
    tally.add(score_image(sample, reads), n_predictions=2)
    by_size = tally.by_size.to_dict()
    assert list(by_size) == ["small", "medium", "closeup"]
    assert by_size["small"] == {"labels": 2, "detected": 0, "recall": 0.0}
    assert by_size["medium"] == {"labels": 1, "detected": 1, "recall": 1.0}
    assert by_size["closeup"] == {"labels": 1, "detected": 1, "recall": 1.0}
    assert SizeRecall().to_dict()["closeup"]["recall"] is None  # no label of that size: no rate


def test_reads_by_confidence_counts_what_each_threshold_publishes():
    from ovr_alpr.evaluation.metrics import reads_by_confidence

    box = (0.0, 0.0, 100.0, 40.0)
    outcomes = [
        PlateOutcome("a.jpg", "AB123", "AB123", True, box, box, 0.97),
        PlateOutcome("b.jpg", "CD456", "CD458", True, box, box, 0.55),  # wrong and unsure
        PlateOutcome("c.jpg", "EF789", "EF789", True, box, box, 0.7),
        PlateOutcome("d.jpg", "GH111", "", False, box, None, None),  # not found: never published
        PlateOutcome("e.jpg", "", "XY1", True, box, box, 0.99),  # no text label: not counted
    ]
    rows = {r["threshold"]: r for r in reads_by_confidence(outcomes, (0.0, 0.6, 0.9, 0.99))}
    assert (rows[0.0]["published"], rows[0.0]["right"], rows[0.0]["wrong"]) == (3, 2, 1)
    assert rows[0.0]["share"] == 3 / 4 and rows[0.0]["precision"] == 2 / 3
    assert (rows[0.6]["published"], rows[0.6]["wrong"], rows[0.6]["precision"]) == (2, 0, 1.0)
    assert rows[0.9]["published"] == 1
    assert rows[0.99]["published"] == 0 and rows[0.99]["precision"] is None
