"""A folder of still images (or one image) read in natural order, e.g. camera snapshots or a test set."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import cv2

from ..config import CameraConfig
from ..errors import SourceError
from ..imaging import IMAGE_SUFFIXES
from ..types import Frame
from .base import SOURCES, FrameSampler, FrameSource, natural_key, source_path

log = logging.getLogger(__name__)


@SOURCES.register("images")
class ImageFolderSource(FrameSource):
    """The images of one folder (not its subfolders), sorted naturally (`img2` before `img10`).

    Files whose suffix is not an image type are ignored; an image that cannot be decoded is counted in
    `stats.corrupt_frames` and skipped. `frame_skip` applies (skipped files are not read); `target_fps`
    does not, a folder has no timeline. `captured_at` is the file's modification time in UTC, the best
    capture time a snapshot folder offers.

    Args:
        cfg: the camera's config; `source` is the folder (or one image file).

    Attributes:
        files: the image files, in the order they are read.
    """

    kind = "images"
    is_live = False

    def __init__(self, cfg: CameraConfig) -> None:
        super().__init__(cfg)
        path = source_path(cfg.source)
        if path.is_file():
            self.files = [path]
        elif path.is_dir():
            try:
                entries = [p for p in path.iterdir() if p.is_file()]
            except PermissionError:
                raise SourceError(
                    f"image folder {path} is not readable (permission denied)", "fix its permissions"
                ) from None
            self.files = sorted(
                (p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: natural_key(p.name)
            )
            if not self.files:
                others = f" ({len(entries)} other files)" if entries else ""
                raise SourceError(
                    f"image folder {path} has no images{others}",
                    f"add {', '.join(sorted(IMAGE_SUFFIXES))} files, or point the source at a video file",
                )
        else:
            raise SourceError(f"image folder {path} not found", "check the camera's source path")
        if cfg.target_fps is not None:
            log.warning(
                "camera %s: target_fps does not apply to an image folder; use frame_skip", self.camera_id
            )
        self._closed = threading.Event()
        log.info("camera %s: %d images in %s", self.camera_id, len(self.files), path)

    def __iter__(self) -> Iterator[Frame]:
        sampler = FrameSampler(self.cfg.frame_skip)
        index = 0
        while not self._closed.is_set():
            for file in self.files:
                if self._closed.is_set():
                    return
                frame = None
                selected = sampler.keep(index, 0.0)
                if selected:
                    frame = self._read(file, index)
                    if frame is None:
                        index += 1
                        continue
                with self._lock:
                    self._rate.tick()
                    self._stats.frames_read += 1
                    self._stats.frames_skipped_by_sampling += not selected
                    self._stats.frames_yielded += frame is not None
                index += 1
                if frame is not None:
                    yield frame
            if not self.cfg.loop:
                return

    def _read(self, file: Path, index: int) -> Frame | None:
        now = time.monotonic()
        try:
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            mtime = os.stat(file).st_mtime
        except (OSError, cv2.error) as exc:
            log.debug("camera %s: cannot read %s: %s", self.camera_id, file, exc)
            image = None
        if image is None:
            self._count_corrupt(1, str(file))
            return None
        return Frame(image, index, datetime.fromtimestamp(mtime, timezone.utc), now, self.camera_id)

    def close(self) -> None:
        self._closed.set()
