"""The `FrameSource` interface, its counters, and `open_source`, which picks a source kind from a string."""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from ..config import CameraConfig
from ..errors import SourceError
from ..imaging import IMAGE_SUFFIXES
from ..registry import Registry, registry
from ..types import Frame

log = logging.getLogger(__name__)

SOURCES: Registry[type[FrameSource]] = registry("source kind")

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")


_CORRUPT_WARNINGS = 10
_SOURCE_FORMS = "a video file, an image folder, an rtsp(s):// or http(s):// URL, or a camera index like 0"


@dataclass
class SourceStats:
    """Counters of one source; `FrameSource.stats` returns a consistent snapshot.

    Attributes:
        kind: registry word of the source (`file`, `images`, `stream`, `camera`).
        is_live: True for streams and cameras (frames arrive in real time and may be dropped).
        frames_read: readable frames taken from the input; equals yielded + skipped by sampling
            (+ dropped, + at most one waiting, for live sources).
        frames_yielded: frames handed to the consumer.
        frames_skipped_by_sampling: frames left out by `frame_skip` / `target_fps`.
        corrupt_frames: unreadable frames or images that were skipped.
        dropped_frames: live only: frames replaced by a newer one before the consumer took them.
        reconnects: live only: successful reconnections after the connection was lost.
        reconnect_attempts: live only: connection attempts after a loss (or after a failed first
            connection), failed ones included.
        connected: live only: whether the reader holds an open connection now.
        input_fps: frames read per second of wall time, over the last few seconds.
        nominal_fps: frame rate the container or camera declares (None if unknown).
    """

    kind: str
    is_live: bool
    frames_read: int = 0
    frames_yielded: int = 0
    frames_skipped_by_sampling: int = 0
    corrupt_frames: int = 0
    dropped_frames: int = 0
    reconnects: int = 0
    reconnect_attempts: int = 0
    connected: bool = False
    input_fps: float = 0.0
    nominal_fps: float | None = None


class FrameSource(ABC):
    """An iterable of `Frame`s from one camera, with counters and `close()`.

    Iterate once, from one consumer. A file or folder ends at its end (unless `loop`); a live source ends
    only when `close()` is called, from any thread. Use it as a context manager to close it.

    Example:
        >>> with open_source(CameraConfig(source="clip.mp4")) as source:  # doctest: +SKIP
        ...     for frame in source:
        ...         ...
    """

    kind: ClassVar[str] = "base"
    is_live: ClassVar[bool] = False

    def __init__(self, cfg: CameraConfig) -> None:
        self.cfg = cfg
        self.camera_id = cfg.id
        self._lock = threading.Lock()
        self._stats = SourceStats(kind=self.kind, is_live=self.is_live)
        self._rate = RateMeter()
        self._corrupt_warnings = 0

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """Yield frames until the end of the input (files) or `close()` (live)."""

    @abstractmethod
    def close(self) -> None:
        """Release the input; safe to call twice and from another thread."""

    @property
    def stats(self) -> SourceStats:
        """A snapshot of the counters, safe to read from any thread."""
        with self._lock:
            return replace(self._stats, input_fps=self._rate.fps())

    @property
    def description(self) -> str:
        """The source as it may be logged (credentials in URLs removed)."""
        return redact_url(self.cfg.source)

    def _count_corrupt(self, count: int, where: str) -> None:
        """Count unreadable frames; the first few are logged as warnings, the rest at DEBUG."""
        with self._lock:
            self._stats.corrupt_frames += count
        self._corrupt_warnings += 1
        level = logging.WARNING if self._corrupt_warnings <= _CORRUPT_WARNINGS else logging.DEBUG
        log.log(level, "camera %s: skipped %d unreadable frame(s) at %s", self.camera_id, count, where)
        if self._corrupt_warnings == _CORRUPT_WARNINGS:
            log.warning("camera %s: further unreadable frames are logged at DEBUG level", self.camera_id)

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(camera={self.camera_id!r}, source={self.description!r})"


