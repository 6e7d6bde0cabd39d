"""ByteTrack from the maintained `trackers` library (Roboflow), behind our `Tracker` interface."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from ..config import TrackerConfig
from ..registry import Registry
from ..types import Detections

TRACKERS: Registry[type] = Registry("tracker")


class Tracker(Protocol):
    """Assigns `tracker_id` to detections; returns only the tracked ones."""

    def update(self, detections: Detections) -> Detections: ...


@TRACKERS.register("bytetrack")
class ByteTrack:
    """ByteTrack with our `Detections` in and out; extra `data` columns survive the round trip.

    Args:
        cfg: thresholds and buffer (frames).
        frame_rate: processed frames per second, scales the lost-track buffer.
    """

    def __init__(self, cfg: TrackerConfig, frame_rate: float = 25.0) -> None:
        self._tracker = ByteTrackTracker(
            lost_track_buffer=cfg.lost_track_buffer,
            frame_rate=frame_rate,
            track_activation_threshold=cfg.track_activation_threshold,
            minimum_consecutive_frames=cfg.minimum_consecutive_frames,
            minimum_iou_threshold=cfg.minimum_iou_threshold,
            high_conf_det_threshold=cfg.high_conf_det_threshold,
        )
        self.association_scale = cfg.association_scale

    def _grow(self, xyxy: np.ndarray) -> np.ndarray:
        if self.association_scale == 1.0 or not len(xyxy):
            return xyxy.astype(np.float32)
        centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
        half = (xyxy[:, 2:] - xyxy[:, :2]) * (self.association_scale / 2)
        return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)

    def update(self, detections: Detections) -> Detections:
        sv_dets = sv.Detections(
            xyxy=self._grow(detections.xyxy),
            confidence=detections.confidence,
            class_id=detections.class_id,
            data={"row": np.arange(len(detections))},
        )
        tracked = self._tracker.update(sv_dets)
        if len(tracked) == 0:
            return Detections.empty() if not detections.data else detections[np.zeros(0, dtype=np.int64)]
        ids = np.asarray(tracked.tracker_id, dtype=np.int64)
        ok = ids >= 0
        rows = np.asarray(tracked.data["row"], dtype=np.int64)[ok]
        out = detections[rows]  # the original boxes, not the grown ones
        out.tracker_id = ids[ok]
        return out


def build_tracker(cfg: TrackerConfig, frame_rate: float = 25.0) -> Tracker:
    return TRACKERS.get(cfg.type)(cfg, frame_rate)
