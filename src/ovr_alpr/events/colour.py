"""Vehicle colour from HSV statistics of the body around the plate: a fixed palette, or None when unsure.

Each body pixel votes for one palette colour (dark -> black, unsaturated -> white or grey by brightness,
saturated -> its hue's colour); the vehicle's colour is the winner when it has a clear share and lead, else
None. No model, no guess: glare, shadows and windows make it abstain rather than answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: The palette. `grey` covers grey and silver, `yellow` yellow and gold; `other` is orange, purple, pink...
PALETTE = ("white", "black", "grey", "red", "blue", "green", "yellow", "brown", "other")


@dataclass(frozen=True)
class ColourThresholds:
    """Pixel and decision thresholds (OpenCV HSV: H 0-179, S and V 0-255).

    Attributes:
        dark_v: below this brightness a pixel is black.
        grey_s: below this saturation (for bright pixels) a pixel is white or grey.
        white_v: an unsaturated pixel at least this bright is white.
        min_share: the winning colour needs this share of the body pixels...
        min_lead: ...and this much more share than the runner-up, or the answer is None.
    """

    dark_v: int = 60
    grey_s: int = 50
    white_v: int = 165
    min_share: float = 0.45
    min_lead: float = 0.15


DEFAULT_THRESHOLDS = ColourThresholds()


def body_mask(shape: tuple[int, int], plate_xyxy: np.ndarray | None) -> np.ndarray:
    """Where the body is likely, in a vehicle crop of `shape` (h, w): the band around and above the plate
    (not the plate, not the window higher up), or the crop's middle when the plate is not known."""
    h, w = shape
    mask = np.zeros((h, w), dtype=np.uint8)
    if plate_xyxy is None:
        mask[int(0.45 * h) : int(0.85 * h), int(0.15 * w) : int(0.85 * w)] = 1
        return mask
    x1, y1, x2, y2 = (float(v) for v in plate_xyxy)
    pw, ph = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    cx = (x1 + x2) / 2
    top, bottom = int(max(0, y1 - 1.3 * pw)), int(min(h, y2 + 0.2 * ph))
    left, right = int(max(0, cx - 1.8 * pw)), int(min(w, cx + 1.8 * pw))
    mask[top:bottom, left:right] = 1
    # the plate itself and a margin (its frame, the lights next to it on many rears)
    mask[int(max(0, y1 - 0.4 * ph)) : bottom, int(max(0, x1 - 0.15 * pw)) : int(min(w, x2 + 0.15 * pw))] = 0
    return mask


def pixel_colours(hsv: np.ndarray, t: ColourThresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Index into `PALETTE` of every pixel of an (N, 3) HSV array."""
    h, s, v = (hsv[:, i].astype(np.int16) for i in range(3))
    out = np.full(len(hsv), PALETTE.index("other"), dtype=np.int8)
    dark = v < t.dark_v
    # low-light pixels need more saturation to have a trustworthy hue
    unsaturated = ~dark & (s < t.grey_s + (150 - np.minimum(v, 150)) // 3)
    chroma = ~dark & ~unsaturated
    out[dark] = PALETTE.index("black")
    out[unsaturated & (v >= t.white_v)] = PALETTE.index("white")
    out[unsaturated & (v < t.white_v)] = PALETTE.index("grey")
    red = (h < 8) | (h >= 165)
    orange = (h >= 8) & (h < 18)
    out[chroma & red] = PALETTE.index("red")
    out[chroma & orange & ((v < 150) | (s < 140))] = PALETTE.index("brown")
    out[chroma & orange & (v >= 150) & (s >= 140)] = PALETTE.index("other")
    out[chroma & (h >= 18) & (h < 34)] = PALETTE.index("yellow")
    # dark greens sit at hues up to ~95 on camera; blue starts there
    out[chroma & (h >= 34) & (h < 95)] = PALETTE.index("green")
    out[chroma & (h >= 95) & (h < 131)] = PALETTE.index("blue")
    return out


def vehicle_colour(
    crop: np.ndarray | None,
    plate_xyxy: np.ndarray | None = None,
    thresholds: ColourThresholds = DEFAULT_THRESHOLDS,
) -> tuple[str | None, float]:
    """(colour or None, the winner's share of body pixels) of a BGR vehicle crop.

    Args:
        crop: the vehicle (its box, or the region around its plate).
        plate_xyxy: the plate's box in the crop's pixels, if known (the body is sampled around it).
        thresholds: pixel and decision thresholds.
    """
    if crop is None or crop.size == 0 or crop.ndim != 3:
        return None, 0.0
    scale = min(1.0, 160.0 / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        plate_xyxy = None if plate_xyxy is None else np.asarray(plate_xyxy, dtype=np.float32) * scale
    mask = body_mask(crop.shape[:2], plate_xyxy).astype(bool)
    if mask.sum() < 50:
        return None, 0.0
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)[mask]
    votes = np.bincount(pixel_colours(hsv, thresholds), minlength=len(PALETTE)) / len(hsv)
    order = np.argsort(votes)[::-1]
    share, runner_up = float(votes[order[0]]), float(votes[order[1]])
    if share < thresholds.min_share or share - runner_up < thresholds.min_lead:
        return None, round(share, 3)
    return PALETTE[int(order[0])], round(share, 3)
