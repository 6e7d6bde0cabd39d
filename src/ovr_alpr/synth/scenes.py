"""Rendered still scenes with labelled plate boxes, for training the plate detector.

Three kinds of scene, all with known plate boxes (the axis-aligned box of the plate's corners):

- ``road``: 1-4 vehicles on a road or a plain wall, plates from ~14 px to ~40 % of the frame wide, slightly
  turned (yaw, roll) like a camera beside or above the lane;
- ``closeup``: one vehicle so near that its plate is 45-95 % of the frame's width (a barrier or gate camera,
  a handheld photo of a parked car), usually cut by the frame's edges;
- ``parked``: 2-5 vehicles side by side in a row, small to mid plates.

Plates come in several looks (``PLATE_LOOKS``): the EU and US renderers of `synth.plates`, and generic
sheets of many regions (white, yellow, black, green, blue or red sheet; long, medium and two-row aspect).
Each scene may then be darkened to a night shot (plates stay bright, as retro-reflective plates under
lights or IR do), blurred (defocus or motion), and made grainy. With `osd` set, a share of scenes then gets
a camera's on-screen text drawn over it (`draw_osd`: date and time, camera and lane names, a speed, a logo
line), which is not a plate: security cameras burn it into every frame, and a detector that never saw it
takes timestamps for plates.

Example:
    >>> scene = render_scene(np.random.default_rng(0))  # doctest: +SKIP
    >>> scene.plate_boxes_xyxy.shape  # doctest: +SKIP
    (2, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .clip import _box_of, _grain_field, _paste, _road_background
from .plates import _background, _ink, _rim, _text_layer, random_plate_text, render_plate
from .vehicles import render_vehicle

SCENE_KINDS: tuple[str, ...] = ("road", "closeup", "parked")
#: Share of each kind when none is asked for.
SCENE_WEIGHTS: tuple[float, ...] = (0.45, 0.3, 0.25)
PLATE_LOOKS: tuple[str, ...] = ("eu", "us", "generic")

#: (sheet, ink) BGR pairs of generic plates: white/black, yellow/black, black/white, green/white,
#: blue/white, red/white, white/green, white/red.
_SHEETS_INKS = (
    ((236, 238, 238), (20, 20, 20)),
    ((40, 200, 250), (20, 20, 20)),
    ((25, 25, 25), (235, 235, 235)),
    ((60, 120, 30), (240, 240, 240)),
    ((140, 60, 20), (240, 240, 240)),
    ((40, 40, 170), (240, 240, 240)),
    ((236, 238, 238), (40, 110, 30)),
    ((236, 238, 238), (40, 40, 170)),
)
#: Frame sizes (width, height) scenes are drawn at; training letterboxes them anyway.
_FRAME_SIZES = ((640, 480), (800, 450), (960, 540), (720, 720), (640, 640), (540, 720), (1024, 576))


@dataclass(frozen=True)
class Scene:
    """One rendered frame and its plates.

    Attributes:
        image: BGR uint8 (H, W, 3).
        plate_boxes_xyxy: float32 (N, 4) plate boxes in pixels, each wholly inside the frame.
        kind: the scene kind (`SCENE_KINDS`).
        night: drawn as a night shot.
    """

    image: np.ndarray
    plate_boxes_xyxy: np.ndarray
    kind: str
    night: bool = False


def random_plate(
    rng: np.random.Generator, look: str | None = None, crops: list[np.ndarray] | None = None
) -> np.ndarray:
    """A plate image (BGR) in a random look (`PLATE_LOOKS`) with a random registration, or, given
    ``crops`` (photos of real plates cut at the plate's edges), one of them two times in three."""
    if crops and rng.random() < 2 / 3:
        crop = crops[int(rng.integers(len(crops)))]
        gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
        return cv2.convertScaleAbs(crop, alpha=gain, beta=bias)
    look = look or str(rng.choice(PLATE_LOOKS, p=(0.35, 0.25, 0.4)))
    if look in ("eu", "us"):
        return render_plate(random_plate_text(rng, look), rng, look)
    return _generic_plate(rng)


def _generic_plate(rng: np.random.Generator) -> np.ndarray:
    """A plate of no particular country: sheet and ink colours, aspect, one or two rows of characters."""
    sheet, ink = _SHEETS_INKS[int(rng.integers(len(_SHEETS_INKS)))]
    two_rows = rng.random() < 0.25
    aspect = rng.uniform(1.3, 1.9) if two_rows else float(rng.choice([4.7, 4.0, 3.2, 2.4]))
    h = 120
    w = round(aspect * h)
    plate = _background(w, h, sheet, rng)
    _rim(plate, ink, int(rng.integers(2, 6)), int(rng.integers(1, 5)))
    rows = 2 if two_rows else 1
    margin_x, margin_y = round(0.06 * w), round(0.12 * h)
    row_h = (h - 2 * margin_y - (rows - 1) * round(0.06 * h)) // rows
    for r in range(rows):
        n = int(rng.integers(2, 5)) if two_rows else int(rng.integers(5, 9))
        text = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"), size=n).tolist())
        mask = _text_layer(text, w - 2 * margin_x, row_h, stroke=int(rng.integers(1, 3)), condense=0.9)
        _ink(plate, mask, margin_x, margin_y + r * (row_h + round(0.06 * h)), ink)
    return plate


def render_scene(
    rng: np.random.Generator,
    kind: str | None = None,
    size: tuple[int, int] | None = None,
    plate_crops: list[np.ndarray] | None = None,
    osd: float = 0.0,
) -> Scene:
    """One random scene (see the module docstring); the same generator state gives the same scene.

    Args:
        rng: source of everything random.
        kind: one of `SCENE_KINDS`, or None for a random kind (`SCENE_WEIGHTS`).
        size: (width, height), or None for a random frame size.
        plate_crops: photos of real plates, cut at the plate's edges (BGR), mounted on two vehicles in three
            instead of a rendered plate; None = rendered plates only.
        osd: share of scenes (0..1) with a camera's on-screen text drawn over them (`draw_osd`); at 0 no
            random number is drawn for it, so a seed gives the scene it gave before the option existed.
    """
    kind = kind or str(rng.choice(SCENE_KINDS, p=SCENE_WEIGHTS))
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; allowed: {', '.join(SCENE_KINDS)}")
    size = size or _FRAME_SIZES[int(rng.integers(len(_FRAME_SIZES)))]
    image = _backdrop(size, rng)
    if kind == "closeup":
        boxes = _place_closeup(image, rng, plate_crops)
    else:
        boxes = _place_vehicles(image, rng, kind == "parked", plate_crops)
    night = rng.random() < 0.25
    image = _night(image, boxes, rng) if night else _daylight(image, rng)
    image = _degrade(image, rng)
    if osd > 0 and rng.random() < osd:
        image = draw_osd(image, boxes, rng)
    return Scene(image, np.asarray(boxes, np.float32).reshape(-1, 4), kind, night)


def _backdrop(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A road seen from above, or a wall/hedge/garage door behind parked cars."""
    if rng.random() < 0.6:
        return _road_background(size, rng)
    width, height = size
    colour = rng.uniform(40, 220, 3).astype(np.float32)
    blotches = cv2.resize(
        rng.normal(0, 1, (height // 60 + 2, width // 60 + 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    image = colour + 18.0 * blotches[..., None] + rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    if rng.random() < 0.5:  # horizontal courses of brick, slats of a door
        pitch = int(rng.integers(8, 40))
        image[::pitch] *= 0.7
    return np.clip(image, 0, 255).astype(np.uint8)


def _turn(
    h: np.ndarray, centre: tuple[float, float], rng: np.random.Generator, strength: float
) -> np.ndarray:
    """``h`` followed by a roll and a yaw-like keystone about ``centre`` (angles scale with ``strength``)."""
    cx, cy = centre
    roll = np.deg2rad(rng.normal(0, 6 * strength))
    c, s = np.cos(roll), np.sin(roll)
    rotate = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]], np.float64)
    yaw = rng.normal(0, 0.0006 * strength)  # projective x term: one side nearer than the other
    keystone = np.array([[1, 0, 0], [0, 1, 0], [yaw, 0, 1 - yaw * cx]], np.float64)
    return rotate @ keystone @ h


def _sprite_homography(scale: float, x: float, y: float) -> np.ndarray:
    """Sprite pixels -> frame: scaled by ``scale``, sprite origin at (x, y)."""
    return np.array([[scale, 0, x], [0, scale, y], [0, 0, 1]], np.float64)


def _inside(box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= size[0] and y2 <= size[1] and x2 - x1 >= 8


def _place_vehicles(
    image: np.ndarray, rng: np.random.Generator, parked: bool, crops: list[np.ndarray] | None
) -> list:
    """Paste 1-4 (road) or 2-5 (parked) vehicles left to right, far ones first; return their plate boxes."""
    height, width = image.shape[:2]
    n = int(rng.integers(2, 6)) if parked else int(rng.integers(1, 5))
    slot = width / n
    placed = []
    for k in range(n):
        if parked:
            plate_frac = rng.uniform(0.1, 0.6) / n * 1.5
        else:
            plate_frac = float(np.exp(rng.uniform(np.log(0.025), np.log(0.4 if n == 1 else 0.8 / n))))
        plate_w = max(14.0, plate_frac * width)
        view = "rear" if rng.random() < 0.5 else "front"
        sprite = render_vehicle(random_plate(rng, crops=crops), rng, plate_w, view, rng.uniform(0.24, 0.34))
        sh, sw = sprite.image.shape[:2]
        scale = min(1.0, 0.98 * slot / sw, 0.98 * height / sh)
        x = k * slot + rng.uniform(0, max(0.0, slot - sw * scale))
        y_bottom = (
            rng.uniform(min(height, sh * scale * 1.02), height)
            if not parked
            else height * rng.uniform(0.75, 1.0)
        )
        y = max(0.0, y_bottom - sh * scale)
        h = _sprite_homography(scale, x, y)
        h = _turn(h, (x + sw * scale / 2, y + sh * scale / 2), rng, 0.6)
        placed.append((sh * scale, sprite, h))
    boxes = []
    for _, sprite, h in sorted(placed, key=lambda p: p[0]):  # smaller (farther) first
        _paste(image, sprite.image, h)
        box = _box_of(sprite.plate_quad_px, h)
        if _inside(box, (width, height)):
            boxes.append(box)
    return _drop_covered(boxes)


def _drop_covered(boxes: list) -> list:
    """Keep plates painted over by a later (nearer) vehicle out of the labels: a box overlapping a later
    box is removed (vehicles share slots only at their edges, so this is rare)."""
    kept = []
    for i, a in enumerate(boxes):
        covered = any(
            min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]) for b in boxes[i + 1 :]
        )
        if not covered:
            kept.append(a)
    return kept


def _place_closeup(image: np.ndarray, rng: np.random.Generator, crops: list[np.ndarray] | None) -> list:
    """One vehicle so near that its plate spans 45-95 % of the frame's width; the body runs off the frame."""
    height, width = image.shape[:2]
    for _ in range(8):
        plate_w = rng.uniform(0.45, 0.95) * width
        plate = random_plate(rng, crops=crops)
        plate_h = plate_w * plate.shape[0] / plate.shape[1]
        if plate_h < 0.9 * height:
            break
        plate_w *= 0.8 * height / plate_h
    # draw the sprite at most at the plate renderer's own width and scale it up: a 3x-frame-wide sprite
    # costs seconds to draw and looks no different
    drawn_w = min(plate_w, float(plate.shape[1]))
    scale = plate_w / drawn_w
    sprite = render_vehicle(plate, rng, drawn_w, "rear" if rng.random() < 0.5 else "front", 0.3)
    quad = sprite.plate_quad_px
    pcx, pcy = quad[:, 0].mean() * scale, quad[:, 1].mean() * scale
    qw, qh = np.ptp(quad[:, 0]) * scale, np.ptp(quad[:, 1]) * scale
    # plate centre anywhere that keeps the whole plate in the frame
    cx = rng.uniform(qw / 2 + 1, max(qw / 2 + 2, width - qw / 2 - 1))
    cy = rng.uniform(qh / 2 + 1, max(qh / 2 + 2, height - qh / 2 - 1))
    h = _sprite_homography(scale, cx - pcx, cy - pcy)
    for strength in (1.0, 0.5, 0.0):  # turn it, less if the turned plate no longer fits
        turned = _turn(h, (cx, cy), rng, strength)
        box = _box_of(quad, turned)
        if _inside(box, (width, height)):
            h = turned
            break
    _paste(image, sprite.image, h)
    box = _box_of(quad, h)
    return [box] if _inside(box, (width, height)) else []


def _daylight(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain, bias = rng.uniform(0.7, 1.25), rng.uniform(-25, 25)
    return cv2.convertScaleAbs(image, alpha=gain, beta=bias)


def _night(image: np.ndarray, boxes: list, rng: np.random.Generator) -> np.ndarray:
    """Dark, blue-ish frame with a few lamps; plates keep more light (retro-reflective under lights/IR)."""
    height, width = image.shape[:2]
    dark = image.astype(np.float32) * rng.uniform(0.12, 0.35) * np.array([1.15, 1.0, 0.9], np.float32)
    plate_gain = rng.uniform(0.45, 1.0)
    for x1, y1, x2, y2 in boxes:
        ys, xs = slice(int(y1), int(np.ceil(y2))), slice(int(x1), int(np.ceil(x2)))
        dark[ys, xs] = image[ys, xs].astype(np.float32) * plate_gain
    if rng.random() < 0.5:
        dark = dark.mean(axis=2, keepdims=True).repeat(3, axis=2)  # IR cameras see grey
    for _ in range(int(rng.integers(0, 4))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        glow = np.zeros((height, width), np.float32)
        cv2.circle(glow, centre, int(rng.integers(4, max(5, width // 20))), 255, -1)
        glow = cv2.GaussianBlur(glow, (0, 0), rng.uniform(4, 20))
        dark += glow[..., None] * rng.uniform(0.5, 1.5)
    return np.clip(dark, 0, 255).astype(np.uint8)


def _degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus or motion blur, and sensor grain, each on some scenes."""
    r = rng.random()
    if r < 0.2:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 2.5))
    elif r < 0.4:
        length = int(rng.integers(3, 14))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        angle = rng.uniform(0, 180)
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.5:
        height, width = image.shape[:2]
        plus, minus = _grain_field((width, height), rng)
        image = cv2.subtract(cv2.add(image, plus[:height, :width]), minus[:height, :width])
    return image


_OSD_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
)
_OSD_WORDS = ("CAM", "Camera", "GATE", "ENTRY", "EXIT", "Lane", "IPC", "CH", "Parking", "NORTH", "P2 Ramp")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def osd_line(rng: np.random.Generator) -> str:
    """One line of a camera's on-screen text: a date and time in one of several layouts, a camera or lane
    name with a number, a speed, or a logo with digits."""
    y, mo, d = int(rng.integers(2010, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hh, mm, ss = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    clock = f"{hh:02d}:{mm:02d}:{ss:02d}"
    day = _WEEKDAYS[int(rng.integers(7))]
    kind = int(rng.integers(7))
    if kind == 0:
        return f"{y}-{mo:02d}-{d:02d} {clock}"
    if kind == 1:
        return f"{mo:02d}/{d:02d}/{y} {day} {clock}"
    if kind == 2:
        return f"{d:02d}.{mo:02d}.{y} {clock}"
    if kind == 3:
        return f"{y}/{mo:02d}/{d:02d} {day} {clock}.{int(rng.integers(0, 1000)):03d}"
    if kind == 4:
        return f"{_OSD_WORDS[int(rng.integers(len(_OSD_WORDS)))]} {int(rng.integers(1, 100)):02d}"
    if kind == 5:
        return (
            f"{int(rng.integers(5, 130))} km/h" if rng.random() < 0.5 else f"{int(rng.integers(5, 80))} MPH"
        )
    return f"{_OSD_WORDS[int(rng.integers(len(_OSD_WORDS)))].upper()}{int(rng.integers(100, 99999))}"


def draw_osd(image: np.ndarray, plate_boxes: list | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`image` with 1-3 lines of on-screen text (`osd_line`) in its corners or along its top or bottom edge,
    2-5 % of the frame high, white or yellow, with a black outline, a shadow or a dark band, as cameras draw
    it. A line that would touch a plate box is left out, so every plate stays whole and labelled."""
    out = image.copy()
    height, width = out.shape[:2]
    font = _OSD_FONTS[int(rng.integers(len(_OSD_FONTS)))]
    text_h = rng.uniform(0.02, 0.05) * height
    scale = text_h / cv2.getTextSize("0", font, 1.0, 1)[0][1]
    thick = max(1, round(text_h / 12))
    # light text only: black digits on a light frame are what a plain white plate looks like (a detector
    # taught them as "not a plate" stopped finding California's digit-only white plates)
    colour = ((235, 235, 235), (40, 230, 240))[int(rng.choice(2, p=(0.7, 0.3)))]
    style = int(rng.integers(3))  # 0 outline, 1 shadow, 2 dark band
    top = rng.random() < 0.6
    right = rng.random() < 0.35
    for k in range(int(rng.integers(1, 4))):
        text = osd_line(rng)
        (tw, th), base = cv2.getTextSize(text, font, scale, thick)
        pad = round(0.01 * min(width, height)) + 2
        x = width - tw - pad if right else pad
        row = k * round(th * 1.6)
        y = pad + th + row if top else height - pad - base - row
        box = (x - 2, y - th - 2, x + tw + 2, y + base + 2)
        if x < 0 or box[1] < 0 or box[3] > height or any(_overlaps(box, b) for b in plate_boxes):
            continue
        if style == 2:
            band = out[box[1] : box[3], max(0, box[0]) : box[2]]
            band[:] = (band * rng.uniform(0.15, 0.45)).astype(np.uint8)
        elif style == 0:
            cv2.putText(out, text, (x, y), font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        else:
            cv2.putText(out, text, (x + thick, y + thick), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
        cv2.putText(out, text, (x, y), font, scale, colour, thick, cv2.LINE_AA)
    return out


def _overlaps(a: tuple, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
