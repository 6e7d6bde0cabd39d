from datetime import datetime, timezone

import numpy as np

from ovr_alpr.config import OcrConfig
from ovr_alpr.ocr.policy import OcrPolicy
from ovr_alpr.plate_text import PlateText
from ovr_alpr.plate_text.fusion import fuse_reads
from ovr_alpr.track.state import Shot, TrackState


def _read(text, p=0.9):
    return PlateText(text, p, (p,) * len(text))


def test_fusion_votes_per_character():
    fused = fuse_reads([_read("AB123"), _read("A8123", 0.6), _read("AB123")])
    assert fused.text == "AB123"
    assert 0.6 < fused.confidence < 0.9  # the disputed character lowers it


def test_fusion_prefers_the_length_with_most_confidence():
    assert fuse_reads([_read("AB123"), _read("AB1234", 0.5), _read("AB123")]).text == "AB123"


def test_fusion_single_read_keeps_its_confidence_and_empty_reads_are_ignored():
    fused = fuse_reads([_read("XY99", 0.8), PlateText("", 0.0)])
    assert fused.text == "XY99" and abs(fused.confidence - 0.8) < 1e-9
    assert fuse_reads([]).text == ""


def _shot(q=1.0):
    now = datetime.now(timezone.utc)
    return Shot(np.zeros((10, 40, 3), np.uint8), np.zeros(4), 0.9, q, 0, now, 0.0)


def _state():
    return TrackState(1, "cam0", 0, 0, (0.0, 0.0))


def test_policy_waits_for_a_stable_track_then_throttles():
    policy = OcrPolicy(OcrConfig(min_track_frames=2, attempt_every_frames=3, max_attempts=2))
    s = _state()
    s.frames_seen = 1
    assert not policy.wants_read(s, 1.0, step=1)
    s.frames_seen = 2
    assert policy.wants_read(s, 1.0, step=2)
    policy.add_read(s, _read("AB12", 0.5), _shot(), step=2)
    assert not policy.wants_read(s, 1.0, step=3)  # too soon
    assert policy.wants_read(s, 1.0, step=5)
    policy.add_read(s, _read("AB12", 0.5), _shot(), step=5)
    assert s.ocr_done and not policy.wants_read(s, 1.0, step=9)  # attempts used up


def test_policy_skips_poor_shots():
    policy = OcrPolicy(OcrConfig(min_track_frames=1))
    s = _state()
    s.frames_seen, s.best_quality = 3, 0.8
    assert not policy.wants_read(s, 0.3, step=3)
    assert policy.wants_read(s, 0.7, step=3)


def test_policy_final_when_confident_and_at_track_end_above_threshold():
    cfg = OcrConfig(confidence_target=0.95, min_confidence=0.6)
    policy = OcrPolicy(cfg)
    s = _state()
    assert policy.add_read(s, _read("AB123", 0.97), _shot(), step=1)
    assert s.final.text == "AB123" and s.ocr_done

    weak = _state()
    assert not policy.add_read(weak, _read("CD456", 0.7), _shot(), step=1)
    assert policy.finish(weak).text == "CD456"
    poor = _state()
    policy.add_read(poor, _read("EF789", 0.3), _shot(), step=1)
    assert policy.finish(poor) is None


def test_best_shot_is_the_best_quality_times_confidence():
    policy = OcrPolicy(OcrConfig(confidence_target=1.0))
    s = _state()
    policy.add_read(s, _read("AB123", 0.9), _shot(0.4), step=1)
    policy.add_read(s, _read("AB123", 0.8), _shot(0.9), step=3)
    assert s.best.quality == 0.9
