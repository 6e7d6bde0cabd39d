"""Test-time variants of a plate crop for OCR: the crop as cut, and cut down to its line of characters.

A detector box holds more than the characters: the frame, the state name or slogan above and below (US
plates), the blue EU country band, dealer stickers. The recogniser reads one line squeezed to 48 px high, so
that clutter both shrinks the characters and adds letters. `find_char_band` finds the main characters as
connected components of similar height on one line (classical image processing, ~1 ms) and the variants cut
the crop to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Variant names: the crop as given; its rows that hold the characters; those rows narrowed to the
#: characters' columns too (drops the EU country band and the frame sides).
VARIANTS = ("full", "band_rows", "band")
#: What the reader reads by default. On the OpenALPR EU/US sets `band` alone (~1.1x the OCR time of the full
#: crop) lifts exact match most; adding `band_rows` (~2x in all) gains ~2 points more; adding `full` back
#: gains nothing.
DEFAULT_VARIANTS = ("band_rows", "band")

_WORK_HEIGHT_PX = 64
#: A line of characters sloping at least this much (degrees) is rotated level before the band is cut (below
#: it, rotating changed nothing measurable; from 4 degrees it fixed tilted US plates and broke none).
MIN_SKEW_DEG = 4.0


@dataclass(frozen=True)
class CharBand:
    """Where the main row of characters lies in a crop, in crop px.

    Attributes:
        xyxy: box around all the characters found.
        char_height_px: median height of a character.
        count: characters found.
        angle_deg: slope of the line through the characters' centres (positive: falling to the right).
    """

    xyxy: tuple[float, float, float, float]
    char_height_px: float
    count: int
    angle_deg: float = 0.0


def _char_candidates(binary: np.ndarray) -> np.ndarray:
    """(K, 4) x, y, w, h of components shaped like characters (tall enough, not too wide, not hollow)."""
    height = binary.shape[0]
    _, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    x, y, w, h, area = (stats[1:, i].astype(np.float32) for i in range(5))
    keep = (
        (h >= 0.25 * height) & (h <= 0.98 * height) & (w <= 1.2 * h) & (h <= 10 * w) & (area >= 0.12 * w * h)
    )
    return np.stack([x, y, w, h], axis=1)[keep]


def _largest_line(boxes: np.ndarray, height_tol: float = 0.2, centre_tol: float = 0.25) -> np.ndarray:
    """The largest set of boxes of about one height whose centres lie on one line with some box's."""
    if len(boxes) == 0:
        return boxes
    h = boxes[:, 3]
    cy = boxes[:, 1] + h / 2
    same_h = np.abs(h[None, :] - h[:, None]) <= height_tol * h[:, None]
    same_y = np.abs(cy[None, :] - cy[:, None]) <= centre_tol * h[:, None]
    members = same_h & same_y  # row i: the boxes that line up with box i
    return boxes[members[int(members.sum(axis=1).argmax())]]


def find_char_band(crop: np.ndarray, min_chars: int = 3) -> CharBand | None:
    """The box around the crop's main line of characters, or None when fewer than `min_chars` are found.

    Both polarities (dark on light, light on dark) are tried with a local-mean threshold; long horizontal
    strokes (frame edges, underlines) are removed first so characters touching them separate out.

    Example:
        >>> blank = np.full((40, 160, 3), 255, np.uint8)
        >>> find_char_band(blank) is None
        True
    """
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    if grey.shape[0] < 8 or grey.shape[1] < 8:
        return None
    scale = _WORK_HEIGHT_PX / grey.shape[0]
    width = max(8, round(grey.shape[1] * scale))
    work = cv2.resize(grey, (width, _WORK_HEIGHT_PX), interpolation=cv2.INTER_LINEAR)
    block = (_WORK_HEIGHT_PX // 2) | 1
    line_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(5, width // 4), 1))
    best = np.zeros((0, 4), np.float32)
    for image in (255 - work, work):  # characters as the bright side of the threshold
        binary = cv2.adaptiveThreshold(image, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -5)
        lines = cv2.morphologyEx(binary, cv2.MORPH_OPEN, line_kernel)
        binary = cv2.subtract(binary, cv2.dilate(lines, np.ones((3, 1), np.uint8)))
        line = _largest_line(_char_candidates(binary))
        if len(line) > len(best):
            best = line
    if len(best) < min_chars:
        return None
    centre_x, centre_y = best[:, 0] + best[:, 2] / 2, best[:, 1] + best[:, 3] / 2
    slope = float(np.polyfit(centre_x, centre_y, 1)[0]) if np.ptp(centre_x) > 1 else 0.0
    x1, y1 = best[:, 0].min(), best[:, 1].min()
    x2, y2 = (best[:, 0] + best[:, 2]).max(), (best[:, 1] + best[:, 3]).max()
    return CharBand(
        xyxy=(float(x1 / scale), float(y1 / scale), float(x2 / scale), float(y2 / scale)),
        char_height_px=float(np.median(best[:, 3]) / scale),
        count=len(best),
        angle_deg=float(np.degrees(np.arctan(slope))),
    )


def deskew(crop: np.ndarray, angle_deg: float) -> np.ndarray:
    """The crop rotated by `angle_deg` about its centre (same size, borders replicated)."""
    h, w = crop.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    return cv2.warpAffine(crop, rotation, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_variants(
    crop: np.ndarray,
    names: tuple[str, ...] | list[str] = VARIANTS,
    margin_y: float = 0.2,
    margin_x: float = 0.5,
    min_skew_deg: float = MIN_SKEW_DEG,
) -> list[np.ndarray]:
    """The variants of one crop named in `names` (see `VARIANTS`), in that order.

    A band variant is left out when no character band is found; when that leaves nothing, the crop itself is
    returned. Band variants come from the crop rotated level when its characters slope `min_skew_deg` or
    more. Margins are in character heights.
    """
    out = []
    source = crop
    band = find_char_band(crop) if any(n != "full" for n in names) else None
    if band is not None and abs(band.angle_deg) >= min_skew_deg:
        straight = deskew(crop, band.angle_deg)
        straight_band = find_char_band(straight)
        if straight_band is not None:
            source, band = straight, straight_band
    h, w = crop.shape[:2]
    for name in names:
        if name == "full":
            out.append(crop)
        elif band is not None:
            x1, y1, x2, y2 = band.xyxy
            my, mx = margin_y * band.char_height_px, margin_x * band.char_height_px
            top, bottom = int(max(0.0, y1 - my)), int(min(h, y2 + my + 1))
            left, right = (int(max(0.0, x1 - mx)), int(min(w, x2 + mx + 1))) if name == "band" else (0, w)
            if bottom - top >= 4 and right - left >= 4:
                out.append(source[top:bottom, left:right])
    return out or [crop]
