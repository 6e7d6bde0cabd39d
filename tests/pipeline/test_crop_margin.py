"""`plate_detector.crop_margin`: the margin the reader's crop adds around a plate box is the config's."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.errors import ConfigError
from ovr_alpr.pipeline.alpr import Alpr
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.synth.clip import make_images


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> np.ndarray:
    """A generated still of one vehicle with its plate (the demo's renderer)."""
    import cv2

    item = make_images(tmp_path_factory.mktemp("still"), 1, seed=5)[0]
    return cv2.imread(str(item.image_path))


def _crop_sizes(scene: np.ndarray, margin: list[float] | None) -> tuple[list[tuple[int, int]], np.ndarray]:
    cfg = {} if margin is None else {"plate_detector": {"crop_margin": margin}}
    alpr = Alpr(AppConfig.model_validate(cfg))
    seen: list[tuple[int, int]] = []
    read_batch = alpr.reader.read_batch

    def recording(crops):
        seen.extend(c.shape[:2] for c in crops)
        return read_batch(crops)

    alpr.reader.read_batch = recording
    reads = alpr.read(scene)
    assert reads, "the embedded detector found no plate in the rendered scene"
    return seen, np.array(reads[0].xyxy)


def test_reader_crops_follow_the_configured_margin(scene):
    (default_hw, *_), box = _crop_sizes(scene, None)
    (bare_hw, *_), _ = _crop_sizes(scene, [0.0, 0.0])
    bw, bh = box[2] - box[0], box[3] - box[1]
    assert abs(bare_hw[1] - bw) <= 2 and abs(bare_hw[0] - bh) <= 2  # the box itself
    assert default_hw[1] == pytest.approx(bw * 1.08, abs=3)
    assert default_hw[0] == pytest.approx(bh * 1.2, abs=3)


def test_bad_margin_is_a_config_error():
    with pytest.raises((ConfigError, ValueError), match="crop_margin"):
        AppConfig.model_validate({"plate_detector": {"crop_margin": [0.04, 2.0]}})
