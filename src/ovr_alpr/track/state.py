"""What is kept about one track while it lives: its shots, reads, final read and publish state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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


@dataclass
class TrackState:
    """Everything kept about one track; dropped when the track ends, so memory stays flat.

    Attributes:
        frames_seen: processed frames in which the track had a plate box.
        attempts: OCR calls made for this track.
        best_quality: best shot quality seen so far (read or not).
        best: the best read shot (quality x OCR confidence), its crop is saved with the event.
        final: the fused read once decided (confident, or at the track's end).
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
    reads: list[PlateText] = field(default_factory=list)
    best: Shot | None = None
    best_score: float = -1.0
    final: PlateText | None = None
    ocr_done: bool = False
    published: bool = False
    vehicle_type: str | None = None
    vehicle_xyxy: np.ndarray | None = None

    @property
    def direction(self) -> str:
        dx = self.last_center[0] - self.first_center[0]
        dy = self.last_center[1] - self.first_center[1]
        if max(abs(dx), abs(dy)) < 4:
            return "stationary"
        if abs(dx) >= abs(dy):
            return "left_to_right" if dx > 0 else "right_to_left"
        return "top_to_bottom" if dy > 0 else "bottom_to_top"
