"""ByteTrack from the maintained `trackers` library (Roboflow), behind our `Tracker` interface."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import supervision as sv
from pydantic import Field
from trackers import ByteTrackTracker

from ..config import TrackerConfig
from ..registry import Registry, registry
from ..types import Detections

TRACKERS: Registry[type] = registry("tracker")


class Tracker(Protocol):
    """Assigns `tracker_id` to detections; returns only the tracked ones. `timestamp` is the frame's capture
    time in seconds (a file's: its start plus the frame's pts), so motion is predicted over the frames that
    were not processed (sparse sampling, a live stream's dropped frames); None: one frame per call."""

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections: ...

    def confirming(self) -> bool:
        """Whether a track was started that has no id yet (it needs more frames to be confirmed)."""
        ...


class ByteTrackConfig(TrackerConfig):
    """ByteTrack (the `trackers` library).

    Attributes:
        track_activation_threshold: a detection must score this much to start a track.
        high_conf_det_threshold: detections above it are matched first, the rest in ByteTrack's second pass;
            only those first-pass detections start tracks, so a track starts at the higher of the two (0.5
            by default). Both at 0.4 track far plates the detector scores 0.4-0.5 frame after frame (US
            `eval --motion approach --clip-size 1080p` +1 clip of 111, `--clip-frames 12` +2), but lost 2 EU
            12-frame clips and 1 EU 1080p clip counting O=0, I=1: no gain, not the default.
        minimum_iou_threshold: least IoU for a detection to continue a track.
        minimum_consecutive_frames: frames before a new track gets an id.
    """

    type: Literal["bytetrack"] = "bytetrack"
    track_activation_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    high_conf_det_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    minimum_iou_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    minimum_consecutive_frames: int = Field(default=2, ge=1)
    association_scale: float = Field(
        default=2.5,
        ge=1.0,
        le=10.0,
        description=(
            "boxes are grown by this factor around their centre for matching only: plates are small and move "
            "several heights per frame, so their raw boxes often do not overlap from one frame to the next"
        ),
    )


@TRACKERS.register("bytetrack", config=ByteTrackConfig)
class ByteTrack:
    """ByteTrack with our `Detections` in and out; extra `data` columns survive the round trip.

    Args:
        cfg: thresholds and buffer (frames).
        frame_rate: processed frames per second, scales the lost-track buffer.
    """

    def __init__(self, cfg: ByteTrackConfig, frame_rate: float = 25.0) -> None:
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

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        sv_dets = sv.Detections(
            xyxy=self._grow(detections.xyxy),
            confidence=detections.confidence,
            class_id=detections.class_id,
            data={"row": np.arange(len(detections))},
        )
        tracked = self._tracker.update(sv_dets, timestamp=timestamp)
        if len(tracked) == 0:
            return Detections.empty() if not detections.data else detections[np.zeros(0, dtype=np.int64)]
        ids = np.asarray(tracked.tracker_id, dtype=np.int64)
        ok = ids >= 0
        rows = np.asarray(tracked.data["row"], dtype=np.int64)[ok]
        out = detections[rows]  # the original boxes, not the grown ones
        out.tracker_id = ids[ok]
        return out

    def confirming(self) -> bool:
        return any(t.tracker_id == -1 for t in self._tracker.tracks)


def build_tracker(cfg: TrackerConfig, frame_rate: float = 25.0) -> Tracker:
    return TRACKERS.get(cfg.type)(cfg, frame_rate)
