"""Model stand-ins for pipeline tests: the generated clip's own plate boxes, a fixed confident read."""

from __future__ import annotations

import numpy as np

from ovr_alpr.plate_text import PlateText
from ovr_alpr.types import Detections


class ScriptedDetector:
    """Returns the manifest's plate boxes for the n-th call (frame n, no frame skip)."""

    def __init__(self, manifest, cameras: int = 1) -> None:
        self.class_names = {0: "plate"}
        self.manifest = manifest
        self.calls = 0
        self.cameras = cameras  # cameras are served round-robin: call n is frame n // cameras

    def __call__(self, image):
        frame = self.calls // self.cameras
        self.calls += 1
        boxes = [v.plate_boxes_xyxy[frame] for v in self.manifest.vehicles if frame in v.plate_boxes_xyxy]
        if not boxes:
            return Detections.empty()
        return Detections(np.array(boxes), np.full(len(boxes), 0.9), np.zeros(len(boxes)))


class ConfidentReader:
    """Reads `AB123CD` at 0.97 from every crop."""

    def read_batch(self, crops):
        return [PlateText("AB123CD", 0.97, (0.97,) * 7) for _ in crops]