class FrameSampler:
    """Keeps every (frame_skip + 1)-th frame, then at most `target_fps` frames per second of `t_s`.

    `t_s` is video time for files and wall time for live sources; after a gap the budget does not pile up.

    Example:
        >>> sampler = FrameSampler(frame_skip=0, target_fps=4.0)
        >>> [i for i in range(10) if sampler.keep(i, i / 10)]
        [0, 3, 5, 8]
    """

    def __init__(self, frame_skip: int = 0, target_fps: float | None = None) -> None:
        self.stride = frame_skip + 1
        self.interval_s = 1.0 / target_fps if target_fps else 0.0
        self._next_due_s: float | None = None

    def keep(self, index: int, t_s: float) -> bool:
        if index % self.stride:
            return False
        if not self.interval_s:
            return True
        if self._next_due_s is not None and t_s < self._next_due_s - 1e-6:
            return False
        due = self._next_due_s + self.interval_s if self._next_due_s is not None else t_s + self.interval_s
        self._next_due_s = due if due > t_s else t_s + self.interval_s
        return True

    def reset(self) -> None:
        self._next_due_s = None


class RateMeter:
    """Events per second over the last `window_s` seconds of `time.monotonic()` (not thread-safe)."""

    def __init__(self, window_s: float = 5.0, max_samples: int = 512) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque(maxlen=max_samples)

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)

    def fps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        times = [t for t in self._times if now - t <= self.window_s]
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])


def natural_key(name: str) -> list[Any]:
    """Sort key that orders `img2` before `img10`.

    Example:
        >>> sorted(["f10.jpg", "f2.jpg", "F1.jpg"], key=natural_key)
        ['F1.jpg', 'f2.jpg', 'f10.jpg']
    """
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def redact_url(source: str) -> str:
    """`rtsp://user:secret@host/x` -> `rtsp://***@host/x`; other strings unchanged."""
    if "://" not in source:
        return source
    try:
        parts = urlsplit(source)
    except ValueError:
        return source
    if "@" not in parts.netloc:
        return source
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def detect_kind(source: str) -> str:
    """The source kind a string names: `camera`, `stream`, `images` or `file`.

    Raises:
        SourceError: the string is empty, names a missing path, or uses an unsupported URL scheme.

    Example:
        >>> detect_kind("0"), detect_kind("rtsp://cam.local/main")
        ('camera', 'stream')
    """
    text = source.strip()
    if not text:
        raise SourceError("no video source given", f"set the camera's source to {_SOURCE_FORMS}")
    if re.fullmatch(r"\d+", text) or re.fullmatch(r"/dev/video\d+", text):
        return "camera"
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme in STREAM_SCHEMES:
            return "stream"
        if scheme != "file":
            raise SourceError(
                f"unsupported source scheme {scheme}:// in {redact_url(text)}",
                "use rtsp://, rtsps://, http:// or https://, a file path, an image folder or a camera index",
            )
    path = source_path(text)
    if path.is_dir():
        return "images"
    if path.is_file():
        return "images" if path.suffix.lower() in IMAGE_SUFFIXES else "file"
    if path.exists():
        raise SourceError(f"source {path} is neither a file nor a folder", f"use {_SOURCE_FORMS}")
    raise SourceError(
        f"source {path} not found",
        f"check the path (relative paths start at {Path.cwd()}), or use {_SOURCE_FORMS}",
    )


def source_path(source: str) -> Path:
    """The filesystem path of a path-like source (`~` expanded, `file://` removed)."""
    text = source.strip()
    if text.lower().startswith("file://"):
        text = urlsplit(text).path
    return Path(text).expanduser()


def open_source(cfg: CameraConfig, *, kind: str | None = None, **options: Any) -> FrameSource:
    """Open the source of one camera; the kind is detected from `cfg.source` unless given.

    Args:
        cfg: the camera's config (`source`, `frame_skip`, `target_fps`, `loop`, `reconnect_max_s`).
        kind: force a registry word (`file`, `images`, `stream`, `camera`) instead of detecting it.
        **options: passed to the implementation (e.g. `start_time` for files, `open_timeout_s` for streams).

    Raises:
        SourceError: the source is missing, unreadable or unreachable (one line with a hint).
    """
    from . import file, images, live  # noqa: F401  (fills SOURCES)

    return SOURCES.get(kind or detect_kind(cfg.source))(cfg, **options)
