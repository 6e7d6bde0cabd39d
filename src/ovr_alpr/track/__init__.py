"""Tracking: one id per plate (or vehicle) across frames."""

from .bytetrack import TRACKERS, ByteTrack, Tracker, build_tracker

__all__ = ["TRACKERS", "ByteTrack", "Tracker", "build_tracker"]
