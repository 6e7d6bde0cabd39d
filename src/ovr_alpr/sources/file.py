"""Video files decoded with OpenCV's FFmpeg backend; frame times come from the pts, not the wall clock."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import cv2

from ..config import CameraConfig
from ..errors import SourceError
from ..types import Frame
from .base import SOURCES, FrameSampler, FrameSource, source_path

log = logging.getLogger(__name__)

_FILE_API = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
_DEFAULT_FPS = 25.0


@SOURCES.register("file")
class FileSource(FrameSource):
    """A video file, decoded in order, once or in a loop.

    Frames left out by `frame_skip` / `target_fps` are grabbed (decoded) but not converted to BGR, which
    saves about a quarter of the per-frame cost of `read()`. A frame the decoder rejects is counted in
    `stats.corrupt_frames` and skipped. The file ends when its declared frame count is reached, or after
    `max_bad_run` consecutive failures when the count is unknown or wrong; failures that turn out to be
    the end are not counted as corrupt.

    Args:
        cfg: the camera's config; `source` is the file path.
        start_time: UTC time of the video's first frame (default: when opened). `captured_at` is
            `start_time + pts`, continued across loops, so it never goes backwards.
        max_bad_run: consecutive unreadable frames after which the file is treated as ended.

    Attributes:
        path: the video file.
        nominal_fps: the container's frame rate, None if it declares none.
        frame_count: the container's frame count, None if it declares none (may be an estimate).
        frame_size: (width, height) in px.
    """

    kind = "file"
    is_live = False

    def __init__(
        self, cfg: CameraConfig, *, start_time: datetime | None = None, max_bad_run: int = 25
    ) -> None:
        super().__init__(cfg)
        if start_time is not None and start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware (UTC)")
        self.path = source_path(cfg.source)
        self.start_time = (start_time or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self.max_bad_run = max(1, max_bad_run)
        if not self.path.is_file():
            raise SourceError(f"video {self.path} not found", "check the camera's source path")
        if not os.access(self.path, os.R_OK):
            raise SourceError(f"video {self.path} is not readable (permission denied)", "fix its permissions")
        self._cap_lock = threading.Lock()
        self._closed = False
        self._started = False
        self._cap = self._open()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.nominal_fps: float | None = fps if 0 < fps < 1000 else None
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count: int | None = int(count) if count > 0 else None
        self.frame_size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._stats.nominal_fps = self.nominal_fps
        log.info(
            "camera %s: video %s, %dx%d, %s fps, %s frames",
            self.camera_id,
            self.path,
            *self.frame_size,
            f"{self.nominal_fps:.2f}" if self.nominal_fps else "unknown",
            self.frame_count if self.frame_count is not None else "unknown",
        )

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path), _FILE_API)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"cannot read video {self.path}: not a video file, truncated, or an unsupported codec",
                "check that it plays (ffprobe FILE); re-encode it to H.264 MP4, or use an image folder",
            )
        return cap

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError("a FileSource can be iterated once; open the source again to re-read it")
        self._started = True
        sampler = FrameSampler(self.cfg.frame_skip, self.cfg.target_fps)
        frame_ms = 1000.0 / (self.nominal_fps or _DEFAULT_FPS)
        index = 0  # source frame number over all passes, unreadable frames included
        offset_ms = 0.0  # video time at which the current pass starts
        passes = 1
        pass_seen = pass_ok = bad_run = 0
        last_pts_ms: float | None = None
        try:
            while True:
                with self._cap_lock:
                    if self._closed:
                        return
                    ok = self._cap.grab()
                    pts_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC) if ok else 0.0
                if not ok:
                    at_end = self.frame_count is not None and pass_seen + bad_run >= self.frame_count
                    if not at_end and bad_run + 1 < self.max_bad_run:
                        bad_run += 1
                        continue
                    self._finish_pass(pass_seen, bad_run + (0 if at_end else 1), index)
                    if not (self.cfg.loop and pass_ok and self._reopen()):
                        return
                    passes += 1
                    log.debug("camera %s: looping %s (pass %d)", self.camera_id, self.path, passes)
                    offset_ms += (last_pts_ms or 0.0) + frame_ms
                    pass_seen = pass_ok = bad_run = 0
                    last_pts_ms = None
                    continue
                if bad_run:
                    self._count_corrupt(bad_run, f"frame {index} of {self.path}")
                    index += bad_run
                    pass_seen += bad_run
                    bad_run = 0
                if last_pts_ms is not None and pts_ms <= last_pts_ms:
                    pts_ms = last_pts_ms + frame_ms  # no usable pts: step by the nominal frame time
                last_pts_ms = pts_ms
                selected = sampler.keep(index, (offset_ms + pts_ms) / 1000.0)
                frame = self._take(selected, index, offset_ms + pts_ms)
                index += 1
                pass_seen += 1
                pass_ok += 1
                if frame is not None:
                    yield frame
        finally:
            self.close()

    def _take(self, selected: bool, index: int, video_ms: float) -> Frame | None:
        """The grabbed frame as BGR if the sampler kept it (failing to convert counts as corrupt), counted."""
        now = time.monotonic()
        frame = None
        if selected:
            with self._cap_lock:
                got, image = self._cap.retrieve()
            if got and image is not None:
                captured_at = self.start_time + timedelta(milliseconds=video_ms)
                frame = Frame(image, index, captured_at, now, self.camera_id)
            else:
                self._count_corrupt(1, f"frame {index} of {self.path}")
        with self._lock:
            self._rate.tick(now)
            self._stats.frames_read += frame is not None or not selected
            self._stats.frames_skipped_by_sampling += not selected
            self._stats.frames_yielded += frame is not None
        return frame

    def _finish_pass(self, pass_seen: int, bad_run: int, index: int) -> None:
        """Count failures at the end of a pass that lie before the declared frame count as corrupt."""
        if self.frame_count is None or not bad_run:
            return
        missing = min(bad_run, self.frame_count - pass_seen)
        if missing > 0:
            log.warning(
                "camera %s: %s stopped at frame %d of %d after %d unreadable frame(s)",
                self.camera_id,
                self.path,
                pass_seen,
                self.frame_count,
                bad_run,
            )
            self._count_corrupt(missing, f"frame {index} of {self.path} (end)")

    def _reopen(self) -> bool:
        with self._cap_lock:
            if self._closed:
                return False
            self._cap.release()
            try:
                self._cap = self._open()
            except SourceError as exc:
                log.error("camera %s: cannot reopen %s to loop: %s", self.camera_id, self.path, exc.message)
                return False
            return True

    def close(self) -> None:
        with self._cap_lock:
            self._closed = True
            self._cap.release()
