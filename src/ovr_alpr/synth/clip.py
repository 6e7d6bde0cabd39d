"""Synthetic road clips and still images with known plates, for the demo, end-to-end tests and benchmarks.

A clip shows a two-lane road seen from above the carriageway: vehicles in the left lane come towards the
camera (front plates, growing), vehicles in the right lane drive away (rear plates, shrinking). Each vehicle
enters and leaves the frame, slowing down mid-frame; consecutive vehicles overlap in time a little. At
720p an EU plate is 120-180 px wide while wholly in view (a US plate 100-145 px). The ground truth is
returned as a `ClipManifest` and written beside the clip as JSON.

Example:
    >>> manifest = make_clip("demo.mp4", vehicles=3, seed=0)  # doctest: +SKIP
    >>> manifest.vehicles[0].plate_text  # doctest: +SKIP
    'NY1373'
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ovr_alpr.errors import SourceError
from ovr_alpr.synth.plates import random_plate_text, render_plate
from ovr_alpr.synth.vehicles import VehicleSprite, render_vehicle

BoxXyxy = tuple[float, float, float, float]

#: Plate width in pixels, for a 720-pixel-high frame, when the vehicle's bottom edge touches the frame's
#: bottom; with the perspective below it spans about 120-180 px while the plate is in view. Plates under
#: ~125 px were found in few frames by the embedded detector (measured 0.1-0.25), so the range starts there.
_PLATE_WIDTH_720P_PX = (172.0, 182.0)
#: Height of the road's vanishing point above the frame, in frame heights: sets how fast vehicles grow.
_VANISHING_HEIGHT = 2.0
#: Fraction of a vehicle's time in view that overlaps with the next vehicle's.
_OVERLAP = 0.2
#: Speed profile: 1 + s times the mean speed entering and leaving, 1 - s mid-frame.
_SLOWDOWN = 0.6
_LANE_CENTRES = (0.28, 0.72)  # x of each lane's centre at the frame's bottom, in frame widths
_NOISE_SIGMA = 3.0
_NOISE_PAD = 16  # the grain field is this much larger; each frame takes a shifted window of it


@dataclass(frozen=True)
class VehicleTruth:
    """Ground truth for one vehicle of a clip.

    Attributes:
        plate_text: the registration printed on the plate (A-Z, 0-9).
        plate_style: ``"eu"`` or ``"us"``.
        lane: 0 for the approaching lane (left, front view), 1 for the receding lane (right, rear view).
        first_frame: first frame in which any part of the vehicle is in view.
        last_frame: last frame in which any part of the vehicle is in view.
        plate_boxes_xyxy: for every frame in which the whole plate is inside the frame, the plate's box
            (x1, y1, x2, y2) in pixels, rounded to 0.01 px.
    """

    plate_text: str
    plate_style: str
    lane: int
    first_frame: int
    last_frame: int
    plate_boxes_xyxy: dict[int, BoxXyxy] = field(default_factory=dict)

    @property
    def plate_frames(self) -> list[int]:
        """Frames in which the whole plate is in view, ascending."""
        return sorted(self.plate_boxes_xyxy)


@dataclass(frozen=True)
class ClipManifest:
    """What a generated clip shows, to check detection, tracking and reading against.

    Attributes:
        video_path: the clip file.
        width_px: frame width.
        height_px: frame height.
        fps: frames per second.
        frame_count: number of frames written (and decoded back when the clip was checked).
        seed: the seed the clip was generated from.
        vehicles: one entry per vehicle, in order of appearance.
    """

    video_path: str
    width_px: int
    height_px: int
    fps: float
    frame_count: int
    seed: int
    vehicles: tuple[VehicleTruth, ...]

    def plates_in_frame(self, frame_index: int) -> list[tuple[str, BoxXyxy]]:
        """(plate text, box) of every plate wholly in view in ``frame_index``."""
        return [
            (v.plate_text, v.plate_boxes_xyxy[frame_index])
            for v in self.vehicles
            if frame_index in v.plate_boxes_xyxy
        ]

    def to_dict(self) -> dict:
        return {
            "video": Path(self.video_path).name,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "fps": self.fps,
            "frame_count": self.frame_count,
            "seed": self.seed,
            "vehicles": [
                {
                    "plate_text": v.plate_text,
                    "plate_style": v.plate_style,
                    "lane": v.lane,
                    "first_frame": v.first_frame,
                    "last_frame": v.last_frame,
                    "plate_boxes_xyxy": {str(k): list(b) for k, b in sorted(v.plate_boxes_xyxy.items())},
                }
                for v in self.vehicles
            ],
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def read_json(cls, path: str | Path) -> ClipManifest:
        """Load a manifest written by `write_json`; the video path is resolved beside the JSON file."""
        path = Path(path)
        raw = json.loads(path.read_text())
        vehicles = tuple(
            VehicleTruth(
                plate_text=v["plate_text"],
                plate_style=v["plate_style"],
                lane=int(v["lane"]),
                first_frame=int(v["first_frame"]),
                last_frame=int(v["last_frame"]),
                plate_boxes_xyxy={int(k): tuple(b) for k, b in v["plate_boxes_xyxy"].items()},  # type: ignore[misc]
            )
            for v in raw["vehicles"]
        )
        return cls(
            video_path=str(path.parent / raw["video"]),
            width_px=int(raw["width_px"]),
            height_px=int(raw["height_px"]),
            fps=float(raw["fps"]),
            frame_count=int(raw["frame_count"]),
            seed=int(raw["seed"]),
            vehicles=vehicles,
        )


@dataclass(frozen=True)
class LabeledImage:
    """One generated still image and its label (OpenALPR benchmark layout).

    Attributes:
        image_path: the JPEG.
        label_path: ``NAME.txt`` beside it: ``NAME.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE``.
        plate_text: the registration.
        plate_box_xywh: plate box (left, top, width, height) in whole pixels, as written in the label.
    """

    image_path: Path
    label_path: Path
    plate_text: str
    plate_box_xywh: tuple[int, int, int, int]


def make_clip(
    out_path: str | Path,
    vehicles: int = 3,
    size: tuple[int, int] = (1280, 720),
    seconds: float = 8.0,
    fps: float = 25,
    seed: int = 0,
    style: str = "eu",
) -> ClipManifest:
    """Write an MP4 clip of ``vehicles`` cars with readable plates driving through a road scene.

    The clip is checked by decoding it back with OpenCV; the manifest is also written to
    ``out_path`` with the suffix ``.json``. The same arguments give the same frames and manifest.

    Args:
        out_path: the ``.mp4`` to write (its folder is created).
        vehicles: number of vehicles, at least 1.
        size: (width, height) of the frames in pixels.
        seconds: clip length.
        fps: frames per second.
        seed: seed of everything random in the clip.
        style: plate style, ``"eu"`` or ``"us"``.

    Raises:
        ValueError: for impossible arguments (no vehicles, clip too short for them).
        SourceError: when OpenCV cannot write or read back the clip.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    scene = _Scene(vehicles, size, seconds, fps, seed, style)
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
    if not writer.isOpened():
        raise SourceError(f"cannot open a video writer for {out_path}", "check OpenCV was built with FFmpeg")
    try:
        for frame in scene.frames():
            writer.write(frame)
    finally:
        writer.release()
    decoded = _count_decoded_frames(out_path, size)
    if decoded != scene.frame_count:
        raise SourceError(
            f"{out_path} decodes to {decoded} frames, {scene.frame_count} were written",
            "check the OpenCV build can encode and decode 'mp4v'",
        )
    manifest = scene.manifest(str(out_path))
    manifest.write_json(out_path.with_suffix(".json"))
    return manifest


