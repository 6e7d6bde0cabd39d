"""Does the plate detector box close-up plates whole? `python -m ovr_alpr.tools.closeups [--config Y]`.

Renders `n` close-up scenes (`synth.scenes`, kind `closeup`: one plate 45-95 % of the frame's width, often
turned, night/blur on some) from a seed that training does not use, runs the configured plate detector
(the pipeline's, with its thresholds) and reports, per scene, the IoU of the best detected box with the
plate: the share with IoU >= 0.7 (`CLOSEUP_IOU`) is the figure. A box over only part of the plate (the
failure seen on real handheld clips) scores well below it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..detect.ops import iou_matrix
from ..detect.plates import build_plate_detector
from ..pipeline.config import load_config
from ..synth.scenes import render_scene
from .calibrate import with_int8_calibration
from .scene_checks import check_main

CLOSEUP_IOU = 0.7
#: Seeds of the check's scenes: far from the training set's (`(seed, index)` with index < 4,000,000).
CHECK_SEED = 90_417


def closeup_ious(config: Path | None = None, n: int = 60, min_width_frac: float = 0.5) -> dict[str, Any]:
    """IoU of the best box with the plate on `n` rendered close-ups whose plate is wider than
    `min_width_frac` of the frame; the share at IoU >= `CLOSEUP_IOU`, mean and minimum."""
    cfg = with_int8_calibration(load_config(config))
    detector = build_plate_detector(cfg.plate_detector, cfg.cache_path)
    ious: list[float] = []
    index = 0
    while len(ious) < n:
        scene = render_scene(np.random.default_rng([CHECK_SEED, index]), kind="closeup")
        index += 1
        if len(scene.plate_boxes_xyxy) != 1:
            continue
        truth = scene.plate_boxes_xyxy
        if (truth[0, 2] - truth[0, 0]) < min_width_frac * scene.image.shape[1]:
            continue
        found = detector(scene.image)
        ious.append(float(iou_matrix(found.xyxy, truth).max()) if len(found) else 0.0)
    arr = np.array(ious)
    return {
        "scenes": n,
        "iou_threshold": CLOSEUP_IOU,
        "whole_box_rate": round(float((arr >= CLOSEUP_IOU).mean()), 4),
        "found_rate": round(float((arr >= 0.5).mean()), 4),
        "mean_iou": round(float(arr.mean()), 4),
        "min_iou": round(float(arr.min()), 4),
        "model": cfg.plate_detector.model.path or "embedded default",
    }


def main(argv: list[str] | None = None) -> int:
    return check_main(__doc__, closeup_ious, 60, argv)


if __name__ == "__main__":
    sys.exit(main())
