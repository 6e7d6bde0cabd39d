"""Does the plate detector take a camera's on-screen text for plates? `python -m ovr_alpr.tools.osd`.

Security cameras burn a date and time, a camera name and the like into every frame. A detector that boxes
it makes a track, an OCR call and, if the text reads like a plate, an event on every camera that has it.
This check renders `n` scenes (`synth.scenes`, seeds training does not use) and draws the camera's text over a
copy of each (`draw_osd`, which never covers a plate). It runs the configured plate detector (the
pipeline's, with its thresholds) on both and reports the boxes on the text: boxes that match no plate (IoU
< 0.3) and lie mostly on pixels the text changed. Plate recall on both versions shows the text costs no
plate.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..detect.ops import iou_matrix
from ..detect.plates import build_plate_detector
from ..pipeline.config import load_config
from ..synth.scenes import draw_osd, render_scene
from .calibrate import with_int8_calibration
from .scene_checks import check_main

#: Seeds of the check's scenes: far from the training set's (`(seed, index)` with index < 4,000,000) and
#: from the close-up check's.
CHECK_SEED = 90_533
#: A box is on the text when this share of its pixels changed when the text was drawn.
ON_TEXT_SHARE = 0.2


def boxes_on_text(boxes: np.ndarray, plates: np.ndarray, changed: np.ndarray) -> int:
    """How many of `boxes` (xyxy) match no plate (IoU < 0.3) and have `ON_TEXT_SHARE` of their pixels in
    the `changed` mask (bool H x W)."""
    count = 0
    ious = iou_matrix(boxes, plates) if len(plates) else np.zeros((len(boxes), 0))
    height, width = changed.shape
    for k, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float32)):
        if ious.shape[1] and ious[k].max() >= 0.3:
            continue
        xs = slice(max(0, int(x1)), min(width, int(np.ceil(x2))))
        ys = slice(max(0, int(y1)), min(height, int(np.ceil(y2))))
        area = changed[ys, xs]
        count += bool(area.size and area.mean() >= ON_TEXT_SHARE)
    return count


def osd_false_boxes(config: Path | None = None, n: int = 200) -> dict[str, Any]:
    """Boxes on on-screen text over `n` rendered scenes, and plate recall with and without the text."""
    cfg = with_int8_calibration(load_config(config))
    detector = build_plate_detector(cfg.plate_detector, cfg.cache_path)
    on_text = scenes_hit = plates = found_plain = found_text = 0
    for index in range(n):
        rng = np.random.default_rng([CHECK_SEED, index])
        plain = render_scene(rng)
        truth = plain.plate_boxes_xyxy
        text_image = draw_osd(plain.image, truth, rng)
        changed = np.any(plain.image != text_image, axis=2)
        boxes_plain, boxes_text = detector(plain.image).xyxy, detector(text_image).xyxy
        hits = boxes_on_text(boxes_text, truth, changed)
        on_text += hits
        scenes_hit += bool(hits)
        plates += len(truth)
        found_plain += _found(truth, boxes_plain)
        found_text += _found(truth, boxes_text)
    return {
        "scenes": n,
        "boxes_on_text": on_text,
        "scenes_with_a_box_on_text": round(scenes_hit / n, 4),
        "plate_recall_plain": round(found_plain / max(plates, 1), 4),
        "plate_recall_with_text": round(found_text / max(plates, 1), 4),
        "model": cfg.plate_detector.model.path or "embedded default",
    }


def _found(truth: np.ndarray, boxes: np.ndarray) -> int:
    """Plates of `truth` some box covers at IoU >= 0.5."""
    return int((iou_matrix(truth, boxes).max(axis=1) >= 0.5).sum()) if len(truth) and len(boxes) else 0


def main(argv: list[str] | None = None) -> int:
    return check_main(__doc__, osd_false_boxes, 200, argv)


if __name__ == "__main__":
    sys.exit(main())
