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
    - Once those attempts are spent, a shot `reread_gain` times better than every shot read so far is read
      too (a plate coming towards the camera grows: its first shots are its worst); after
      `reread_patience_frames` without one, the track is read no more.
    - Reads are fused over the shots near the best one read (quality at least `best_shot_ratio` of it), so
      small early shots stop counting once the plate was read large. A read below `min_read_confidence` is
      the reader saying it cannot read that shot (a loose box, a blurred frame): an attempt, not a vote.
    - A fused read at `confidence_target` from a shot at least `final_min_width_px` wide is final at once.
    - When the track ends, a fused read at `min_confidence` or more is final; below, it is dropped.
    """

    def __init__(self, cfg: OcrConfig, best_shot_ratio: float = 0.7) -> None:
        self.cfg = cfg
        self.best_shot_ratio = best_shot_ratio

    def wants_read(self, state: TrackState, shot_quality: float, step: int) -> bool:
        """Whether to read this shot of the track now.

        A track whose attempts are spent and that has waited `reread_patience_frames` for a better shot
        in vain is marked done here (`state.ocr_done`)."""
        if state.ocr_done or state.frames_seen < self.cfg.min_track_frames:
            return False
        if step - state.last_attempt_step < self.cfg.attempt_every_frames:
            return False
        if state.attempts < self.cfg.max_attempts:
            return shot_quality >= self.best_shot_ratio * state.best_quality
        if self._better_shot(state, shot_quality):
            return True
        if step - state.last_attempt_step >= self.cfg.reread_patience_frames:
            state.ocr_done = True
        return False

    def _better_shot(self, state: TrackState, shot_quality: float) -> bool:
        gain = self.cfg.reread_gain
        return gain is not None and shot_quality >= gain * state.best_read_quality

    def _plausible(self, read: PlateText) -> bool:
        return self.cfg.min_plate_chars <= len(read.text) <= self.cfg.max_plate_chars

    def fused(self, state: TrackState) -> PlateText:
        """The track's reads fused, over the shots near the best one read."""
        floor = self.best_shot_ratio * state.best_read_quality
        return fuse_reads([r for r, q in zip(state.reads, state.read_qualities, strict=True) if q >= floor])

    def add_read(self, state: TrackState, read: PlateText, shot: Shot, step: int) -> bool:
        """Record one OCR result; returns True when the track's read became final."""
        state.attempts += 1
        state.last_attempt_step = step
        state.best_read_quality = max(state.best_read_quality, shot.quality)
        if read.text and read.confidence >= self.cfg.min_read_confidence:
            state.reads.append(read)
            state.read_qualities.append(shot.quality)
            score = shot.quality * (0.5 + 0.5 * read.confidence)
            if score > state.best_score:
                state.best_score, state.best = score, shot
        fused = self.fused(state)
        if (
            fused.text
            and self._plausible(fused)
            and fused.confidence >= self.cfg.confidence_target
            and shot.crop.shape[1] >= self.cfg.final_min_width_px
        ):
            state.final = fused
            state.ocr_done = True
            return True
        if state.attempts >= self.cfg.max_attempts and not self._better_shot(state, 1.0):
            state.ocr_done = True  # no shot can be that much better: quality is at most 1
        return False

    def finish(self, state: TrackState) -> PlateText | None:
        """The track ended: its final read, or None when nothing good enough was read."""
        if state.final is not None:
            return state.final
        fused = self.fused(state)
        if fused.text and self._plausible(fused) and fused.confidence >= self.cfg.min_confidence:
            state.final = fused
            return fused
        return None