def render_clip_frames(
    vehicles: int = 3,
    size: tuple[int, int] = (1280, 720),
    seconds: float = 8.0,
    fps: float = 25,
    seed: int = 0,
    style: str = "eu",
) -> tuple[Iterator[np.ndarray], ClipManifest]:
    """The frames `make_clip` would encode (BGR uint8), without encoding them, and their manifest.

    Useful to test on exact pixels, without the codec's losses. The manifest's ``video_path`` is empty.
    """
    scene = _Scene(vehicles, size, seconds, fps, seed, style)
    return scene.frames(), scene.manifest("")


def make_images(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    size: tuple[int, int] = (1280, 720),
    style: str = "eu",
) -> list[LabeledImage]:
    """Write ``n`` JPEG stills of one vehicle each, with OpenALPR-benchmark labels beside them.

    Each ``synth-NNNN.jpg`` gets ``synth-NNNN.txt`` holding one tab-separated line
    ``synth-NNNN.jpg x y w h PLATE`` (plate box in whole pixels), as in ``openalpr/benchmarks/endtoend``.

    Args:
        out_dir: folder to write into (created).
        n: number of images.
        seed: seed of everything random; the same seed gives the same images and labels.
        size: (width, height) of the images.
        style: plate style, ``"eu"`` or ``"us"``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = size
    background = _road_background(size, rng)
    noise = _grain_field(size, rng)
    labeled: list[LabeledImage] = []
    for i in range(n):
        text = random_plate_text(rng, style)
        lane = int(rng.integers(2))
        sprite = render_vehicle(
            render_plate(text, rng, style),
            rng,
            _plate_width_px(height, rng, style),
            "front" if lane == 0 else "rear",
            _plate_to_body(style),
        )
        # Whole vehicle in view, in its lane give or take, at a depth giving plates ~100-200 px wide.
        sprite_h, sprite_w = sprite.image.shape[:2]
        scale = min(rng.uniform(0.6, 1.1), width / sprite_w, height / sprite_h)
        sprite_w, sprite_h = sprite_w * scale, sprite_h * scale
        y_bottom = rng.uniform(min(height, sprite_h), height)
        x_centre = _lane_x(_LANE_CENTRES[lane] * width, y_bottom, size) + rng.normal(0, 0.03 * width)
        x_centre = float(np.clip(x_centre, sprite_w / 2, max(sprite_w / 2, width - sprite_w / 2)))
        homography = _vehicle_homography(sprite, scale, x_centre, y_bottom, size, rng.uniform(-1, 1))
        image = background.copy()
        _paste(image, sprite.image, homography)
        image = _finish(image, noise, (0, 0))
        x1, y1, x2, y2 = _plate_box(sprite, homography)
        box = (
            int(np.floor(x1)),
            int(np.floor(y1)),
            int(np.ceil(x2 - np.floor(x1))),
            int(np.ceil(y2 - np.floor(y1))),
        )
        name = f"synth-{i:04d}"
        image_path, label_path = out_dir / f"{name}.jpg", out_dir / f"{name}.txt"
        cv2.imwrite(str(image_path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        label_path.write_text("\t".join([image_path.name, *map(str, box), text]) + "\n")
        labeled.append(LabeledImage(image_path, label_path, text, box))
    return labeled


@dataclass
class _Actor:
    sprite: VehicleSprite
    text: str
    lane: int
    start: int  # frame at which the vehicle starts its crossing
    frames: int  # length of the crossing in frames
    sway: float  # lateral offset in -1..1, changes the perspective skew


class _Scene:
    """Everything pre-rendered once (road, sprites, noise), so a frame is a few warps and blends."""

    def __init__(
        self, vehicles: int, size: tuple[int, int], seconds: float, fps: float, seed: int, style: str
    ) -> None:
        if vehicles < 1:
            raise ValueError(f"vehicles must be at least 1, got {vehicles}")
        self.size = size
        self.fps = fps
        self.seed = seed
        self.style = style
        self.frame_count = round(seconds * fps)
        rng = np.random.default_rng(seed)
        # A short empty lead-in and tail, then crossings staggered so each overlaps the next by _OVERLAP.
        lead = max(1, round(0.1 * fps))
        usable = self.frame_count - 2 * lead
        crossing = usable / (1 + (vehicles - 1) * (1 - _OVERLAP))
        if crossing < fps:
            needed = 1 + (vehicles - 1) * (1 - _OVERLAP) + 2 * lead / fps
            raise ValueError(
                f"{vehicles} vehicles need at least {needed:.1f} s of clip to cross in a second each; "
                f"got {seconds} s"
            )
        self.background = _road_background(size, rng)
        self.grain = _grain_field(size, rng)
        self.actors: list[_Actor] = []
        for k in range(vehicles):
            lane = k % 2
            text = random_plate_text(rng, style)
            sprite = render_vehicle(
                render_plate(text, rng, style),
                rng,
                _plate_width_px(size[1], rng, style),
                "front" if lane == 0 else "rear",
                _plate_to_body(style),
            )
            start = lead + round(k * crossing * (1 - _OVERLAP))
            self.actors.append(_Actor(sprite, text, lane, start, round(crossing), rng.uniform(-1, 1)))
        self.grain_offsets = rng.integers(0, _NOISE_PAD, (self.frame_count, 2))
        self._truth = self._ground_truth()

    def _pose(self, actor: _Actor, frame: int) -> tuple[np.ndarray, float] | None:
        """Homography from sprite to frame, and the bottom edge's y, or None outside its crossing."""
        t = (frame - actor.start) / actor.frames
        if not 0.0 <= t <= 1.0:
            return None
        width, height = self.size
        sprite_h = actor.sprite.image.shape[0]
        # The vehicle's bottom edge goes from the frame's top to below its bottom edge by its own height.
        # Vehicles slow down mid-frame, as at a checkpoint, so they spend more time wholly in view.
        y_end = height + 1.35 * sprite_h
        progress = t + _SLOWDOWN * np.sin(2 * np.pi * t) / (2 * np.pi)
        y_bottom = progress * y_end if actor.lane == 0 else (1 - progress) * y_end
        scale = _depth_scale(y_bottom, height)
        x_centre = _lane_x(_LANE_CENTRES[actor.lane] * width, y_bottom, size=self.size)
        return _vehicle_homography(actor.sprite, scale, x_centre, y_bottom, self.size, actor.sway), y_bottom

    def _ground_truth(self) -> list[tuple[int, int, dict[int, BoxXyxy]]]:
        width, height = self.size
        truth = []
        for actor in self.actors:
            seen: list[int] = []
            boxes: dict[int, BoxXyxy] = {}
            h, w = actor.sprite.image.shape[:2]
            outline = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
            for frame in range(max(0, actor.start), min(self.frame_count, actor.start + actor.frames + 1)):
                pose = self._pose(actor, frame)
                if pose is None:
                    continue
                x1, y1, x2, y2 = _box_of(outline, pose[0])
                if x2 >= 1 and y2 >= 1 and x1 <= width - 1 and y1 <= height - 1:  # at least a pixel
                    seen.append(frame)
                px1, py1, px2, py2 = _plate_box(actor.sprite, pose[0])
                if px1 >= 0 and py1 >= 0 and px2 <= width and py2 <= height:
                    boxes[frame] = (round(px1, 2), round(py1, 2), round(px2, 2), round(py2, 2))
            truth.append((min(seen, default=-1), max(seen, default=-1), boxes))
        return truth

    def frames(self) -> Iterator[np.ndarray]:
        for frame in range(self.frame_count):
            yield self.render(frame)

    def render(self, frame: int) -> np.ndarray:
        image = self.background.copy()
        poses = [(p, a) for a in self.actors if (p := self._pose(a, frame)) is not None]
        for (homography, _), actor in sorted(poses, key=lambda pa: pa[0][1]):  # far (higher) first
            _paste(image, actor.sprite.image, homography)
        return _finish(image, self.grain, tuple(self.grain_offsets[frame]))

    def manifest(self, video_path: str) -> ClipManifest:
        return ClipManifest(
            video_path=video_path,
            width_px=self.size[0],
            height_px=self.size[1],
            fps=float(self.fps),
            frame_count=self.frame_count,
            seed=self.seed,
            vehicles=tuple(
                VehicleTruth(a.text, self.style, a.lane, first, last, boxes)
                for a, (first, last, boxes) in zip(self.actors, self._truth, strict=True)
            ),
        )


