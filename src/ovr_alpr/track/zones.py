"""A camera's zones, masks and entry/exit lines resolved to frame pixels: which plates count, which zones a
point is in, and which lines a step of a track's path crosses (and which way)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ..config import CameraConfig, LineConfig, Point, ZoneConfig


def to_pixels(points: Sequence[Point], frame_size: tuple[int, int]) -> np.ndarray:
    """(N, 2) float32 px: points whose coordinates are all <= 1 are fractions of (width, height)."""
    array = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if float(array.max(initial=0.0)) <= 1.0:
        array = array * np.asarray(frame_size, dtype=np.float32)
    return array


def _inside(polygon: np.ndarray, x: float, y: float) -> bool:
    return cv2.pointPolygonTest(polygon, (float(x), float(y)), False) >= 0


def _side(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """> 0 when `p` is right of the way from `a` to `b` on the image (y down), < 0 left, 0 on the line."""
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


@dataclass(frozen=True)
class _Line:
    config: LineConfig
    a: np.ndarray
    b: np.ndarray


class CameraGeometry:
    """One camera's zones, masks and lines in pixels of its frames.

    Args:
        cam: the camera's config (`zones`, `masks`, `lines`).
        frame_size: (width, height) of its frames, to resolve fractional coordinates.
    """

    def __init__(self, cam: CameraConfig, frame_size: tuple[int, int]) -> None:
        self.zones: list[tuple[ZoneConfig, np.ndarray]] = [
            (z, to_pixels(z.points, frame_size)) for z in cam.zones
        ]
        self.masks: list[np.ndarray] = [to_pixels(m, frame_size) for m in cam.masks]
        self.lines: list[_Line] = [_Line(ln, *to_pixels(ln.points, frame_size)) for ln in cam.lines]
        self._by_name = {z.name: z for z in cam.zones}

    @classmethod
    def build(cls, cam: CameraConfig, frame_size: tuple[int, int]) -> CameraGeometry | None:
        """The camera's geometry, or None when it sets no zones, masks or lines."""
        if not (cam.zones or cam.masks or cam.lines):
            return None
        return cls(cam, frame_size)

    @property
    def filters(self) -> bool:
        """Whether some plates are dropped (zones or masks are set)."""
        return bool(self.zones or self.masks)

    def zone(self, name: str) -> ZoneConfig | None:
        return self._by_name.get(name)

    def keep(self, anchors: np.ndarray, widths: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the points (N, 2) that count: in no mask and, when zones are set, in a zone whose
        `min_plate_width_px` their plate's width (N,) meets."""
        keep = np.ones(len(anchors), dtype=bool)
        for i, (x, y) in enumerate(anchors):
            if any(_inside(m, x, y) for m in self.masks):
                keep[i] = False
            elif self.zones:
                keep[i] = any(
                    _inside(poly, x, y)
                    and (
                        widths is None
                        or zone.min_plate_width_px is None
                        or widths[i] >= zone.min_plate_width_px
                    )
                    for zone, poly in self.zones
                )
        return keep

    def zones_at(self, x: float, y: float) -> list[str]:
        """Names of the zones the point is in, in config order."""
        return [zone.name for zone, poly in self.zones if _inside(poly, x, y)]

    def crossings(
        self, start: tuple[float, float], end: tuple[float, float]
    ) -> list[tuple[str, Literal["in", "out"]]]:
        """(line name, `in`/`out`) of every line the step from `start` to `end` crosses (segments intersect,
        `end` strictly on the other side)."""
        p, q = np.asarray(start, np.float32), np.asarray(end, np.float32)
        out: list[tuple[str, Literal["in", "out"]]] = []
        for line in self.lines:
            before, after = _side(line.a, line.b, p), _side(line.a, line.b, q)
            if before * after > 0 or after == 0 or before == after:
                continue
            # The step must cross the segment itself, not its extension.
            if _side(p, q, line.a) * _side(p, q, line.b) > 0:
                continue
            inward = after > 0  # left -> right when walking from the line's first point to its second
            out.append((line.config.name, "in" if inward != line.config.invert else "out"))
        return out
