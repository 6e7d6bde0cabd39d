"""Training plates: many layouts, fonts and degradations, cut the way the plate detector cuts them.

Unlike `synth.plates` (clean plates for tests and demos, which avoids ambiguous characters), this renderer
is for teaching a reader: texts include I, O, Q and 0 next to letters, plates come in EU (with country
band), UK, US, BR (Mercosul and old grey), two-line/square and motorcycle layouts, and each sample is
degraded (perspective, blur, JPEG, noise, night IR, low resolution, dirt, bolts, frames, loose or tight
crop margins). On US layouts a printed letter O is labelled 0, as US plate data labels it (most states
print one glyph for both).

Fonts are looked up among Debian's plate-like faces (`fonts-opendin`, `fonts-roboto`, `fonts-dejavu`,
`fonts-b612`, `fonts-bebas-neue`); without any of them Pillow's embedded font is used, so nothing here
needs system fonts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..imaging import jpeg_roundtrip

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
#: In a printed string: a gap between character groups with a small picture in it (a state or county
#: emblem such as Georgia's peach, Pennsylvania's keystone or a heart), as many US plates print. Not part
#: of the label.
EMBLEM = "\u2022"
EMBLEM_SHAPES = ("disc", "peach", "keystone", "star", "heart", "diamond", "blob")

#: Font files tried, most plate-like first; missing ones are skipped.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/opendin/OSP-DIN.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/opentype/b612/B612Mono-Bold.otf",
    "/usr/share/fonts/opentype/b612/B612-Bold.otf",
    "/usr/share/fonts/opentype/bebas-neue/BebasNeue-Regular.otf",
    "/usr/share/fonts/opentype/bebas-neue/BebasNeue-Bold.otf",
)

# Registration layouts: L letter, 9 digit, space/dash printed as a gap/dash (not part of the label).
EU_FORMATS = {
    "D": ("LL L 9999", "L LL 999", "LLL L 99", "LL LL 999", "L L 9999"),
    "F": ("LL-999-LL",),
    "I": ("LL 999LL",),
    "E": ("9999 LLL",),
    "NL": ("99-LLL-9", "LL-999-L", "L-999-LL", "9-LLL-99", "LL-99-LL"),
    "B": ("9-LLL-999",),
    "PL": ("LL 99999", "LLL 9999", "LL 9LLL9", "LLL 99LL"),
    "RO": ("LL 99 LLL", "L 999 LLL"),
    "CZ": ("9L9 9999",),
    "SK": ("LL999LL",),
    "A": ("L 9999 L", "LL 999 LL"),
    "H": ("LLL-999",),
    "S": ("LLL 999", "LLL 99L"),
    "DK": ("LL 99 999",),
    "FIN": ("LLL-999",),
    "IRL": ("99-L-9999", "999-LL-999"),
    "SLO": ("LL 99-LLL", "LL L9-99L"),
    "HR": ("LL 999-LL",),
    "LT": ("LLL 999",),
    "P": ("99-LL-99",),
    "TR": ("99 LLL 999", "99 L 9999"),
    "BG": ("L 9999 LL",),
}
UK_FORMATS = ("LL99 LLL",)
US_FORMATS = (
    "9LLL999",
    "LLL 9999",
    "LLL-999",
    "999 LLL",
    "LL9 9999",
    "9LL 9999",
    "LLL 999",
    "99L 999",
    "9L99L9",
)
#: Mixed letter/digit series (X: letter or digit, drawn per plate; vanity-like), drawn with `US_FORMATS`
#: when `Style.us_mixed_series`.
US_MIXED_FORMATS = ("XXX XXX", "XXX XXXX")
BR_MERCOSUL = ("LLL9L99",)
BR_OLD = ("LLL-9999",)
MOTO_FORMATS = (
    ("LL", "9999"),
    ("LLL", "999"),
    ("9L", "9999"),
    ("LL9", "999L"),
    ("LLL", "99L"),
    ("9LL", "999"),
)
SQUARE_FORMATS = (("LL 999", "LLL"), ("LLL", "9999"), ("LL", "999LL"), ("999", "LLL"), ("LL 99", "LL999"))

#: US-style colour schemes (sheet BGR, ink BGR).
US_SCHEMES = (
    ((245, 244, 240), (110, 30, 20)),
    ((240, 240, 240), (30, 30, 120)),
    ((235, 238, 238), (25, 25, 25)),
    ((200, 235, 250), (110, 40, 10)),
    ((40, 200, 250), (20, 20, 20)),
    ((250, 225, 200), (120, 40, 0)),
    ((220, 220, 220), (0, 80, 0)),
    ((60, 60, 60), (240, 240, 240)),
    ((120, 40, 10), (245, 245, 245)),
)
STATE_WORDS = (
    "CALIFORNIA",
    "TEXAS",
    "FLORIDA",
    "NEW YORK",
    "OHIO",
    "ILLINOIS",
    "GEORGIA",
    "OREGON",
    "ARIZONA",
    "NEVADA",
    "VIRGINIA",
    "MARYLAND",
    "MICHIGAN",
    "COLORADO",
    "UTAH",
    "IOWA",
    "KANSAS",
    "MAINE",
)
SLOGANS = ("Sunshine State", "dmv.ca.gov", "Land of Lincoln", "Great Lakes", "Empire State", "VACATIONLAND")
_BLUE = (153, 51, 0)
_STAR = (0, 204, 255)
_SCALE = 0.5  # plates are drawn at half their nominal px size: crops end up <= 200 px wide anyway


@dataclass(frozen=True)
class Style:
    """Choices of the renderer that change what a reader learns (recorded in a reader's model card).

    us_round_glyph: "zero" labels the round glyph of a rendered US plate 0 whether it was drawn as O or 0
        (most states print one glyph for both; OpenALPR's US labels write 0); "printed" labels it as drawn.
    us_mixed_series: draw US plates of mixed letter/digit series (`US_MIXED_FORMATS`) beside `US_FORMATS`.
    """

    us_round_glyph: str = "zero"
    us_mixed_series: bool = True

    def __post_init__(self) -> None:
        if self.us_round_glyph not in ("zero", "printed"):
            raise ValueError(f"us_round_glyph must be 'zero' or 'printed', not {self.us_round_glyph!r}")

    @classmethod
    def of(cls, options: Any) -> Style:
        """The style of a run's options: an object or a mapping with `us_round_glyph` and `us_mixed_series`
        (as saved in a checkpoint: values may be strings); missing ones take the defaults."""
        get = options.get if isinstance(options, dict) else lambda k, d: getattr(options, k, d)
        mixed = get("us_mixed_series", True)
        return cls(str(get("us_round_glyph", "zero")), mixed if isinstance(mixed, bool) else mixed == "True")

    def describe(self) -> str:
        """One line for a model card."""
        glyph = (
            "labelled 0 whether drawn as O or 0"
            if self.us_round_glyph == "zero"
            else "labelled as drawn (O or 0)"
        )
        mixed = "with" if self.us_mixed_series else "without"
        return f"US round glyph {glyph}; {mixed} the mixed letter/digit US series"


@dataclass(frozen=True)
class PlateSample:
    """One rendered training plate.

    Attributes:
        image: BGR uint8 crop, cut around the plate as the detector cuts it (margins vary).
        text: the label, upper-case A-Z0-9 as printed.
        layout: which layout rendered it (e.g. `eu-D`, `us`, `br-mercosul`, `moto`).
    """

    image: np.ndarray
    text: str
    layout: str


def available_fonts() -> tuple[str, ...]:
    """The plate-like font files on this machine (empty: Pillow's embedded font is used)."""
    return tuple(p for p in FONT_CANDIDATES if Path(p).is_file())


@lru_cache(maxsize=128)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def text_for_layout(layout: str, rng: np.random.Generator, hard: bool = True) -> str:
    """Fill a layout (`L` letter, `9` digit, `X` either, other characters kept) with random characters.

    With `hard`, letters include I, O and Q and a digit next to a letter is 0 more often than chance,
    so the reader learns the pairs it would otherwise guess.
    """
    letters = LETTERS if hard else "ABCDEFGHJKLMNPRSTUVWXYZ"
    if "X" in layout:
        layout = "".join("L9"[int(rng.integers(2))] if c == "X" else c for c in layout)
    out = []
    for i, slot in enumerate(layout):
        if slot == "L":
            if hard and rng.random() < 0.12:
                out.append("IOQ"[int(rng.integers(3))])
            else:
                out.append(letters[int(rng.integers(len(letters)))])
        elif slot == "9":
            near_letter = "L" in layout[max(0, i - 1) : i] + layout[i + 1 : i + 2]
            if hard and near_letter and rng.random() < 0.2:
                out.append("0")
            elif hard and rng.random() < 0.08:
                out.append("01"[int(rng.integers(2))])
            else:
                out.append(DIGITS[int(rng.integers(10))])
        else:
            out.append(slot)
    return "".join(out)


def label_of(printed: str) -> str:
    """The label of a printed string: upper-case A-Z0-9 only."""
    return "".join(c for c in printed.upper() if c.isalnum() and c.isascii())


def random_layout_text(rng: np.random.Generator, hard: bool = True) -> str:
    """A random mixed string of 4-9 characters (no format), so the reader does not lean on formats only."""
    n = int(rng.integers(4, 10))
    pool = (LETTERS + DIGITS) if hard else "ABCDEFGHJKLMNPRSTUVWXYZ123456789"
    return "".join(pool[int(rng.integers(len(pool)))] for _ in range(n))


# ----------------------------------------------------------------------------------------------- drawing


def _sheet(w: int, h: int, colour: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = colour
    direction = rng.random() < 0.5
    ramp = np.linspace(1.0, 0.85 + 0.15 * rng.random(), h if direction else w, dtype=np.float32)
    plate *= ramp[:, None, None] if direction else ramp[None, :, None]
    plate += rng.normal(0.0, 2.0 + 4.0 * rng.random(), (h, w, 1)).astype(np.float32)
    return np.clip(plate, 0, 255).astype(np.uint8)


@lru_cache(maxsize=2048)
def _glyph(font_path: str, ch: str, stroke: int, size: int = 64) -> np.ndarray:
    """Ink of one character on a strip of fixed height (shared baseline), trimmed left and right."""
    font = _font(font_path, size)
    cw = max(1, int(font.getlength(ch)))
    canvas = Image.new("L", (cw + 2 * stroke + 8, 2 * size), 0)
    draw = ImageDraw.Draw(canvas)
    if ch == "-":
        draw.rectangle((4 + cw // 4, size, 4 + 3 * cw // 4, size + size // 9), fill=255)
    elif ch != " ":
        draw.text((4, size // 3), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    ink = np.asarray(canvas)
    if ch == EMBLEM:  # a gap about one character wide; the emblem is drawn in it afterwards
        return np.zeros((2 * size, max(4, int(font.getlength("0")))), np.uint8)
    if ch == " " or not ink.any():
        return np.zeros((2 * size, max(4, cw // 2)), np.uint8)
    xs = np.flatnonzero(ink.any(axis=0))
    return ink[:, xs.min() : xs.max() + 1].copy()


def _text_mask(
    printed: str,
    box_w: int,
    box_h: int,
    font_path: str,
    rng: np.random.Generator,
    gaps: list[tuple[float, float]] | None = None,
) -> np.ndarray:
    """0..1 float mask of `printed` squeezed or centred into a box_w x box_h area.

    The x centre (in the box) and width of each `EMBLEM` gap are appended to `gaps` when given.
    """
    stroke = int(rng.integers(0, 3))
    spacing = int(rng.integers(1, 9))
    parts: list[np.ndarray] = []
    centres: list[tuple[float, float]] = []
    x = 0
    for i, ch in enumerate(printed):
        g = _glyph(font_path, ch, stroke)
        if i:
            parts.append(np.zeros((g.shape[0], spacing), np.uint8))
            x += spacing
        if ch == EMBLEM:
            centres.append((x + g.shape[1] / 2, g.shape[1]))
        parts.append(g)
        x += g.shape[1]
    ink = np.hstack(parts)
    ys = np.flatnonzero(ink.any(axis=1))
    if len(ys) == 0:
        return np.zeros((box_h, box_w), np.float32)
    ink = ink[ys.min() : ys.max() + 1]
    aspect = ink.shape[1] / ink.shape[0]
    out_w = min(box_w, max(1, round(box_h * aspect * rng.uniform(0.8, 1.15))))
    resized = cv2.resize(ink, (out_w, box_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    layer = np.zeros((box_h, box_w), np.float32)
    x0 = (box_w - out_w) // 2 + int(rng.integers(-2, 3)) if box_w > out_w + 4 else (box_w - out_w) // 2
    layer[:, x0 : x0 + out_w] = resized
    if gaps is not None:
        f = out_w / ink.shape[1]
        gaps.extend((x0 + c * f, gw * f) for c, gw in centres)
    return layer


def _ink(plate: np.ndarray, mask: np.ndarray, x: int, y: int, colour) -> None:
    h, w = mask.shape
    h = min(h, plate.shape[0] - y)
    w = min(w, plate.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    region = plate[y : y + h, x : x + w].astype(np.float32)
    alpha = mask[:h, :w, None]
    plate[y : y + h, x : x + w] = (region * (1 - alpha) + np.array(colour, np.float32) * alpha).astype(
        np.uint8
    )


def _small_text(plate, words: str, x: int, y: int, w: int, h: int, colour, font_path: str, rng) -> None:
    if w < 4 or h < 3:
        return
    _ink(plate, _text_mask(words, w, h, font_path, rng), x, y, colour)


def _emblem(plate: np.ndarray, cx: float, cy: float, size: float, rng: np.random.Generator) -> None:
    """A small coloured picture centred at (cx, cy), about `size` px high, drawn on `plate` in place."""
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    if rng.random() < 0.6:  # mostly strong colours: red, orange, green, blue
        colour = ((40, 60, 220), (30, 140, 250), (40, 150, 40), (160, 70, 20), (20, 20, 160))[
            int(rng.integers(5))
        ]
    shape = EMBLEM_SHAPES[int(rng.integers(len(EMBLEM_SHAPES)))]
    r = max(1.5, size / 2)
    c = np.array([cx, cy], np.float32)
    aa = cv2.LINE_AA
    if shape in ("disc", "peach"):
        cv2.ellipse(
            plate,
            (round(cx), round(cy)),
            (round(r * rng.uniform(0.8, 1.0)), round(r)),
            0,
            0,
            360,
            colour,
            -1,
            aa,
        )
        if shape == "peach":  # a leaf on top
            leaf = (round(cx + 0.3 * r), round(cy - r))
            cv2.ellipse(
                plate,
                leaf,
                (max(1, round(0.45 * r)), max(1, round(0.2 * r))),
                -30,
                0,
                360,
                (40, 140, 40),
                -1,
                aa,
            )
    else:
        if shape == "keystone":
            pts = [(-0.8, -1), (0.8, -1), (0.55, 0.1), (0.75, 1), (-0.75, 1), (-0.55, 0.1)]
        elif shape == "star":
            a = np.pi / 2 + np.arange(10) * np.pi / 5
            rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
            pts = list(zip(rad * np.cos(a), -rad * np.sin(a), strict=True))
        elif shape == "heart":
            pts = [
                (0, 1),
                (-1, -0.1),
                (-0.85, -0.75),
                (-0.4, -0.95),
                (0, -0.55),
                (0.4, -0.95),
                (0.85, -0.75),
                (1, -0.1),
            ]
        elif shape == "diamond":
            pts = [(0, -1), (0.7, 0), (0, 1), (-0.7, 0)]
        else:  # blob: a rough outline (a state's shape)
            a = np.sort(rng.uniform(0, 2 * np.pi, 9))
            rad = rng.uniform(0.6, 1.0, 9)
            pts = list(zip(rad * np.cos(a), rad * np.sin(a), strict=True))
        poly = np.round(np.float32(pts) * r + c).astype(np.int32)
        cv2.fillPoly(plate, [poly], colour, aa)


def _rim(plate: np.ndarray, colour, rng: np.random.Generator) -> None:
    h, w = plate.shape[:2]
    t = int(rng.integers(1, 5))
    cv2.rectangle(plate, (1, 1), (w - 2, h - 2), colour, t, cv2.LINE_AA)


def _eu_band(plate: np.ndarray, band_w: int, code: str, font_path: str, rng) -> None:
    h = plate.shape[0]
    plate[:, :band_w] = _BLUE
    cx, cy, r = band_w / 2, 0.3 * h, 0.17 * h
    for k in range(12):
        a = 2 * np.pi * k / 12
        cv2.circle(plate, (int(cx + r * np.cos(a)), int(cy + r * np.sin(a))), max(1, h // 40), _STAR, -1)
    _small_text(
        plate,
        code,
        int(band_w * 0.15),
        int(0.58 * h),
        int(band_w * 0.7),
        int(0.3 * h),
        (245, 245, 245),
        font_path,
        rng,
    )


def _one_line(
    printed: str,
    size: tuple[int, int],
    sheet,
    ink,
    rng,
    font_path: str,
    band: str = "",
    top: str = "",
    bottom: str = "",
    top_colour=None,
) -> np.ndarray:
    w, h = int(size[0] * _SCALE), int(size[1] * _SCALE)
    plate = _sheet(w, h, sheet, rng)
    band_w = int(0.085 * w) if band else 0
    if band:
        _eu_band(plate, band_w, band, font_path, rng)
    mx = int(w * rng.uniform(0.02, 0.06))
    my_top = int(h * (0.28 if top else rng.uniform(0.1, 0.2)))
    my_bottom = int(h * (0.2 if bottom else rng.uniform(0.1, 0.2)))
    box_h = h - my_top - my_bottom
    gaps: list[tuple[float, float]] = []
    mask = _text_mask(printed, w - band_w - 2 * mx, box_h, font_path, rng, gaps)
    _ink(plate, mask, band_w + mx, my_top, ink)
    for gx, gw in gaps:  # the emblem fits its gap: it may touch the characters, not cover them
        size = min(box_h * rng.uniform(0.35, 0.75), gw * rng.uniform(0.7, 1.0))
        _emblem(plate, band_w + mx + gx, my_top + box_h * rng.uniform(0.4, 0.6), size, rng)
    if top:
        _small_text(
            plate,
            top,
            int(0.2 * w),
            int(0.04 * h),
            int(0.6 * w),
            int(0.18 * h),
            top_colour or ink,
            font_path,
            rng,
        )
    if bottom:
        _small_text(
            plate, bottom, int(0.25 * w), int(0.83 * h), int(0.5 * w), int(0.12 * h), ink, font_path, rng
        )
    _rim(plate, ink if rng.random() < 0.7 else (40, 40, 40), rng)
    return plate


def _two_line(
    lines: tuple[str, str], size: tuple[int, int], sheet, ink, rng, font_path: str, band: str = ""
) -> np.ndarray:
    w, h = int(size[0] * _SCALE), int(size[1] * _SCALE)
    plate = _sheet(w, h, sheet, rng)
    band_w = int(0.14 * w) if band else 0
    if band:
        _eu_band(plate, band_w, band, font_path, rng)
    mx, my = int(0.05 * w), int(0.07 * h)
    line_h = (h - 3 * my) // 2
    for i, line in enumerate(lines):
        mask = _text_mask(line, w - band_w - 2 * mx, line_h, font_path, rng)
        _ink(plate, mask, band_w + mx, my + i * (line_h + my), ink)
    _rim(plate, ink, rng)
    return plate


def _layout_plate(
    rng: np.random.Generator, font_path: str, hard: bool, style: Style = Style()
) -> tuple[np.ndarray, str, str]:
    """(plate BGR, label, layout name) of a random layout, before any degradation."""
    kind = rng.choice(
        ["eu", "uk", "us", "br-mercosul", "br-old", "moto", "square", "random"],
        p=[0.3, 0.08, 0.22, 0.06, 0.08, 0.08, 0.1, 0.08],
    )
    black = (int(rng.integers(5, 40)),) * 3
    if kind == "eu":
        country = list(EU_FORMATS)[int(rng.integers(len(EU_FORMATS)))]
        fmts = EU_FORMATS[country]
        printed = text_for_layout(fmts[int(rng.integers(len(fmts)))], rng, hard)
        yellow = (country in ("NL", "DK") and rng.random() < 0.6) or rng.random() < 0.08
        sheet = (30, 200, 250) if yellow else (236, 238, 238)
        band = country if rng.random() < 0.85 else ""
        w = int(rng.integers(440, 560))
        plate = _one_line(printed, (w, int(w / rng.uniform(4.2, 5.0))), sheet, black, rng, font_path, band)
    elif kind == "uk":
        printed = text_for_layout(UK_FORMATS[0], rng, hard)
        sheet = (30, 205, 250) if rng.random() < 0.5 else (240, 242, 242)
        band = "GB" if rng.random() < 0.4 else ""
        plate = _one_line(printed, (520, 111), sheet, black, rng, font_path, band)
    elif kind == "us":
        formats = US_FORMATS + US_MIXED_FORMATS if style.us_mixed_series else US_FORMATS
        printed = text_for_layout(formats[int(rng.integers(len(formats)))], rng, hard)
        if rng.random() < 0.3 and (" " in printed or "-" in printed):  # an emblem between the groups
            printed = printed.replace(" ", EMBLEM).replace("-", EMBLEM)
        sheet, ink = US_SCHEMES[int(rng.integers(len(US_SCHEMES)))]
        top = STATE_WORDS[int(rng.integers(len(STATE_WORDS)))] if rng.random() < 0.85 else ""
        bottom = SLOGANS[int(rng.integers(len(SLOGANS)))] if rng.random() < 0.5 else ""
        colour = tuple(int(v) for v in rng.integers(0, 200, 3)) if rng.random() < 0.5 else ink
        plate = _one_line(
            printed, (300, 150), sheet, ink, rng, font_path, top=top, bottom=bottom, top_colour=colour
        )
    elif kind == "br-mercosul":
        printed = text_for_layout(BR_MERCOSUL[0], rng, hard)
        plate = _one_line(
            printed,
            (400, 130),
            (238, 238, 238),
            black,
            rng,
            font_path,
            top="BRASIL",
            top_colour=(245, 245, 245),
        )
        band_h = int(0.22 * plate.shape[0])
        plate[:band_h] = (160, 70, 10)
        _small_text(
            plate,
            "BRASIL",
            int(0.38 * plate.shape[1]),
            1,
            int(0.25 * plate.shape[1]),
            band_h - 2,
            (245, 245, 245),
            font_path,
            rng,
        )
    elif kind == "br-old":
        printed = text_for_layout(BR_OLD[0], rng, hard)
        town = STATE_WORDS[int(rng.integers(len(STATE_WORDS)))][:6] + "-PR"
        sheet = (185, 185, 185) if rng.random() < 0.75 else (40, 40, 190)
        ink = black if sheet[0] > 100 else (235, 235, 235)
        plate = _one_line(printed, (400, 130), sheet, ink, rng, font_path, top=town)
    elif kind == "moto":
        top_f, bottom_f = MOTO_FORMATS[int(rng.integers(len(MOTO_FORMATS)))]
        lines = (text_for_layout(top_f, rng, hard), text_for_layout(bottom_f, rng, hard))
        printed = lines[0] + lines[1]
        sheet = (236, 238, 238) if rng.random() < 0.6 else (30, 200, 250)
        plate = _two_line(lines, (220, 170), sheet, black, rng, font_path)
    elif kind == "square":
        top_f, bottom_f = SQUARE_FORMATS[int(rng.integers(len(SQUARE_FORMATS)))]
        lines = (text_for_layout(top_f, rng, hard), text_for_layout(bottom_f, rng, hard))
        printed = lines[0] + lines[1]
        sheet = (236, 238, 238) if rng.random() < 0.7 else (30, 200, 250)
        band = "D" if rng.random() < 0.5 else ""
        plate = _two_line(lines, (int(rng.integers(280, 340)), 200), sheet, black, rng, font_path, band)
    else:
        printed = random_layout_text(rng, hard)
        if rng.random() < 0.5:
            sheet, ink = US_SCHEMES[int(rng.integers(len(US_SCHEMES)))]
            plate = _one_line(printed, (300, 150), sheet, ink, rng, font_path)
        else:
            plate = _one_line(
                printed, (520, 112), (236, 238, 238), black, rng, font_path, "EU"[: int(rng.integers(0, 3))]
            )
    label = label_of(printed)
    if kind == "us" and style.us_round_glyph == "zero":  # one glyph for O and 0; OpenALPR's US labels: 0
        label = label.replace("O", "0")
    return plate, label, str(kind)


# ------------------------------------------------------------------------------------------- degradation


def _bolts_and_frame(plate: np.ndarray, rng: np.random.Generator) -> None:
    h, w = plate.shape[:2]
    if rng.random() < 0.3:
        for x in (int(0.25 * w), int(0.75 * w)):
            cv2.circle(plate, (x, int(0.1 * h)), max(2, h // 25), (150, 150, 150), -1, cv2.LINE_AA)
    if rng.random() < 0.15:
        for _ in range(int(rng.integers(1, 6))):
            c = (int(rng.integers(w)), int(rng.integers(h)))
            cv2.circle(plate, c, int(rng.integers(2, max(3, h // 8))), (60, 70, 80), -1)
        plate[:] = cv2.addWeighted(plate, 0.7, cv2.blur(plate, (15, 15)), 0.3, 0)


def _place(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Put the plate on a car-like surround under a random perspective; cut it out like `crop_plate`."""
    h, w = plate.shape[:2]
    surround = tuple(int(v) for v in rng.integers(0, 255, 3))
    pad = int(0.6 * h)
    canvas = np.empty((h + 2 * pad, w + 2 * pad, 3), np.uint8)
    canvas[:] = surround
    canvas[:] = np.clip(canvas.astype(np.int16) + rng.normal(0, 8, (*canvas.shape[:2], 1)), 0, 255).astype(
        np.uint8
    )
    if rng.random() < 0.3:  # frame holder around the plate
        t = int(rng.integers(3, max(4, h // 6)))
        fc = tuple(int(v) for v in rng.integers(0, 80, 3))
        cv2.rectangle(canvas, (pad - t, pad - t), (pad + w + t, pad + h + 2 * t), fc, -1)
    canvas[pad : pad + h, pad : pad + w] = plate
    src = np.float32([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]])
    jitter = np.float32(rng.normal(0, 1, (4, 2)) * [0.04 * w, 0.06 * h])
    skew = rng.normal(0, 0.08) * h
    jitter[:, 1] += np.float32([-skew, skew, skew, -skew]) * (rng.random() < 0.5)
    dst = src + jitter
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(
        canvas, m, (canvas.shape[1], canvas.shape[0]), borderMode=cv2.BORDER_REPLICATE
    )
    x1, y1 = dst.min(axis=0)
    x2, y2 = dst.max(axis=0)
    bw, bh = x2 - x1, y2 - y1
    # the detector's box is off by a few percent; crop_plate adds 4 % / 10 % on top
    px1, px2 = rng.normal(0.04, 0.04, 2)
    py1, py2 = rng.normal(0.10, 0.07, 2)
    cx1 = int(np.clip(x1 - px1 * bw, 0, warped.shape[1] - 2))
    cx2 = int(np.clip(x2 + px2 * bw, cx1 + 2, warped.shape[1]))
    cy1 = int(np.clip(y1 - py1 * bh, 0, warped.shape[0] - 2))
    cy2 = int(np.clip(y2 + py2 * bh, cy1 + 2, warped.shape[0]))
    return warped[cy1:cy2, cx1:cx2]


def degrade(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera effects on a BGR crop: low resolution, blur, lighting, night IR, noise, JPEG."""
    h, w = crop.shape[:2]
    target_w = int(rng.choice([rng.integers(50, 110), rng.integers(90, 200)], p=[0.4, 0.6]))
    scale = min(1.0, target_w / w)
    img = cv2.resize(crop, (max(8, int(w * scale)), max(4, int(h * scale))), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.35:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    if rng.random() < 0.15:  # motion blur
        k = int(rng.integers(3, 7))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    f = img.astype(np.float32)
    if rng.random() < 0.12:  # night IR: grey, bright plate, strong contrast
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        f = np.repeat(np.clip((grey - 60) * rng.uniform(1.2, 2.0), 0, 255)[..., None], 3, axis=2)
    else:
        f = f * rng.uniform(0.5, 1.3) + rng.uniform(-40, 40)
        f = f * rng.uniform(0.85, 1.15, 3)[None, None, :]
        if rng.random() < 0.3:  # shadow across the plate
            x = int(rng.integers(0, f.shape[1]))
            f[:, x:] *= rng.uniform(0.4, 0.8)
    f += rng.normal(0, rng.uniform(0, 10), (*f.shape[:2], 1))
    img = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        img = jpeg_roundtrip(img, int(rng.integers(20, 95)))
    return img


def _pick_font(rng: np.random.Generator, fonts: tuple[str, ...] | None) -> str:
    """One of `fonts` (default: `available_fonts()`), or "" (Pillow's font) when there is none."""
    fonts = fonts if fonts is not None else available_fonts()
    return fonts[int(rng.integers(len(fonts)))] if fonts else ""


def _drawn_plate(
    rng: np.random.Generator,
    fonts: tuple[str, ...] | None,
    hard: bool,
    reject: Callable[[str], bool] | None,
    style: Style = Style(),
) -> tuple[np.ndarray, str, str]:
    """(plate, label, layout) of a random layout with its bolts and frame, drawn again (up to 20 times) while
    the label is empty, longer than 10 or rejected by `reject` (e.g. an evaluation plate text)."""
    font_path = _pick_font(rng, fonts)
    for _ in range(20):
        plate, label, layout = _layout_plate(rng, font_path, hard, style)
        if label and len(label) <= 10 and not (reject and reject(label)):
            break
    _bolts_and_frame(plate, rng)
    return plate, label, layout


def clean_plate(
    rng: np.random.Generator,
    fonts: tuple[str, ...] | None = None,
    hard: bool = True,
    reject: Callable[[str], bool] | None = None,
) -> tuple[np.ndarray, str, str]:
    """(plate BGR, label, layout) of a random layout as printed, before any placing or degradation (with its
    bolts and frame dirt): to mount on vehicles in rendered scenes (`synth.scenes`, via `plate_crops`).
    `reject` as in `render_sample`."""
    return _drawn_plate(rng, fonts, hard, reject)


def render_sample(
    rng: np.random.Generator,
    hard: bool = True,
    fonts: tuple[str, ...] | None = None,
    reject: Callable[[str], bool] | None = None,
    style: Style = Style(),
) -> PlateSample:
    """One degraded training plate crop and its label.

    Args:
        rng: source of randomness (same state, same sample).
        hard: include I, O, Q and 0 next to letters (see `text_for_layout`).
        fonts: font files to pick from (default: `available_fonts()`, or Pillow's font when none).
        reject: returns True for a label that must not be used (e.g. an evaluation plate text);
            such a sample is drawn again.
        style: the renderer's labelling and layout choices (`Style`).
    """
    plate, label, layout = _drawn_plate(rng, fonts, hard, reject, style)
    crop = _place(plate, rng)
    return PlateSample(degrade(crop, rng), label, layout)
