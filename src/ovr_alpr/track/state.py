"""What is kept about one track while it lives: its shots, reads, final read, path and publish state."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from ..plate_text.text import PlateText


@dataclass
class Shot:
    """One sighting of a tracked plate: the crop, where and when it was, and how good it is."""

    crop: np.ndarray
    xyxy: np.ndarray
    detection_confidence: float
    quality: float
    frame_index: int
    captured_at: datetime
    captured_monotonic: float
    #: The vehicle at full resolution (vehicle box, else a region around the plate), when kept.
    vehicle_crop: np.ndarray | None = None
    #: Where `vehicle_crop` was cut from the frame (x1, y1, x2, y2 px).
    vehicle_crop_xyxy: tuple[int, int, int, int] | None = None
    #: The whole frame, scaled down to the camera's `images.max_side_px`, when kept.
    frame: np.ndarray | None = None


#: Path points kept per track (a bounded window: memory stays flat however long a track lives).
PATH_POINTS = 64
#: Points averaged into one smoothed position (crossings use it: jitter near a line is not a crossing).
SMOOTHING_POINTS = 5
#: Points the heading is fitted over.
HEADING_POINTS = 10
#: Below this speed (px per processed frame) a track has no heading.
MIN_HEADING_SPEED_PX = 0.5


@dataclass(frozen=True)
class Crossing:
    """A track crossing an entry/exit line.

    Attributes:
        line: the line's name.
        direction: `in` or `out` (see `config.LineConfig`).
        heading_deg: travel direction at the crossing, degrees counter-clockwise from the image's +x axis
            (0 = moving right, 90 = moving up the frame, 180 = left, 270 = down); None when too slow.
        frame_index: the frame in which the smoothed path crossed.
    """

    line: str
    direction: Literal["in", "out"]
    heading_deg: float | None
    frame_index: int


@dataclass
class TrackState:
    """Everything kept about one track; dropped when the track ends, so memory stays flat.

    Attributes:
        frames_seen: processed frames in which the track had a plate box.
        attempts: OCR calls made for this track.
        best_quality: best shot quality seen so far (read or not).
        best_read_quality: best quality of a shot that was read.
        reads: the reads that vote in the fusion (not empty, at least `ocr.min_read_confidence`), with
            `read_qualities` the quality of the shot each came from.
        best: the best read shot (quality x OCR confidence), its crop is saved with the event.
        final: the fused read once decided (confident, or at the track's end).
        path: the last `PATH_POINTS` anchor points (plate centre, or the vehicle's bottom centre in
            vehicle-first mode), one per processed frame the track was seen in.
        zones: names of the zones the track entered, in order.
        crossing: the last entry/exit line crossing, if any.
    """

    track_id: int
    camera_id: str
    first_frame: int
    last_seen_step: int
    first_center: tuple[float, float]
    last_center: tuple[float, float] = (0.0, 0.0)
    frames_seen: int = 0
    attempts: int = 0
    last_attempt_step: int = -(10**9)
    best_quality: float = 0.0
    best_read_quality: float = 0.0
    reads: list[PlateText] = field(default_factory=list)
    read_qualities: list[float] = field(default_factory=list)
    best: Shot | None = None
    best_score: float = -1.0
    final: PlateText | None = None
    ocr_done: bool = False
    published: bool = False
    vehicle_type: str | None = None
    vehicle_xyxy: np.ndarray | None = None
    path: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=PATH_POINTS))
    zones: list[str] = field(default_factory=list)
    crossing: Crossing | None = None

    def smoothed_point(self) -> tuple[float, float] | None:
        """The mean of the last `SMOOTHING_POINTS` path points; None before the first."""
        if not self.path:
            return None
        recent = list(self.path)[-SMOOTHING_POINTS:]
        return sum(p[0] for p in recent) / len(recent), sum(p[1] for p in recent) / len(recent)

    def heading_deg(self) -> float | None:
        """Travel direction from a least-squares fit of the last `HEADING_POINTS` path points (degrees
        counter-clockwise from +x, y up the image: 0 right, 90 up, 180 left, 270 down); None when the track
        has fewer than 3 points or moves slower than `MIN_HEADING_SPEED_PX` per frame."""
        recent = np.asarray(list(self.path)[-HEADING_POINTS:], dtype=np.float64)
        if len(recent) < 3:
            return None
        t = np.arange(len(recent), dtype=np.float64)
        vx = float(np.polyfit(t, recent[:, 0], 1)[0])
        vy = float(np.polyfit(t, recent[:, 1], 1)[0])
        if math.hypot(vx, vy) < MIN_HEADING_SPEED_PX:
            return None
        return round(math.degrees(math.atan2(-vy, vx)) % 360.0, 1)

    @property
    def direction(self) -> str:
        dx = self.last_center[0] - self.first_center[0]
        dy = self.last_center[1] - self.first_center[1]
        if max(abs(dx), abs(dy)) < 4:
            return "stationary"
        if abs(dx) >= abs(dy):
            return "left_to_right" if dx > 0 else "right_to_left"
        return "top_to_bottom" if dy > 0 else "bottom_to_top"
