"""The data types that flow between stages: frames and one struct-of-arrays `Detections`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


@dataclass
class Frame:
    """One decoded video frame.

    Attributes:
        image: BGR uint8 array, shape (H, W, 3).
        index: frame number in its source, starting at 0 (counts skipped frames too).
        captured_at: UTC time the frame was captured (for files: start time + pts).
        captured_monotonic: `time.monotonic()` when the frame was read, used to measure latency.
        camera_id: the camera this frame belongs to.
    """

    image: np.ndarray
    index: int
    captured_at: datetime
    captured_monotonic: float
    camera_id: str = "cam0"


@dataclass
class Detections:
    """Boxes found in one frame, as parallel numpy arrays (like `supervision.Detections`).

    Attributes:
        xyxy: float32 (N, 4) boxes in pixels of the full frame.
        confidence: float32 (N,) detector scores in 0..1.
        class_id: int64 (N,) class indices of the detector.
        tracker_id: int64 (N,) track ids, -1 until tracked.
        data: extra per-box arrays, each of length N (e.g. ``vehicle_index``).

    Example:
        >>> d = Detections.empty()
        >>> len(d[d.confidence > 0.5])
        0
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(n)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(n)
        if self.tracker_id is None or len(self.tracker_id) != n:
            self.tracker_id = np.full(n, -1, dtype=np.int64)
        else:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64)
        for key, value in self.data.items():
            if len(value) != n:
                raise ValueError(f"Detections.data[{key!r}] has {len(value)} rows, expected {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64))

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set.intersection(*(set(p.data) for p in parts))
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.tracker_id for p in parts]),
            {k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.class_id[index],
            self.tracker_id[index],
            {k: v[index] for k, v in self.data.items()},
        )

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def with_offset(self, dx: float, dy: float) -> Detections:
        """A copy with boxes shifted by (dx, dy) pixels, e.g. from crop to frame coordinates."""
        out = self[np.arange(len(self))]
        out.xyxy = out.xyxy + np.array([dx, dy, dx, dy], dtype=np.float32)
        return out
