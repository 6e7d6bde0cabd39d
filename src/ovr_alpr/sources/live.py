"""Live sources (network streams, local cameras): a reader thread keeps only the newest frame and reconnects.

The consumer always gets the most recent frame, so a slow pipeline never falls behind the camera; frames
it had no time for are counted as dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np

from ..config import CameraConfig
from ..errors import SourceError
from ..types import Frame
from .base import SOURCES, STREAM_SCHEMES, FrameSampler, FrameSource, redact_url

log = logging.getLogger(__name__)


class Capture(Protocol):
    """The part of `cv2.VideoCapture` a live source uses (tests may pass their own)."""

    def isOpened(self) -> bool: ...

    def grab(self) -> bool: ...

    def retrieve(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[], Capture]


def backoff_delays(initial_s: float = 1.0, max_s: float = 30.0) -> Iterator[float]:
    """Seconds to wait before each reconnect attempt: doubling from `initial_s`, capped at `max_s`.

    Example:
        >>> from itertools import islice
        >>> list(islice(backoff_delays(1.0, 5.0), 5))
        [1.0, 2.0, 4.0, 5.0, 5.0]
    """
    delay = initial_s
    while True:
        yield min(delay, max_s)
        delay = min(delay * 2, max_s)


class LiveSource(FrameSource):
    """Reads a live capture in a background thread and hands the consumer only the latest frame.

    `captured_at` is the UTC wall-clock time at which the frame was read; `index` counts every frame read
    since opening, reconnections included. When reading fails (end of stream, network loss, camera
    unplugged), the reader reconnects after 1 s, 2 s, 4 s… capped at `cfg.reconnect_max_s`, logging each
    attempt. Iteration ends only when `close()` is called.

    Args:
        cfg: the camera's config (`source`, `frame_skip`, `target_fps`, `reconnect_max_s`).
        capture_factory: makes a new capture on each (re)connection; default: OpenCV for the source.
        open_timeout_s: how long one connection attempt may take (network streams).
        read_timeout_s: how long one read may block before the connection counts as lost (streams).
        backoff_initial_s: the first reconnect delay; it doubles on each failed attempt.
        max_bad_reads: consecutive failed reads (counted as corrupt if the stream then recovers) after
            which the connection counts as lost.
        fail_fast: connect in the constructor and raise `SourceError` if that fails; if False, connect
            in the reader thread and keep retrying with back-off (the constructor never waits).
    """

    is_live = True

    def __init__(
        self,
        cfg: CameraConfig,
        *,
        capture_factory: CaptureFactory | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        backoff_initial_s: float = 1.0,
        max_bad_reads: int = 5,
        fail_fast: bool = True,
    ) -> None:
        super().__init__(cfg)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.max_bad_reads = max(1, max_bad_reads)
        self._factory: CaptureFactory = capture_factory or self._default_capture
        self._cond = threading.Condition(self._lock)
        self._latest: Frame | None = None
        self._closed = False
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        cap: Capture | None = None
        if fail_fast:
            cap = self._try_open()
            if cap is None:
                raise self._open_error()
            log.info("camera %s: connected to %s", self.camera_id, self.description)
        # Without fail_fast even the first attempt runs in the reader thread: a camera that is down or
        # slow to answer never holds up the start of the others.
        self._thread = threading.Thread(
            target=self._run, args=(cap, not fail_fast), name=f"source-{self.camera_id}", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------ to implement per kind

    def _default_capture(self) -> Capture:
        raise NotImplementedError

    def _open_error(self) -> SourceError:
        return SourceError(f"cannot open {self.description}", "check the source")

    # ------------------------------------------------------------ consumer side

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.next_frame()) is not None:
            yield frame

    def next_frame(self, timeout_s: float | None = None) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout_s` (None = until one comes).

        Returns None on timeout and after `close()`; lets one loop poll several live cameras.
        """
        with self._cond:
            ready = self._cond.wait_for(
                lambda: self._latest is not None or self._closed or self._failure is not None, timeout_s
            )
            if not ready or self._closed:
                return None
            if self._failure is not None:
                raise SourceError(
                    f"the reader of camera {self.camera_id} stopped: {self._failure!r}",
                    "this is a bug; run with --debug and report the log",
                ) from self._failure
            frame, self._latest = self._latest, None
            self._stats.frames_yielded += 1
            return frame

    def close(self) -> None:
        """Stop the reader thread; a blocked network read may delay its exit up to `read_timeout_s`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                log.warning(
                    "camera %s: reader is blocked in a read; it stops within %.0f s",
                    self.camera_id,
                    self.read_timeout_s,
                )

    @property
    def is_running(self) -> bool:
        """Whether the reader thread is still alive (False soon after `close()`)."""
        return self._thread.is_alive()

    # ------------------------------------------------------------ reader thread

    def _try_open(self) -> Capture | None:
        try:
            cap = self._factory()
        except (cv2.error, OSError) as exc:
            log.debug("camera %s: opening %s raised %s", self.camera_id, self.description, exc)
            return None
        if not cap.isOpened():
            cap.release()
            return None
        fps = cap.get(cv2.CAP_PROP_FPS)
        with self._lock:
            self._stats.connected = True
            self._stats.nominal_fps = fps if 0 < fps < 1000 else None
        return cap

    def _run(self, cap: Capture | None, connect_first: bool = False) -> None:
        try:
            if connect_first:
                cap = self._first_connect()
            self._read_loop(cap)
        except Exception as exc:  # a bug here must end the consumer's loop, not hang it
            log.exception("camera %s: reader thread failed", self.camera_id)
            with self._cond:
                self._failure = exc
                self._cond.notify_all()

    def _first_connect(self) -> Capture | None:
        cap = self._try_open()
        if cap is not None:
            log.info("camera %s: connected to %s", self.camera_id, self.description)
            return cap
        with self._lock:
            self._stats.reconnect_attempts += 1
        log.warning(
            "camera %s: cannot connect to %s; retrying with back-off (at most %g s apart), "
            "the other cameras run meanwhile",
            self.camera_id,
            self.description,
            self.cfg.reconnect_max_s,
        )
        return None

    def _read_loop(self, cap: Capture | None) -> None:
        """The reader thread: (re)connect with back-off, grab every frame, keep only the latest one."""
        loop = _ReadLoop(FrameSampler(self.cfg.frame_skip, self.cfg.target_fps))
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap = self._reconnect(loop)
                    if cap is None:
                        continue
                if not self._read_one(cap, loop):
                    cap.release()
                    cap = None
                    with self._lock:
                        self._stats.connected = False
        finally:
            if cap is not None:
                cap.release()
            with self._lock:
                self._stats.connected = False

    def _reconnect(self, loop: _ReadLoop) -> Capture | None:
        """Wait the next back-off delay and try to open the source again; None while it stays down."""
        if loop.delays is None:
            loop.delays = backoff_delays(self.backoff_initial_s, self.cfg.reconnect_max_s)
            loop.attempt = 0
        loop.attempt += 1
        delay = next(loop.delays)
        log.info(
            "camera %s: reconnect attempt %d to %s in %.3g s",
            self.camera_id,
            loop.attempt,
            self.description,
            delay,
        )
        if self._stop.wait(delay):
            return None
        with self._lock:
            self._stats.reconnect_attempts += 1
        cap = self._try_open()
        if cap is None:
            log.warning("camera %s: reconnect attempt %d failed", self.camera_id, loop.attempt)
            return None
        with self._lock:
            self._stats.reconnects += 1
        log.info("camera %s: reconnected to %s", self.camera_id, self.description)
        loop.bad_reads = 0
        return cap

    def _read_one(self, cap: Capture, loop: _ReadLoop) -> bool:
        """Grab one frame (decoding it only if the sampler keeps it); False when the source is lost."""
        started = time.monotonic()
        if not cap.grab():
            loop.bad_reads += 1
            blocked = time.monotonic() - started >= self.read_timeout_s / 2
            if loop.bad_reads < self.max_bad_reads and not blocked:
                return True
            log.warning(
                "camera %s: lost %s (%d failed read(s)); reconnecting",
                self.camera_id,
                self.description,
                loop.bad_reads,
            )
            return False
        now = time.monotonic()
        captured_at = datetime.now(timezone.utc)
        if loop.bad_reads:
            self._count_corrupt(loop.bad_reads, f"frame {loop.index} of {self.description}")
            loop.bad_reads = 0
        loop.delays = None  # frames flow again: the next loss starts back-off from the beginning
        frame = None
        selected = loop.sampler.keep(loop.index, now)
        if selected:
            got, image = cap.retrieve()
            if got and image is not None:
                frame = Frame(image, loop.index, captured_at, now, self.camera_id)
            else:
                self._count_corrupt(1, f"frame {loop.index} of {self.description}")
        loop.index += 1
        self._hand_over(frame, selected, now)
        return True

    def _hand_over(self, frame: Frame | None, selected: bool, now: float) -> None:
        """Make `frame` the latest one (a frame nobody took yet counts as dropped) and wake the consumer."""
        with self._cond:
            self._rate.tick(now)
            if frame is not None:
                self._stats.frames_read += 1
                if self._latest is not None:
                    self._stats.dropped_frames += 1
                self._latest = frame
                self._cond.notify_all()
            elif not selected:
                self._stats.frames_read += 1
                self._stats.frames_skipped_by_sampling += 1


@dataclass
class _ReadLoop:
    """The reader thread's running state between frames."""

    sampler: FrameSampler
    delays: Iterator[float] | None = None
    attempt: int = 0
    index: int = 0
    bad_reads: int = 0


