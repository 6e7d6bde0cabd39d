"""The video path scored on labelled stills: each still becomes a short clip of its plate coming towards the
camera (growing from a few tens of pixels to its size in the still) or driving away, run through the whole
`Pipeline` (detection, tracking, reads per track, events), and the events are scored against the label.

Stills score one read per image; a camera sees a plate for many frames, small first when it approaches, and
the pipeline decides which frames to read and when a track's read is final. This measures that decision.
The clip is the still scaled about a vanishing point above the frame's centre (a pinhole camera and a
vehicle at constant speed: the plate's size grows as 1 / distance), on a grey ground, in a 1280 x 720
frame by default (the still scaled down to fit, never up: in a 1920 x 1080 frame a 720p still keeps its
pixels, so the plates are as large as in 720p but the frame is larger), written as MPEG-4 at 25 fps so
the codec's losses are in it.

`cross` slides the still in from the frame's left edge at its size (a vehicle passing a street camera): the
plate is a quarter in view in the first frame and moves a tenth of its width per frame (`cross_speed`), so
the first shots of its track show only part of it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from tqdm import tqdm

from ..detect.plates import build_finder
from ..errors import ConfigError
from ..ocr import build_reader
from ..pipeline.config import AppConfig
from ..pipeline.pipeline import Pipeline
from .datasets import load_dataset
from .metrics import confusable_match, exact_match, published_by_confidence

log = logging.getLogger(__name__)

Motion = Literal["approach", "recede", "cross"]
MOTIONS: tuple[str, ...] = ("approach", "recede", "cross")
FRAME_SIZE = (1280, 720)
FPS = 25
#: `cross`: the part of the plate in view in the first frame.
_CROSS_START = 0.25
#: The vanishing point, in frame widths / heights.
_VANISHING = (0.5, 0.3)
_GROUND = (90, 90, 90)


def motion_frames(
    image: np.ndarray,
    box: np.ndarray,
    frames: int = 36,
    start_width_px: float = 40.0,
    motion: Motion = "approach",
    size: tuple[int, int] = FRAME_SIZE,
    cross_speed: float = 0.1,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The clip's frames and the plate's box (x1, y1, x2, y2 px) in each.

    The last frame of an approach (the first of a recede) is the still scaled to fit `size`; the plate is
    `start_width_px` wide at the other end (or its own width, if smaller). A `cross` keeps the still's
    fitted size (`start_width_px` is unused) and moves it right by `cross_speed` plate widths per frame, the
    plate entering at the left edge.
    """
    if frames < 2:
        raise ValueError("a motion clip needs at least 2 frames")
    h, w = image.shape[:2]
    fit = min(size[0] / w, size[1] / h, 1.0)
    width = float(box[2] - box[0]) * fit
    z0 = min(1.0, start_width_px / max(width, 1e-6))
    ox, oy = (size[0] - w * fit) / 2, (size[1] - h * fit) / 2
    vx, vy = size[0] * _VANISHING[0], size[1] * _VANISHING[1]
    corners = np.asarray(box, np.float64).reshape(2, 2)
    out, boxes = [], []
    for t in range(frames):
        if motion == "cross":
            # the plate's left edge goes from -3/4 of its width, cross_speed of it per frame
            left = width * (_CROSS_START - 1 + cross_speed * t)
            m = np.float32([[fit, 0, left - box[0] * fit], [0, fit, oy]])
        else:
            z = z0 / (1 - (1 - z0) * t / (frames - 1))  # 1 / distance at constant speed
            m = np.float32([[z * fit, 0, vx + z * (ox - vx)], [0, z * fit, vy + z * (oy - vy)]])
        interp = cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_LINEAR
        out.append(cv2.warpAffine(image, m, size, flags=interp, borderValue=_GROUND))
        boxes.append((corners @ m[:, :2].T.astype(np.float64) + m[:, 2]).reshape(4))
    if motion == "recede":
        return out[::-1], boxes[::-1]
    return out, boxes


@dataclass
class MotionOutcome:
    """What the pipeline published for one clip: `events` are the events' texts, in order, `confidences`
    their read confidences."""

    file: str
    label: str
    events: list[str]
    confidences: list[float] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return bool(self.events) and exact_match(self.events[0], self.label)

    @property
    def correct_confusable(self) -> bool:
        return bool(self.events) and confusable_match(self.events[0], self.label)


