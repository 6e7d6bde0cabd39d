"""Detection: plates (and optionally vehicles first) as `Detections` in full-frame pixels."""

from .base import DETECTOR_FORMATS, Detector
from .plates import PlateFinder, build_plate_detector, build_vehicle_detector

__all__ = ["DETECTOR_FORMATS", "Detector", "PlateFinder", "build_plate_detector", "build_vehicle_detector"]
