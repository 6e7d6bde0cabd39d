"""Main-stream reading: detection and tracking run on a camera's cheap sub-stream, and each plate crop for
OCR is cut from its high-resolution main stream's frame nearest in time (boxes scaled), so small plates
are read at full resolution."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

import numpy as np

from ..ocr.crops import crop_plate
from ..sources.base import FrameSource
from ..types import Frame

log = logging.getLogger(__name__)


class MainStream:
    """The main stream of one camera, followed in time by the sub-stream's frames.

    A file is read forward up to the requested time (both files are timed from the same start); a live
    stream gives its latest frame. A frame further than `max_skew_s` from the requested time is not
    used (the sub-stream's own crop is read instead).

    Args:
        source: the opened main-stream source.
        max_skew_s: largest time difference accepted between the sub-stream frame and the main one.
    """

    def __init__(self, source: FrameSource, max_skew_s: float = 0.5) -> None:
        self.source = source
        self.max_skew_s = max_skew_s
        self.frames_used = 0
        self.frames_missed = 0
        self._iter: Iterator[Frame] | None = None if source.is_live else iter(source)
        self._previous: Frame | None = None
        self._ahead: Frame | None = None
        self._ended = False

    def nearest(self, captured_at: datetime) -> Frame | None:
        """The main-stream frame nearest to `captured_at`, or None when none is close enough."""
        if self.source.is_live:
            latest = self.source.next_frame(timeout_s=0)
            if latest is not None:
                self._previous = latest
            candidates = [self._previous]
        else:
            while not self._ended and (self._ahead is None or self._ahead.captured_at <= captured_at):
                if self._ahead is not None:
                    self._previous = self._ahead
                self._ahead = next(self._iter, None)  # type: ignore[arg-type]
                self._ended = self._ahead is None
            candidates = [self._previous, self._ahead]
        best = min(
            (f for f in candidates if f is not None),
            key=lambda f: abs((f.captured_at - captured_at).total_seconds()),
            default=None,
        )
        if best is None or abs((best.captured_at - captured_at).total_seconds()) > self.max_skew_s:
            self.frames_missed += 1
            return None
        self.frames_used += 1
        return best

    def plate_crop(
        self, sub_frame: Frame, plate_xyxy: np.ndarray, margin: tuple[float, float]
    ) -> np.ndarray | None:
        """The plate cut (with `margin`) from the main frame nearest to `sub_frame`, its box scaled; None if
        there is none."""
        main = self.nearest(sub_frame.captured_at)
        if main is None:
            return None
        sh, sw = sub_frame.image.shape[:2]
        mh, mw = main.image.shape[:2]
        scale = np.array([mw / sw, mh / sh, mw / sw, mh / sh], dtype=np.float32)
        return crop_plate(main.image, np.asarray(plate_xyxy, dtype=np.float32) * scale, *margin)

    def close(self) -> None:
        self.source.close()
