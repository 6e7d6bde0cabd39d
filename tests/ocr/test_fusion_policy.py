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


def _shot(q=1.0, width=120):
    now = datetime.now(timezone.utc)
    return Shot(np.zeros((width // 4, width, 3), np.uint8), np.zeros(4), 0.9, q, 0, now, 0.0)


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


def _spend(policy, s, reads, qualities, first_step=2):
    """Read the track once per (read, quality) at the policy's pace; returns the next free step."""
    step = first_step
    for r, q in zip(reads, qualities, strict=True):
        s.best_quality = max(s.best_quality, q)
        assert policy.wants_read(s, q, step)
        policy.add_read(s, r, _shot(q, width=int(q * 160)), step)
        step += policy.cfg.attempt_every_frames
    return step


def test_an_approaching_plate_is_read_again_on_a_clearly_better_shot():
    policy = OcrPolicy(OcrConfig(max_attempts=2, attempt_every_frames=1, reread_gain=1.25))
    s = _state()
    s.frames_seen = 5
    step = _spend(policy, s, [_read("K248A", 0.5), _read("RK248A", 0.5)], [0.3, 0.32])
    assert not s.ocr_done  # a better shot may still come
    assert not policy.wants_read(s, 0.38, step)  # better, but not by the gain
    assert policy.wants_read(s, 0.41, step)
    policy.add_read(s, _read("RK248AH", 0.8), _shot(0.41, width=70), step)
    assert not policy.wants_read(s, 0.45, step + 1)
    assert policy.wants_read(s, 0.6, step + 1)


def test_reads_of_much_worse_shots_stop_counting_once_the_plate_was_read_large():
    policy = OcrPolicy(OcrConfig(max_attempts=3, attempt_every_frames=1, confidence_target=1.0))
    s = _state()
    s.frames_seen = 5
    step = _spend(policy, s, [_read("RK248A", 0.8)] * 3, [0.25, 0.26, 0.27])
    assert policy.fused(s).text == "RK248A"
    policy.add_read(s, _read("RK248AH", 0.9), _shot(0.8), step)
    assert policy.finish(s).text == "RK248AH"
    # without the filter the three small reads would have outvoted it
    assert fuse_reads(s.reads).text == "RK248A"


def test_a_confident_read_of_a_narrow_plate_waits_for_the_track_end():
    policy = OcrPolicy(OcrConfig(confidence_target=0.95, final_min_width_px=80))
    s = _state()
    assert not policy.add_read(s, _read("AB123", 0.99), _shot(0.3, width=50), step=1)
    assert not s.ocr_done and s.final is None
    assert policy.finish(s).text == "AB123"
    wide = _state()
    assert policy.add_read(wide, _read("AB123", 0.99), _shot(0.6, width=96), step=1)


def test_a_track_without_a_better_shot_is_done_after_the_patience():
    policy = OcrPolicy(OcrConfig(max_attempts=1, reread_patience_frames=10))
    s = _state()
    s.frames_seen = 5
    step = _spend(policy, s, [_read("AB12", 0.5)], [0.5])
    assert not policy.wants_read(s, 0.5, step + 5) and not s.ocr_done
    assert not policy.wants_read(s, 0.5, step + 10) and s.ocr_done
    never = OcrPolicy(OcrConfig(max_attempts=1, reread_gain=None))
    t = _state()
    t.frames_seen = 5
    _spend(never, t, [_read("AB12", 0.5)], [0.2])
    assert t.ocr_done  # the old rule: attempts spent, done


def test_a_garbled_read_is_an_attempt_not_a_vote():
    """wts-lg-000148 approaching in a 1080p frame: a loose box around the 41 px plate read `6X8Z4` at 0.21
    on a shot scored higher than the plate's later ones; it halved the confident read's fused confidence."""
    for floor, published in ((0.3, "6TIX874"), (0.0, None)):
        policy = OcrPolicy(OcrConfig(min_read_confidence=floor, final_min_width_px=200))
        s = _state()
        policy.add_read(s, _read("6X8Z4", 0.21), _shot(0.44, width=79), step=3)
        policy.add_read(s, _read("6TIX874", 0.96), _shot(0.55, width=94), step=34)
        assert s.attempts == 2 and len(s.reads) == (1 if floor else 2)
        fused = policy.finish(s)
        assert (fused.text if fused else None) == published
