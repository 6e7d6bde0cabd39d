"""Test helper: the share of rendered street scenes' plates a detector finds at IoU >= 0.5."""

from __future__ import annotations

import numpy as np

from ovr_alpr.detect.ops import iou_matrix
from ovr_alpr.synth.scenes import render_scene


def share_found(detector, seed: int, scenes: int, size: tuple[int, int] = (1280, 720)) -> tuple[float, int]:
    """(found / plates, plates) over `scenes` rendered road scenes of `size` (width, height)."""
    rng = np.random.default_rng(seed)
    hits = total = 0
    for _ in range(scenes):
        scene = render_scene(rng, kind="road", size=size)
        found = detector(scene.image)
        for truth in scene.plate_boxes_xyxy:
            total += 1
            hits += bool(len(found) and iou_matrix(truth[None], found.xyxy).max() >= 0.5)
    return (hits / total if total else 0.0), total