@SOURCES.register("stream")
class StreamSource(LiveSource):
    """A network stream: `rtsp://`, `rtsps://`, `http(s)://` (MJPEG, HLS…), read with OpenCV's FFmpeg.

    RTSP is read over TCP unless `OPENCV_FFMPEG_CAPTURE_OPTIONS` is set: UDP loses packets through NAT
    and on busy links, which shows up as smeared frames.
    """

    kind = "stream"

    def __init__(self, cfg: CameraConfig, **options: Any) -> None:
        scheme = urlsplit(cfg.source.strip()).scheme.lower()
        if scheme not in STREAM_SCHEMES:
            raise SourceError(
                f"{redact_url(cfg.source)} is not a stream URL",
                "use an rtsp://, rtsps://, http:// or https:// URL",
            )
        self._scheme = scheme
        super().__init__(cfg, **options)

    def _default_capture(self) -> Capture:
        if self._scheme.startswith("rtsp") and "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ:
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.read_timeout_s * 1000),
        ]
        return cv2.VideoCapture(self.cfg.source.strip(), cv2.CAP_FFMPEG, params)

    def _open_error(self) -> SourceError:
        return SourceError(
            f"cannot connect to stream {self.description} (camera {self.camera_id})",
            "check the URL, the credentials, and that the camera is reachable from this host (ffprobe URL)",
        )


@SOURCES.register("camera")
class CameraSource(LiveSource):
    """A local camera by index (`0`) or device path (`/dev/video0`), read with OpenCV's default backend."""

    kind = "camera"

    def _default_capture(self) -> Capture:
        text = self.cfg.source.strip()
        cap = cv2.VideoCapture(int(text) if text.isdigit() else text)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's queue would add latency; we keep the latest
        return cap

    def _open_error(self) -> SourceError:
        return SourceError(
            f"cannot open camera {self.cfg.source.strip()} (camera {self.camera_id})",
            "check that it is connected and not used by another program (ls /dev/video*)",
        )
