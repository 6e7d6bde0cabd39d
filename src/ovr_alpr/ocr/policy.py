"""Once-per-track OCR: when a track is read, which shot, and when its fused read is final."""

from __future__ import annotations

from ..config import OcrConfig
from ..plate_text.fusion import fuse_reads
from ..plate_text.text import PlateText
from ..track.state import Shot, TrackState


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
                state.best_score, state.best = score, shot
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
