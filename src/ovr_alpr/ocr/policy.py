"""Once-per-track OCR: per-track throttling, best-shot selection and fusion of a track's reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..config import OcrConfig
from .base import PlateText
from .fusion import fuse_reads


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
    best_read: PlateText | None = None
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


class OcrPolicy:
    """Decides when a track is read and when its read is final.

    - A track is read once it has been seen `min_track_frames` times, then at most every
      `attempt_every_frames` processed frames, at most `max_attempts` times, and only on a shot whose quality
      is at least `best_shot_ratio` of the best seen so far (so blurred or partial frames are not wasted).
    - After each read the track's reads are fused; a fused read at `confidence_target` is final at once.
    - When the track ends, a fused read at `min_confidence` or more is final; below, it is dropped.
    """

    def __init__(self, cfg: OcrConfig, best_shot_ratio: float = 0.7) -> None:
        self.cfg = cfg
        self.best_shot_ratio = best_shot_ratio

    def wants_read(self, state: TrackState, shot_quality: float, step: int) -> bool:
        if state.ocr_done or state.frames_seen < self.cfg.min_track_frames:
            return False
        if state.attempts >= self.cfg.max_attempts:
            return False
        if step - state.last_attempt_step < self.cfg.attempt_every_frames:
            return False
        return shot_quality >= self.best_shot_ratio * state.best_quality

    def _plausible(self, read: PlateText) -> bool:
        return self.cfg.min_plate_chars <= len(read.text) <= self.cfg.max_plate_chars

    def add_read(self, state: TrackState, read: PlateText, shot: Shot, step: int) -> bool:
        """Record one OCR result; returns True when the track's read became final."""
        state.attempts += 1
        state.last_attempt_step = step
        if read.text:
            state.reads.append(read)
            score = shot.quality * (0.5 + 0.5 * read.confidence)
            if score > state.best_score:
                state.best_score, state.best, state.best_read = score, shot, read
        fused = fuse_reads(state.reads)
        if fused.text and self._plausible(fused) and fused.confidence >= self.cfg.confidence_target:
            state.final = fused
            state.ocr_done = True
            return True
        if state.attempts >= self.cfg.max_attempts:
            state.ocr_done = True
        return False

    def finish(self, state: TrackState) -> PlateText | None:
        """The track ended: its final read, or None when nothing good enough was read."""
        if state.final is not None:
            return state.final
        fused = fuse_reads(state.reads)
        if fused.text and self._plausible(fused) and fused.confidence >= self.cfg.min_confidence:
            state.final = fused
            return fused
        return None
