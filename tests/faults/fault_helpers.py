"""Helpers of the fault tests: stand-in models, a tiny clip, and the CLI run in a fresh Python with them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from ovr_alpr.ocr.base import PlateText
from ovr_alpr.types import Detections

#: Distinct plates (no two within the de-duplication similarity), read in this order.
PLATES = ["KX4821", "PL0937", "ZB55TT", "MN2046", "QW9183", "HR7730", "CD1254", "YE6609"]


class BoxDetector:
    """A plate that drives through the frame for `period` calls, then `gap` calls of nothing, repeated."""

    def __init__(self, period: int = 10, gap: int = 35) -> None:
        self.class_names = {0: "plate"}
        self.period, self.gap = period, gap
        self.calls = 0

    def __call__(self, image: np.ndarray) -> Detections:
        phase = self.calls % (self.period + self.gap)
        self.calls += 1
        if phase >= self.period:
            return Detections.empty()
        h, w = image.shape[:2]
        x = min(4 + phase * 4, w - 100)
        # 96 px wide: at least ocr.final_min_width_px, so one confident read makes the track final
        box = np.array([[x, h // 2 - 12, x + 96, h // 2 + 12]], dtype=np.float32)
        return Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int64))


class PlateReads:
    """Reads the next plate of `PLATES` for every crop, confidently (one read makes a track final)."""

    def __init__(self, confidence: float = 0.97) -> None:
        self.confidence = confidence
        self.calls = 0

    def read_batch(self, crops) -> list[PlateText]:
        out = []
        for _ in crops:
            text = PLATES[self.calls % len(PLATES)]
            self.calls += 1
            out.append(PlateText(text, self.confidence, (self.confidence,) * len(text)))
        return out


def write_clip(path: Path, frames: int = 60, size: tuple[int, int] = (224, 128), fps: float = 12.0) -> Path:
    """A small MP4 of noise frames (what the stand-in detector sees does not matter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


SRC = Path(__file__).resolve().parents[2] / "src"


def cli_with_fake_models(args: list[str]) -> list[str]:
    """argv that runs `ovr-alpr ARGS` in a fresh Python whose pipeline uses the stand-in models."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import ovr_alpr.pipeline.pipeline as pm\n"
        "from fault_helpers import BoxDetector, PlateReads\n"
        "from ovr_alpr.detect.plates import PlateFinder\n"
        "pm.build_finder = lambda *a, **k: PlateFinder(BoxDetector())\n"
        "pm.build_reader = lambda *a, **k: PlateReads()\n"
        "from ovr_alpr.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    return [sys.executable, "-c", script]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
