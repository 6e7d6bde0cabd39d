"""Image helpers every layer shares: file suffixes, fitting an image into a network input, cropping boxes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: Still-image file suffixes, the one list (sources, datasets, calibration sets).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".ts", ".mpg", ".mpeg"})


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


@dataclass
class LetterboxInfo:
    """How a frame was fitted into the network input: scale `ratio`, then padding (`pad_x`, `pad_y`) px."""

    ratio: float
    pad_x: float
    pad_y: float


class Letterbox:
    """Fits images into a fixed (height, width) canvas, reusing one buffer per stream.

    Args:
        size: (height, width) of the network input in px.
        center: pad on both sides (Ultralytics) or only right/bottom (YOLOX).
        fill: grey level of the padding.
    """

    def __init__(self, size: tuple[int, int], center: bool = True, fill: int = 114) -> None:
        self.height, self.width = size
        self.center = center
        self.fill = fill
        self._canvas = np.full((self.height, self.width, 3), fill, dtype=np.uint8)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, LetterboxInfo]:
        h, w = image.shape[:2]
        r = min(self.height / h, self.width / w)
        new_w, new_h = max(1, round(w * r)), max(1, round(h * r))
        pad_x = (self.width - new_w) / 2 if self.center else 0.0
        pad_y = (self.height - new_h) / 2 if self.center else 0.0
        left, top = round(pad_x - 0.1), round(pad_y - 0.1)
        canvas = self._canvas
        canvas.fill(self.fill)
        interp = cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR
        canvas[top : top + new_h, left : left + new_w] = cv2.resize(
            image, (new_w, new_h), interpolation=interp
        )
        return canvas, LetterboxInfo(r, float(left), float(top))


class RectLetterbox:
    """Fits each image into a canvas of its own aspect: long side `size`, both sides multiples of `stride`.

    What Ultralytics does for a model that takes any input size, with one difference: where a side would be
    padded up to the next multiple of the stride, the scale shrinks a little instead (by at most
    `max_shrink`) so that the side fits the multiple below. A 16:9 frame at 640 then runs at 640 x 352
    (scale 0.489, the image 626 px wide) rather than 640 x 384 with 24 grey rows the network would compute:
    8 % fewer pixels. The canvas of each recent image shape is kept.

    With `max_downscale`, a large image is shrunk at most that much: its canvas grows past `size` (up to
    `max_size`), so its small objects keep the pixels the network needs (1080p at 640 rather than 512 for
    `max_downscale` 3).
    """

    def __init__(
        self,
        size: int,
        stride: int = 32,
        fill: int = 114,
        max_shrink: float = 0.03,
        max_downscale: float | None = None,
        max_size: int = 1024,
    ) -> None:
        self.size = size
        self.stride = stride
        self.fill = fill
        self.max_shrink = max_shrink
        self.max_downscale = max_downscale
        self.max_size = max_size
        self._fits: dict[tuple[int, int], Letterbox] = {}

    def long_side(self, height: int, width: int) -> int:
        """The canvas's long side for an image of this size (before rounding to the stride)."""
        if not self.max_downscale:
            return self.size
        return max(self.size, min(self.max_size, math.ceil(max(height, width) / self.max_downscale)))

    def canvas_hw(self, height: int, width: int) -> tuple[int, int]:
        s = self.stride
        r = self.long_side(height, width) / max(height, width)
        # the largest scale, at most r, at which each side fits the multiple of the stride below its length
        down = min(r, *(max(s, math.floor(round(side * r) / s) * s) / side for side in (height, width)))
        if down >= r * (1 - self.max_shrink):
            r = down
        return (
            max(s, math.ceil(round(height * r) / s) * s),
            max(s, math.ceil(round(width * r) / s) * s),
        )

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, LetterboxInfo]:
        shape = (int(image.shape[0]), int(image.shape[1]))
        fit = self._fits.get(shape)
        if fit is None:
            if len(self._fits) > 8:  # vehicle crops come in many shapes: keep the cache small
                self._fits.clear()
            fit = self._fits[shape] = Letterbox(self.canvas_hw(*shape), center=True, fill=self.fill)
        return fit(image)


def to_nchw(image: np.ndarray, dtype: np.dtype, scale: float = 1 / 255.0, swap_rb: bool = True) -> np.ndarray:
    """HWC uint8 -> 1xCxHxW of `dtype` (scaled, optionally BGR->RGB); uint8 models get raw bytes."""
    if swap_rb:
        image = image[..., ::-1]
    chw = image.transpose(2, 0, 1)[None]
    if np.dtype(dtype) == np.uint8:
        return np.ascontiguousarray(chw)
    out = chw.astype(np.float32)
    if scale != 1.0:
        out *= scale
    return np.ascontiguousarray(out, dtype=dtype)


def crop_box(image: np.ndarray, box: np.ndarray, pad_x: float = 0.04, pad_y: float = 0.08) -> np.ndarray:
    """Crop an xyxy box with a small margin (fractions of its width/height), clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    h, w = image.shape[:2]
    xa, ya = max(0, int(x1 - pad_x * bw)), max(0, int(y1 - pad_y * bh))
    xb, yb = min(w, math.ceil(x2 + pad_x * bw)), min(h, math.ceil(y2 + pad_y * bh))
    return image[ya:yb, xa:xb]


#: The region around a plate taken as its vehicle when no vehicle box is known, in plate widths: a car is
#: about 3.5 EU plate widths wide, and its front or back rises about 2.5 plate widths above the plate.
VEHICLE_AROUND_PLATE = {"left": 2.0, "right": 2.0, "above": 2.5, "below": 0.6}


def vehicle_region(plate_xyxy: np.ndarray, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The likely vehicle box (x1, y1, x2, y2 px, clipped to the frame) around a plate box."""
    x1, y1, x2, y2 = (float(v) for v in plate_xyxy)
    width = max(x2 - x1, 1.0)
    cx = (x1 + x2) / 2
    fw, fh = frame_size
    a = VEHICLE_AROUND_PLATE
    return (
        max(0, int(cx - a["left"] * width)),
        max(0, int(y1 - a["above"] * width)),
        min(fw, math.ceil(cx + a["right"] * width)),
        min(fh, math.ceil(y2 + a["below"] * width)),
    )


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """The image as it comes back from JPEG at `quality` (what a camera's or a crop's compression leaves)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else image


def fit_longest_side(image: np.ndarray, max_side_px: int | None) -> np.ndarray:
    """The image scaled down (never up) so its longest side is at most `max_side_px` (None = as is)."""
    h, w = image.shape[:2]
    if max_side_px is None or max(h, w) <= max_side_px:
        return image
    r = max_side_px / max(h, w)
    return cv2.resize(image, (max(1, round(w * r)), max(1, round(h * r))), interpolation=cv2.INTER_AREA)
