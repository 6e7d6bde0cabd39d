"""Rendered licence plates (EU and US looks) and plausible plate strings, for tests, demos and benchmarks.

Glyphs come from Pillow's embedded scalable font (``ImageFont.load_default(size=...)``), so rendering needs no
system fonts.

Generated texts avoid characters a reader cannot tell apart, so that a test asking the OCR for an exact
match fails on the reader's mistakes, not on an ambiguous ground truth:

- the letters ``I``, ``O`` and ``Q`` never occur (many registries leave them out for the same reason);
- a ``0`` never touches a letter: PP-OCR reads a ``0`` next to letters as ``O`` (measured: ``VV000F`` read
  as ``VV00OF`` in every frame), while a ``0`` inside a digit group is read right;
- ``0`` is drawn narrower than the font's, which is as round as its ``O``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PlateStyle = Literal["eu", "us"]
STYLES: tuple[str, ...] = ("eu", "us")

#: Letters used in generated plates; ``I``, ``O`` and ``Q`` are left out (see the module docstring).
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
PLATE_DIGITS = "0123456789"

# Layouts of real registrations: L is a letter, 9 a digit.
_EU_FORMATS = ("LL999LL", "LL99LLL", "LLL999", "LL9999", "LLL9999", "L999LLL", "LLL99L", "LL999", "LLLL9999")
_US_FORMATS = ("9LLL999", "LLL9999", "LLL999", "999LLL", "LL99999", "9LL9999")

#: Canonical plate sizes in pixels (width, height): EU 520x110 mm (~4.7:1) and US 12x6 in (2:1).
PLATE_SIZE_PX: dict[str, tuple[int, int]] = {"eu": (520, 112), "us": (300, 150)}

_EU_BAND_BLUE_BGR = (153, 51, 0)
_STAR_YELLOW_BGR = (0, 204, 255)
_ZERO_WIDTH = 0.8  # of the font's 0, which is as round as its O


def random_plate_text(rng: np.random.Generator, style: str = "eu") -> str:
    """A plausible registration of 5-8 characters for ``style`` (no ``I``/``O``/``Q``, no ``0`` by a letter).

    Args:
        rng: source of randomness; the same generator state gives the same text.
        style: ``"eu"`` or ``"us"``.

    Example:
        >>> random_plate_text(np.random.default_rng(0), "eu")  # doctest: +SKIP
        'RM330'
    """
    formats = _formats(style)
    layout = formats[int(rng.integers(len(formats)))]
    chars = []
    for i, slot in enumerate(layout):
        if slot == "L":
            chars.append(PLATE_LETTERS[int(rng.integers(len(PLATE_LETTERS)))])
            continue
        touches_letter = "L" in layout[max(0, i - 1) : i] + layout[i + 1 : i + 2]
        digits = PLATE_DIGITS[1:] if touches_letter else PLATE_DIGITS
        chars.append(digits[int(rng.integers(len(digits)))])
    return "".join(chars)


def render_plate(text: str, rng: np.random.Generator, style: str = "eu") -> np.ndarray:
    """A plate image with ``text`` on it, at the canonical size of ``style`` (see `PLATE_SIZE_PX`).

    EU plates are white or yellow with a dark rim and, mostly, the blue band with the ring of stars; US plates
    are white or pale with coloured characters and a thin coloured stripe. Characters are bold and dark.

    Args:
        text: the registration to print (upper-case letters and digits).
        rng: picks background, band and ink variations.
        style: ``"eu"`` or ``"us"``.

    Returns:
        BGR uint8 array of shape (height, width, 3).
    """
    _formats(style)
    if style == "eu":
        return _render_eu(text, rng)
    return _render_us(text, rng)


def _formats(style: str) -> tuple[str, ...]:
    if style == "eu":
        return _EU_FORMATS
    if style == "us":
        return _US_FORMATS
    raise ValueError(f"unknown plate style {style!r}; allowed: {', '.join(STYLES)}")


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
        raise RuntimeError("Pillow needs FreeType support (>=10.1) to render synthetic plates")
    return font


def _text_layer(
    text: str, box_w: int, box_h: int, stroke: int, condense: float = 1.0, group_gap: float = 0.0
) -> np.ndarray:
    """Float mask in 0..1 of ``text`` filling a ``box_w`` x ``box_h`` area (glyphs squeezed to fit).

    Characters are laid out one by one: ``0`` is drawn narrower than the font's, which is as round as
    an ``O`` (the OCR read ``00`` as ``OO`` on some plates), and a gap of ``group_gap`` glyph heights
    separates letter groups from digit groups, as on real plates.
    """
    size = 4 * box_h
    stroke_px = max(1, round(stroke * size / box_h))
    glyphs = [_glyph(ch, size, stroke_px) for ch in text]
    top = min(g[1] for g in glyphs)
    bottom = max(g[1] + g[0].shape[0] for g in glyphs)
    cap_h = bottom - top
    gap = round(0.1 * cap_h)
    columns: list[np.ndarray] = []
    for i, (ch, (mask, y0)) in enumerate(zip(text, glyphs, strict=True)):
        if i:
            grouped = ch.isdigit() != text[i - 1].isdigit()
            columns.append(np.zeros((cap_h, gap + (round(group_gap * cap_h) if grouped else 0)), np.uint8))
        width = max(1, round(mask.shape[1] * condense * (_ZERO_WIDTH if ch == "0" else 1.0)))
        column = np.zeros((cap_h, width), np.uint8)
        column[y0 - top : y0 - top + mask.shape[0]] = cv2.resize(
            mask, (width, mask.shape[0]), interpolation=cv2.INTER_AREA
        )
        columns.append(column)
    line = np.hstack(columns)
    out_w = min(box_w, round(line.shape[1] * box_h / cap_h))
    resized = cv2.resize(line, (out_w, box_h), interpolation=cv2.INTER_AREA)
    layer = np.zeros((box_h, box_w), np.float32)
    x0 = (box_w - out_w) // 2
    layer[:, x0 : x0 + out_w] = resized.astype(np.float32) / 255.0
    return layer


@lru_cache(maxsize=256)
def _glyph(ch: str, size: int, stroke_px: int) -> tuple[np.ndarray, int]:
    """Ink of one character cropped to its box, and the box's top relative to a shared baseline."""
    font = _font(size)
    canvas = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(canvas).text(
        (size // 2, size // 2), ch, font=font, fill=255, stroke_width=stroke_px, stroke_fill=255
    )
    ink = np.asarray(canvas)
    ys, xs = np.nonzero(ink)
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy(), int(ys.min())


def _ink(plate: np.ndarray, mask: np.ndarray, x: int, y: int, colour: tuple[int, int, int]) -> None:
    h, w = mask.shape
    region = plate[y : y + h, x : x + w].astype(np.float32)
    alpha = mask[..., None]
    plate[y : y + h, x : x + w] = (region * (1 - alpha) + np.array(colour, np.float32) * alpha).astype(
        np.uint8
    )


def _background(w: int, h: int, colour: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Plate sheet with a faint vertical shading and grain, so it is not a flat synthetic colour."""
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = colour
    shade = np.linspace(1.0, 0.93 + 0.04 * rng.random(), h, dtype=np.float32)[:, None, None]
    plate *= shade
    plate += rng.normal(0.0, 3.0, (h, w, 1)).astype(np.float32)
    return np.clip(plate, 0, 255).astype(np.uint8)


def _rim(plate: np.ndarray, colour: tuple[int, int, int], thickness: int, inset: int) -> None:
    h, w = plate.shape[:2]
    cv2.rectangle(plate, (inset, inset), (w - 1 - inset, h - 1 - inset), colour, thickness, cv2.LINE_AA)


def _render_eu(text: str, rng: np.random.Generator) -> np.ndarray:
    w, h = PLATE_SIZE_PX["eu"]
    yellow = rng.random() < 0.2
    sheet = (40, 200, 250) if yellow else (238, 240, 240)
    plate = _background(w, h, sheet, rng)
    has_band = rng.random() < 0.8
    band_w = round(0.085 * w) if has_band else 0
    if has_band:
        plate[:, :band_w] = _EU_BAND_BLUE_BGR
        cx, cy, r = band_w / 2, 0.33 * h, 0.18 * h
        for k in range(12):
            angle = 2 * np.pi * k / 12
            centre = (round((cx + r * np.cos(angle)) * 4), round((cy + r * np.sin(angle)) * 4))
            cv2.circle(plate, centre, 7, _STAR_YELLOW_BGR, -1, cv2.LINE_AA, shift=2)
    ink = (20, 20, 20)
    _rim(plate, ink, 4, 1)
    margin_x, margin_y = round(0.03 * w), round(0.16 * h)
    box_w, box_h = w - band_w - 2 * margin_x, h - 2 * margin_y
    gap = float(rng.choice([0.0, 0.3]))
    mask = _text_layer(text, box_w, box_h, stroke=2, condense=0.95, group_gap=gap)
    _ink(plate, mask, band_w + margin_x, margin_y, ink)
    return plate


def _render_us(text: str, rng: np.random.Generator) -> np.ndarray:
    w, h = PLATE_SIZE_PX["us"]
    sheet = (245, 244, 240) if rng.random() < 0.7 else (215, 240, 250)
    plate = _background(w, h, sheet, rng)
    inks = ((110, 30, 20), (30, 30, 120), (25, 25, 25))
    ink = inks[int(rng.integers(len(inks)))]
    stripe = round(0.09 * h)
    plate[round(0.08 * h) : round(0.08 * h) + stripe, round(0.05 * w) : round(0.95 * w)] = ink
    plate[h - round(0.08 * h) - stripe // 2 : h - round(0.08 * h), round(0.05 * w) : round(0.95 * w)] = ink
    _rim(plate, (70, 70, 70), 3, 1)
    margin_x = round(0.06 * w)
    box_h = round(0.52 * h)
    mask = _text_layer(text, w - 2 * margin_x, box_h, stroke=2, condense=0.8)
    _ink(plate, mask, margin_x, round(0.25 * h), ink)
    return plate
