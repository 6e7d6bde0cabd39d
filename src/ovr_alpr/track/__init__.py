"""Tracking: one id per plate (or vehicle) across frames."""

from .bytetrack import TRACKERS, ByteTrack, ByteTrackConfig, Tracker, build_tracker
from .state import Shot, TrackState

__all__ = ["TRACKERS", "ByteTrack", "ByteTrackConfig", "Shot", "TrackState", "Tracker", "build_tracker"]
