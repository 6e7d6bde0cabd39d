"""Vehicle-first detection with a real COCO YOLOX-Nano on real photographs (skipped without ../shared)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ovr_alpr.detect.ops import box_iou
from ovr_alpr.pipeline.alpr import Alpr
from ovr_alpr.pipeline.config import AppConfig


@pytest.fixture(scope="module")
def vehicle_alpr(yolox_nano):
    return Alpr(AppConfig.model_validate({"vehicle_detector": {"model": {"path": str(yolox_nano)}}}))


def _labelled(openalpr_dir, n):
    for txt in sorted((openalpr_dir / "eu").glob("*.txt"))[:n]:
        name, x, y, w, h, plate = txt.read_text().strip().split("\t")[:6]
        box = np.array([float(x), float(y), float(x) + float(w), float(y) + float(h)])
        yield cv2.imread(str(txt.parent / name)), box, plate.upper()


def test_plates_are_found_inside_detected_vehicles(vehicle_alpr, openalpr_dir):
    n, with_vehicle, matched, exact = 10, 0, 0, 0
    for image, gt, plate in _labelled(openalpr_dir, n):
        vehicles = vehicle_alpr.finder.detect_vehicles(image)
        with_vehicle += len(vehicles) > 0
        assert set(vehicles.class_id.tolist()) <= {2, 3, 5, 7}  # only COCO vehicle classes
        reads = vehicle_alpr.read(image)
        hits = [r for r in reads if box_iou(gt, np.array([r.xyxy]))[0] >= 0.5]
        if hits:
            matched += 1
            exact += hits[0].text == plate
            assert hits[0].vehicle_type in {"car", "truck", "bus", "motorcycle"}
            vx1, vy1, vx2, vy2 = hits[0].vehicle_xyxy
            x1, y1, x2, y2 = hits[0].xyxy
            assert vx1 - 2 <= x1 and x2 <= vx2 + 2 and vy1 - 2 <= y1 and y2 <= vy2 + 2
        assert len(reads) == len({tuple(np.round(r.xyxy)) for r in reads})  # no plate twice
    # measured on these 10 images: 9 with a vehicle, 8 plates matched, 7 exact
    assert with_vehicle >= 8 and matched >= 7 and exact >= 5
