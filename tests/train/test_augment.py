"""Training augmentation: network-sized RGB outputs, seeded; far-camera crops lose the fine detail."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ovr_alpr.train.data import augment, far_camera  # noqa: E402


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