@dataclass
class MotionResult:
    """Figures of one motion run: one clip per image with a text-labelled plate (its first)."""

    dataset: str
    motion: str
    frames: int
    start_width_px: float
    size: tuple[int, int] = FRAME_SIZE
    cross_speed: float = 0.1
    outcomes: list[MotionOutcome] = field(default_factory=list)
    ocr_calls: int = 0

    def summary(self) -> dict[str, Any]:
        n = len(self.outcomes)
        right = sum(o.correct for o in self.outcomes)
        right_confusable = sum(o.correct_confusable for o in self.outcomes)
        return {
            "dataset": self.dataset,
            "motion": self.motion,
            "frames": self.frames,
            "start_width_px": self.start_width_px,
            "frame_size": list(self.size),
            **({"cross_speed": self.cross_speed} if self.motion == "cross" else {}),
            "clips": n,
            "exact_match": round(right / n, 4) if n else None,
            "exact_match_confusable": round(right_confusable / n, 4) if n else None,
            "no_event": sum(not o.events for o in self.outcomes),
            "first_event_wrong": sum(bool(o.events) and not o.correct for o in self.outcomes),
            "extra_events": sum(max(0, len(o.events) - 1) for o in self.outcomes),
            "ocr_calls_per_clip": round(self.ocr_calls / n, 2) if n else None,
            "events_by_confidence": published_by_confidence(
                [(o.confidences[0], o.correct) for o in self.outcomes if o.events], n
            ),
            "misses": [
                {"file": o.file, "expected": o.label, "events": o.events}
                for o in self.outcomes
                if not o.correct
            ],
        }

    def lines(self) -> list[str]:
        s = self.summary()
        if not s["clips"]:
            return [f"{self.dataset}: no clip made (no labelled image could be read)"]
        start = f"plate from {self.start_width_px:g} px"
        if self.motion == "cross":
            start = f"plate in from the left edge, {self.cross_speed:g} of its width per frame"
        return [
            f"{self.dataset}: {s['clips']} {self.motion} clips ({self.frames} frames of "
            f"{self.size[0]} x {self.size[1]}, {start})",
            f"exact match (first event): {s['exact_match']:.1%} "
            f"({s['exact_match_confusable']:.1%} counting O=0, I=1)",
            f"no event {s['no_event']}, first event wrong {s['first_event_wrong']}, "
            f"extra events {s['extra_events']}, OCR calls per clip {s['ocr_calls_per_clip']}",
            "first events by confidence: "
            + ", ".join(
                f">= {r['threshold']:g}: {r['published']} ({r['wrong']} wrong)"
                for r in s["events_by_confidence"]
            ),
        ]


def evaluate_motion(
    dataset: str | Path,
    cfg: AppConfig,
    motion: Motion = "approach",
    frames: int = 36,
    start_width_px: float = 40.0,
    limit: int = 0,
    progress: bool = True,
    size: tuple[int, int] = FRAME_SIZE,
    cross_speed: float = 0.1,
) -> MotionResult:
    """Make a clip of every image's first text-labelled plate, run it through the pipeline, score it.

    Raises:
        ConfigError: the folder holds no labelled image, or none with a plate text (before models load).
    """
    samples = [s for s in load_dataset(dataset, limit) if s.texts and s.texts[0]]
    if not samples:
        raise ConfigError(
            f"--motion: no image in {dataset} has a plate text to score",
            "give a set labelled with plate texts (openalpr layout: NAME.txt with x y w h PLATE)",
        )
    result = MotionResult(str(dataset), motion, frames, start_width_px, size, cross_speed)
    finder = build_finder(cfg.plate_detector, cfg.vehicle_detector, cfg.cache_path)
    reader = build_reader(cfg.ocr, cfg.cache_path)
    with tempfile.TemporaryDirectory(prefix="ovr-alpr-motion-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        run_cfg = AppConfig.model_validate(
            {
                **cfg.model_dump(),
                "cameras": [{"id": "motion", "source": str(clip)}],
                "sinks": [],
                "save_crops": False,
                "output_dir": tmp,
            }
        )
        for sample in tqdm(samples, desc=f"{motion} clips", unit="clip", disable=not progress):
            image = cv2.imread(str(sample.image_path))
            if image is None:
                log.warning("%s: not a readable image, skipped", sample.image_path)
                continue
            shots, _ = motion_frames(
                image, sample.boxes[0], frames, start_width_px, motion, size, cross_speed
            )
            _write_clip(clip, shots, size)
            run = Pipeline(run_cfg, sinks=[], finder=finder, reader=reader).run()
            result.ocr_calls += int(run.stats.get("ocr_calls", 0))
            texts = [e.plate.normalized_text for e in run.events]
            confidences = [float(e.plate.confidence) for e in run.events]
            result.outcomes.append(MotionOutcome(sample.image_path.name, sample.texts[0], texts, confidences))
    return result


def _write_clip(path: Path, frames: list[np.ndarray], size: tuple[int, int]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
