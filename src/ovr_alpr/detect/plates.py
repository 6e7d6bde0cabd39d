"""Builds the configured detectors and finds plates, vehicle-first when a vehicle model is configured."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..config import PlateDetectorConfig, VehicleDetectorConfig
from ..runtime.backends.base import InferenceBackend, load_backend
from ..runtime.zoo import default_model_path
from ..timing import StageTimer
from ..types import Detections
from . import yolo, yolox  # noqa: F401  (register formats)
from .base import DETECTOR_FORMATS, Detector
from .ops import nms

log = logging.getLogger(__name__)


#: `plate_detector.type` -> (embedded model's zoo role, its input size)
PLATE_MODELS = {"ovr": ("plate_ovr", 512), "ovr_cpu": ("plate_ovr_cpu", 640), "platedet": ("plate", 640)}


def plate_default_path(cfg: PlateDetectorConfig) -> Path | None:
    """The embedded model of the configured detector type; None when `model.path` names the model."""
    return None if cfg.model.path else default_model_path(PLATE_MODELS[cfg.type][0])


def plate_input_size(cfg: PlateDetectorConfig) -> int:
    """`model.input_size`, else the embedded type's own (PLATE_MODELS), else 640 for a model of one's own."""
    if cfg.model.input_size:
        return cfg.model.input_size
    return 640 if cfg.model.path else PLATE_MODELS[cfg.type][1]


def build_plate_detector(
    cfg: PlateDetectorConfig, cache_dir: Path | None = None, backend: InferenceBackend | None = None
) -> Detector:
    if backend is None:  # loaded (warmed up, INT8-calibrated) at the size it runs at
        model = cfg.model.model_copy(update={"input_size": plate_input_size(cfg)})
        backend = load_backend(model, "plate_detector", plate_default_path(cfg), cache_dir=cache_dir)
    return yolo.YoloDetector(
        backend,
        cfg.conf_threshold,
        cfg.iou_threshold,
        input_size=plate_input_size(cfg),
        canvas_shrink=cfg.model.canvas_shrink,
        max_downscale=cfg.max_downscale,
        max_input_size=cfg.max_input_size,  # never below input_size (`RectLetterbox.long_side`)
    )


def _guess_format(backend: InferenceBackend) -> str:
    """YOLOX heads output [1, anchors, 5 + nc]; Ultralytics heads [1, 4 + nc, anchors]."""
    shapes = getattr(backend, "output_shapes", None) or []
    if shapes and len(shapes[0]) == 3 and shapes[0][1] > shapes[0][2] > 0:
        return "yolox"
    return "yolov8"


def build_vehicle_detector(cfg: VehicleDetectorConfig, cache_dir: Path | None = None) -> Detector:
    backend = load_backend(cfg.model, "vehicle_detector", None, cache_dir=cache_dir)
    fmt = cfg.format if cfg.format != "auto" else _guess_format(backend)
    cls = DETECTOR_FORMATS.get(fmt)
    size = cfg.model.input_size or (416 if fmt == "yolox" else 640)
    if fmt == "yolox":
        return cls(backend, cfg.conf_threshold, cfg.iou_threshold, input_size=size, classes=cfg.classes)
    det = cls(
        backend,
        cfg.conf_threshold,
        cfg.iou_threshold,
        input_size=size,
        classes=sorted(cfg.classes),
        agnostic=True,
        canvas_shrink=cfg.model.canvas_shrink,
    )
    det.class_names = dict(cfg.classes)
    return det


class PlateFinder:
    """Finds plates in a frame: directly (plate-first) or inside tracked/detected vehicle boxes.

    Vehicle-first: each vehicle box (grown by `margin`) is cropped and searched by the plate model, which
    letterboxes the crop into its own input; plate boxes are mapped back to the frame and carry
    `data["vehicle_index"]` (row of the vehicle in the vehicle detections). `crop_margin` is the margin
    (fractions of a box's width, height) the reader's crop adds around this detector's boxes.
    """

    def __init__(
        self,
        plate_detector: Detector,
        vehicle_detector: Detector | None = None,
        timer: StageTimer | None = None,
        min_plate_width_px: int = 16,
        margin: float = 0.05,
        crop_margin: tuple[float, float] = (0.04, 0.10),
    ) -> None:
        self.plate_detector = plate_detector
        self.vehicle_detector = vehicle_detector
        self.timer = timer or StageTimer()
        self.min_plate_width_px = min_plate_width_px
        self.margin = margin
        self.crop_margin = crop_margin

    @property
    def vehicle_class_names(self) -> dict[int, str]:
        """Vehicle class id -> name ({} in plate-first mode)."""
        return self.vehicle_detector.class_names if self.vehicle_detector is not None else {}

    def detect_vehicles(self, image: np.ndarray) -> Detections:
        if self.vehicle_detector is None:
            return Detections.empty()
        with self.timer.stage("vehicle_detect"):
            return self.vehicle_detector(image)

    def detect_plates(self, image: np.ndarray, vehicles: Detections | None = None) -> Detections:
        with self.timer.stage("plate_detect"):
            if vehicles is None or self.vehicle_detector is None:
                plates = self.plate_detector(image)
                plates.data["vehicle_index"] = np.full(len(plates), -1, dtype=np.int64)
            else:
                plates = self._inside_vehicles(image, vehicles)
        widths = plates.xyxy[:, 2] - plates.xyxy[:, 0]
        return plates[widths >= self.min_plate_width_px]

    def _inside_vehicles(self, image: np.ndarray, vehicles: Detections) -> Detections:
        h, w = image.shape[:2]
        parts = []
        for i, (x1, y1, x2, y2) in enumerate(vehicles.xyxy):
            mx, my = (x2 - x1) * self.margin, (y2 - y1) * self.margin
            cx1, cy1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
            cx2, cy2 = int(min(w, x2 + mx)), int(min(h, y2 + my))
            if cx2 - cx1 < 16 or cy2 - cy1 < 16:
                continue
            found = self.plate_detector(image[cy1:cy2, cx1:cx2])
            if len(found):
                found = found.with_offset(cx1, cy1)
                found.data["vehicle_index"] = np.full(len(found), i, dtype=np.int64)
                parts.append(found)
        merged = Detections.merge(parts)
        if "vehicle_index" not in merged.data:
            merged.data["vehicle_index"] = np.full(len(merged), -1, dtype=np.int64)
        # overlapping vehicle boxes can both hold the same plate: keep it once, with its best score
        return merged[nms(merged.xyxy, merged.confidence, 0.5)] if len(merged) > 1 else merged

    def __call__(self, image: np.ndarray) -> tuple[Detections, Detections]:
        """(vehicles, plates) of one still image."""
        vehicles = self.detect_vehicles(image)
        return vehicles, self.detect_plates(image, vehicles if self.vehicle_detector else None)


def build_finder(
    plate_cfg: PlateDetectorConfig,
    vehicle_cfg: VehicleDetectorConfig | None = None,
    cache_dir: Path | None = None,
    timer: StageTimer | None = None,
) -> PlateFinder:
    """The plate detector (and the vehicle detector when configured: vehicle-first), loaded."""
    vehicle = build_vehicle_detector(vehicle_cfg, cache_dir) if vehicle_cfg else None
    plate = build_plate_detector(plate_cfg, cache_dir)
    if vehicle is not None:
        log.info("vehicle-first: plates searched inside vehicle boxes")
    return PlateFinder(plate, vehicle, timer, plate_cfg.min_plate_width_px, crop_margin=plate_cfg.crop_margin)
