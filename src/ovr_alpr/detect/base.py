"""The `Detector` interface: an image in, `Detections` (full-frame pixel boxes) out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..registry import Registry, registry
from ..types import Detections


class Detector(Protocol):
    """Finds objects in a BGR image. `class_names` maps class ids to names."""

    class_names: dict[int, str]

    def __call__(self, image: np.ndarray) -> Detections: ...


# format word -> detector class (`yolov8` for Ultralytics heads, `yolox` for YOLOX heads)
DETECTOR_FORMATS: Registry[type] = registry("detector format")
