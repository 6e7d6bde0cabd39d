"""Training augmentation: network-sized RGB outputs, seeded; far-camera crops lose the fine detail; motion
streaks smear along their direction."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ovr_alpr.train.data import augment, far_camera, motion_streak  # noqa: E402


def _plate() -> np.ndarray:
    """A sharp black-on-white 'plate' (BGR, 60 x 240)."""
    img = np.full((60, 240, 3), 235, np.uint8)
    cv2.putText(img, "AB12CD", (12, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (10, 10, 10), 4, cv2.LINE_AA)
    return img


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_augment_is_seeded_and_network_sized():
    a = augment(_plate(), np.random.default_rng(5), 128, 64, camera=0.5)
    b = augment(_plate(), np.random.default_rng(5), 128, 64, camera=0.5)
    assert a.shape == (64, 128, 3) and a.dtype == np.uint8 and np.array_equal(a, b)


def test_far_camera_crops_are_softer_than_plain_resizes():
    plate = _plate()
    plain = cv2.resize(plate, (128, 64), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    soft = [far_camera(plate, rng, 128, 64) for _ in range(40)]
    assert all(s.shape == (64, 128, 3) and s.dtype == np.uint8 for s in soft)
    # the plate went through 18-40 px and back: much of its fine detail is gone
    assert np.median([_sharpness(s) for s in soft]) < 0.6 * _sharpness(plain)


def test_camera_probability_switches_the_path():
    plate = _plate()
    never = augment(plate, np.random.default_rng(2), 128, 64, camera=0.0)
    always = augment(plate, np.random.default_rng(2), 128, 64, camera=1.0)
    assert not np.array_equal(never, always)


def _profile_sharpness(img: np.ndarray, axis: int) -> float:
    """Mean absolute difference of neighbouring pixels along `axis` (1: across columns, 0: across rows)."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(np.diff(grey, axis=axis)).mean())


def test_a_motion_streak_smears_mostly_sideways_and_keeps_the_size():
    plate = cv2.resize(_plate(), (128, 64), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(1)
    smeared = [motion_streak(plate, rng) for _ in range(60)]
    assert all(s.shape == plate.shape and s.dtype == np.uint8 for s in smeared)
    across = [_profile_sharpness(s, 1) / _profile_sharpness(plate, 1) for s in smeared]
    down = [_profile_sharpness(s, 0) / _profile_sharpness(plate, 0) for s in smeared]
    # every streak blurs the plate in some direction (the shortest, 2-3 px, only a little); most are
    # sideways, so edges across columns lose more than edges across rows
    assert max(min(a, d) for a, d in zip(across, down, strict=True)) < 0.97
    assert np.median(across) < 0.8 and np.median(across) < np.median(down)


def test_motion_blur_off_leaves_the_random_stream_as_it_was():
    # a model card's command must still make the same crops: no draw is spent when motion_blur is 0
    plate = _plate()
    before = augment(plate, np.random.default_rng(4), 128, 64, camera=0.5)
    off = augment(plate, np.random.default_rng(4), 128, 64, camera=0.5, motion_blur=0.0)
    on = augment(plate, np.random.default_rng(4), 128, 64, camera=0.5, motion_blur=1.0)
    assert np.array_equal(before, off) and not np.array_equal(off, on)
