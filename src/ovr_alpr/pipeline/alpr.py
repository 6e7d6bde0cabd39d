"""`Alpr`: detection + OCR on still images (one call per image), used by eval and simple scripts.

Video goes through `pipeline.Pipeline`, which adds tracking and reads each plate once per track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detect.plates import build_finder
from ..ocr import build_reader
from ..ocr.crops import crop_plate
from ..plate_text.normalize import PlateNormalizer
from ..timing import StageTimer
from .config import AppConfig


@dataclass(frozen=True)
class PlateRead:
    """One plate found and read in one image.

    Attributes:
        xyxy: plate box in px.
        detection_confidence: plate detector score 0..1.
        text: normalised text (upper-case alphanumerics, region-corrected when a region matched).
        raw_text: what the reader returned.
        confidence: OCR confidence 0..1.
        region: matched region name or None.
        vehicle_type: vehicle class name in vehicle-first mode, else None.
    """

    xyxy: tuple[float, float, float, float]
    detection_confidence: float
    text: str
    raw_text: str
    confidence: float
    region: str | None = None
    vehicle_type: str | None = None
    vehicle_xyxy: tuple[float, float, float, float] | None = None


class Alpr:
    """Finds and reads every plate in an image.

    Example:
        >>> alpr = Alpr(AppConfig())  # embedded models  # doctest: +SKIP
        >>> [r.text for r in alpr.read(cv2.imread("car.jpg"))]  # doctest: +SKIP
    """

    def __init__(self, cfg: AppConfig | None = None, timer: StageTimer | None = None) -> None:
        self.cfg = cfg or AppConfig()
        self.timer = timer or StageTimer()
        self.finder = build_finder(
            self.cfg.plate_detector, self.cfg.vehicle_detector, self.cfg.cache_path, self.timer
        )
        self.reader = build_reader(self.cfg.ocr, self.cfg.cache_path)
        self.normalizer = PlateNormalizer(self.cfg.events)

    def read(self, image: np.ndarray) -> list[PlateRead]:
        vehicles, plates = self.finder(image)
        if not len(plates):
            return []
        crops = [crop_plate(image, box, *self.finder.crop_margin) for box in plates.xyxy]
        with self.timer.stage("ocr"):
            texts = self.reader.read_batch(crops)
        names = self.finder.vehicle_class_names
        out = []
        for i, t in enumerate(texts):
            norm = self.normalizer(t)  # the whole read: format repair weighs its probabilities
            v = int(plates.data["vehicle_index"][i])
            out.append(
                PlateRead(
                    xyxy=tuple(float(x) for x in plates.xyxy[i]),
                    detection_confidence=float(plates.confidence[i]),
                    text=norm.text,
                    raw_text=t.text,
                    confidence=t.confidence,
                    region=norm.region,
                    vehicle_type=names.get(int(vehicles.class_id[v])) if v >= 0 else None,
                    vehicle_xyxy=tuple(float(x) for x in vehicles.xyxy[v]) if v >= 0 else None,
                )
            )
        return out