def _plate_width_px(height: int, rng: np.random.Generator, style: str) -> float:
    low, high = _PLATE_WIDTH_720P_PX
    if style == "us":  # a 2:1 plate of the same width is twice as tall: keep its height comparable
        low, high = 0.8 * low, 0.8 * high
    return rng.uniform(low, high) * height / 720


def _plate_to_body(style: str) -> float:
    return 0.32 if style == "eu" else 0.24


def _depth_scale(y_bottom: float, height: int) -> float:
    """Sprite scale for a vehicle whose bottom edge is at ``y_bottom``: 1 at the frame's bottom edge."""
    vanish = -_VANISHING_HEIGHT * height
    return (y_bottom - vanish) / (height - vanish)


def _lane_x(x_at_bottom: float, y: float, size: tuple[int, int]) -> float:
    width, height = size
    return width / 2 + (x_at_bottom - width / 2) * _depth_scale(y, height)


def _vehicle_homography(
    sprite: VehicleSprite, scale: float, x_centre: float, y_bottom: float, size: tuple[int, int], sway: float
) -> np.ndarray:
    """Map the sprite to a slightly keystoned quad: the camera looks down (bottom edge narrower, more so
    when near) and from one side (the far side a little shorter)."""
    width, height = size
    h, w = sprite.image.shape[:2]
    out_w, out_h = w * scale, h * scale
    nearness = float(np.clip(y_bottom / height, 0.0, 1.5))
    pinch = (0.015 + 0.03 * nearness) * out_w
    side = float(np.clip((x_centre - width / 2) / (width / 2), -1, 1)) * 0.6 + 0.2 * sway
    shorten = 0.03 * side * out_h
    left, right, top = x_centre - out_w / 2, x_centre + out_w / 2, y_bottom - out_h
    dst = np.array(
        [
            [left, top + max(shorten, 0)],
            [right, top + max(-shorten, 0)],
            [right - pinch, y_bottom],
            [left + pinch, y_bottom],
        ],
        np.float32,
    )
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.getPerspectiveTransform(src, dst)


def _box_of(points: np.ndarray, homography: np.ndarray) -> BoxXyxy:
    warped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), homography).reshape(-1, 2)
    x1, y1 = warped.min(axis=0)
    x2, y2 = warped.max(axis=0)
    return float(x1), float(y1), float(x2), float(y2)


def _plate_box(sprite: VehicleSprite, homography: np.ndarray) -> BoxXyxy:
    return _box_of(sprite.plate_quad_px, homography)


def _paste(image: np.ndarray, sprite: np.ndarray, homography: np.ndarray) -> None:
    """Warp the BGRA ``sprite`` by ``homography`` and alpha-blend it into ``image`` in place."""
    height, width = image.shape[:2]
    h, w = sprite.shape[:2]
    x1, y1, x2, y2 = _box_of(np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32), homography)
    x1, y1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    x2, y2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
    if x2 <= x1 or y2 <= y1:
        return
    shift = np.array([[1, 0, -x1], [0, 1, -y1], [0, 0, 1]], np.float64)
    warped = cv2.warpPerspective(
        sprite, shift @ homography, (x2 - x1, y2 - y1), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    # Slight defocus, and a vertical smear for the motion.
    warped = cv2.GaussianBlur(warped, (3, 5), 0.7)
    alpha = warped[..., 3].astype(np.float32) * (1.0 / 255.0)
    region = image[y1:y2, x1:x2]
    image[y1:y2, x1:x2] = cv2.blendLinear(warped[..., :3], region, alpha, 1.0 - alpha)


def _finish(image: np.ndarray, grain: tuple[np.ndarray, np.ndarray], offset: tuple[int, int]) -> np.ndarray:
    """Sensor grain: saturating add and subtract of a window of the pre-drawn grain field."""
    height, width = image.shape[:2]
    dy, dx = int(offset[0]), int(offset[1])
    window = np.s_[dy : dy + height, dx : dx + width]
    return cv2.subtract(cv2.add(image, grain[0][window]), grain[1][window])


def _grain_field(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian grain a little larger than the frame, split into positive and negative uint8 parts.

    One field, windowed at a random offset per frame, costs a quarter of four fields and looks as random.
    """
    width, height = size
    grain = rng.standard_normal((height + _NOISE_PAD, width + _NOISE_PAD, 3), dtype=np.float32)
    grain *= _NOISE_SIGMA
    np.rint(grain, out=grain)
    return np.maximum(grain, 0).astype(np.uint8), np.maximum(-grain, 0).astype(np.uint8)


def _road_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Asphalt with blotches and grain, kerbs and verges at the sides, and lane marks in perspective."""
    width, height = size
    base = rng.uniform(88, 108)
    blotches = cv2.resize(
        rng.normal(0, 1, (height // 90 + 2, width // 90 + 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    grain = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (3, 3), 0.8)
    asphalt = base + 4.0 * blotches + 8.0 * grain
    tint = np.array([1.02, 1.0, 0.98], np.float32)  # slightly blue-grey, as asphalt looks on camera
    image = np.clip(asphalt[..., None] * tint, 0, 255).astype(np.uint8)

    ys = np.arange(height, dtype=np.float32)
    depth = _depth_scale(ys, height)  # type: ignore[arg-type]
    xs = np.arange(width, dtype=np.float32)[None, :]
    # Road edges: x = centre +/- half-road-width * depth; beyond them a kerb, then verge.
    offset = np.abs(xs - width / 2) / depth[:, None]
    road_half = 0.47 * width
    kerb = (offset > road_half) & (offset <= road_half + 0.025 * width)
    verge = offset > road_half + 0.025 * width
    verge_colour = (
        np.array([60, 120, 70], np.float32) if rng.random() < 0.5 else np.array([150, 155, 158], np.float32)
    )
    verge_texture = verge_colour + 18.0 * grain[..., None]
    image[kerb] = (175, 178, 180)
    image[verge] = np.clip(verge_texture[verge], 0, 255).astype(np.uint8)

    # Lane marks: solid edge lines and a dashed centre line, widths in perspective.
    paint = np.array([222, 225, 225], np.float32)
    wear = np.clip(0.85 + 0.15 * blotches, 0.6, 1.0)[..., None]
    mark = np.zeros((height, width), bool)
    line_half = 0.006 * width
    for centre in (-(road_half - 0.03 * width), road_half - 0.03 * width):
        mark |= np.abs(xs - width / 2 - centre * depth[:, None]) <= line_half * depth[:, None]
    # Dashes: equal steps in 1/depth-ish road distance, so they shorten towards the top.
    distance = np.cumsum(1.0 / depth)
    dash_on = (np.mod(distance - rng.uniform(0, 120), 120.0) < 60.0)[:, None]
    mark |= (np.abs(xs - width / 2) <= line_half * depth[:, None]) & dash_on
    image[mark] = np.clip(paint * wear[mark], 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(image, (3, 3), 0.6)


def _count_decoded_frames(path: Path, size: tuple[int, int]) -> int:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"cannot re-open {path} with OpenCV", "check the OpenCV build can decode 'mp4v'")
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame.shape[1::-1] != tuple(size):
                raise SourceError(f"{path} decodes to {frame.shape[1::-1]} frames, expected {size}")
            count += 1
    finally:
        capture.release()
    return count
