"""The config sections every layer shares, and the base models of the plugin sections.

A plugin (backend, reader, tracker, sink) declares its own section as a subclass of a base here, next to its
code, and registers it (`registry.Registry.register(name, config=...)`); `plugin_slot` makes a field accept
whichever registered section its `type` word names. The whole app's config (`pipeline.config.AppConfig`)
is assembled above the stages, once their built-in plugins are registered.
"""

from __future__ import annotations

import re
import socket
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .registry import registry


def registered_word(kind: str, value: str) -> str:
    """`value` when it is `auto` or a word registered (or declared) for `kind`; ValueError listing them."""
    known = registry(kind)
    if value != "auto" and known.names() and value not in known:
        raise ValueError(f"got {value!r}, allowed: auto, {known.allowed()}")
    return value


class StrictConfig(BaseModel):
    """Base of every config model: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


_Strict = StrictConfig


class PluginConfig(StrictConfig):
    """Base of a plugin's config section: `type` names the registered plugin (and so its section model)."""

    type: str


P = TypeVar("P", bound=PluginConfig)


def plugin_slot(kind: str, default_type: str | None = None) -> BeforeValidator:
    """Field validator: a mapping is validated by the section model registered under its `type` word.

    Errors keep the inner key's path (`ctx["where"]`), so `ocr.max_atempts: unknown key` names the key.
    """

    def fail(detail: str, where: str = "") -> PydanticCustomError:
        return PydanticCustomError("plugin", "{detail}", {"detail": detail, "where": where})

    def validate(value: Any) -> Any:
        if isinstance(value, PluginConfig):
            return value
        if not isinstance(value, dict):
            raise fail(f"{kind} section must be a mapping with a 'type' key")
        name = value.get("type", default_type)
        if name is None:
            raise fail(f"{kind} section needs a 'type' key", "type")
        try:
            model = registry(kind).config_class(str(name))
        except ValueError as exc:
            raise fail(str(exc), "type") from None
        try:
            return model.model_validate({**value, "type": name})
        except ValidationError as exc:
            inner = exc.errors()[0]
            msg = "unknown key" if inner["type"] == "extra_forbidden" else inner["msg"]
            raise fail(msg, ".".join(str(part) for part in inner["loc"])) from None

    return BeforeValidator(validate)


def plugin_field(kind: str, base: type[P], default_type: str | None = None) -> Any:
    """`Annotated` type of a field holding one plugin section of `kind` (serialised with all its keys)."""
    return Annotated[SerializeAsAny[base], plugin_slot(kind, default_type)]


def plugin_default(kind: str, name: str) -> Any:
    """A default factory: the registered section of `name` with its own defaults."""
    return lambda: registry(kind).config_class(name)()


# ---------------------------------------------------------------- models


class ModelConfig(_Strict):
    """How one model is found and run.

    Attributes:
        path: model file (`.onnx`, `.engine`, `.pt`) or a known name (`yolo11n.pt`); None = embedded default.
        backend: `auto` picks the fastest available for `device` (TensorRT > ONNX Runtime CUDA > CPU).
        device: `cpu` or `cuda:N`.
        precision: `auto` = fp16 on GPU, fp32 on CPU (int8 only when asked, it needs calibration).
        input_size: network input side in px (None = the model's own).
        letterbox: `rect` runs an Ultralytics YOLO detector on ONNX Runtime on each frame's own aspect (long
            side `input_size`, e.g. 640 x 352 for 16:9 video: 0.55 of the square's pixels); `square` keeps
            the exported input_size x input_size. TensorRT engines, the OpenVINO backend and other models
            are always square.
        canvas_shrink: with `rect`, how much the scale may shrink so that a side fits the multiple of 32
            below it instead of being padded up to the next (0.03: 720p at 640 x 352, not 640 x 384 with 24
            grey rows; 0 = Ultralytics' canvas).
        calibration: image folder for INT8 calibration (used when an INT8 model must be built).
    """

    path: str | None = None
    backend: str = Field(default="auto", description="`auto` or a registered backend word")
    device: str = "cpu"
    precision: Literal["auto", "fp32", "fp16", "int8"] = "auto"
    input_size: int | None = Field(default=None, ge=32, le=4096)
    letterbox: Literal["rect", "square"] = "rect"
    canvas_shrink: float = Field(default=0.03, ge=0.0, le=0.2)
    batch: int = Field(default=1, ge=1, le=64)
    calibration: str | None = None
    threads: int = Field(default=0, ge=0, description="intra-op threads, 0 = all cores")

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        return registered_word("backend", value)

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        value = value.strip().lower()
        if value == "cuda":
            value = "cuda:0"
        if value != "cpu" and not re.fullmatch(r"cuda:\d+", value):
            raise ValueError(f"device must be 'cpu' or 'cuda:N', got {value!r}")
        return value


class PlateDetectorConfig(_Strict):
    """The plate detector. `conf_threshold` 0.25 (Ultralytics' own default): against 0.35 it found 2 more
    US and 2 more EU plates of `../shared/data/openalpr` at 1.5 points less EU precision
    (`docs/measurements.md`).

    `type` picks the embedded model when `model.path` is unset, and its input size when `model.input_size`
    is: `ovr`, the project's own nano detector (YOLOv8n, `ovr-alpr train detector`, 512), `ovr_cpu` (the same
    network trained on a 2-core CPU alone in under two hours, 640; on the CPU it runs INT8 unless
    `model.precision` says otherwise, calibrated on rendered scenes), or `platedet` (YOLOv8s-seg from the
    `platedet` package, 640). A model of your own (`model.path`) runs at 640 unless `model.input_size` says
    otherwise.

    With `model.letterbox: rect`, a frame is shrunk at most `max_downscale` times for the detector: a frame
    wider than 3 x `input_size` gets a larger canvas, up to `max_input_size` (1080p at 640 x 352 instead of
    512 x 288; 720p is unchanged). Plates of the same size in pixels are then found in 1080p as in 720p
    frames (`eval --motion approach --clip-size 1080p`, US: 79.3 % read at 640, 71.2 % at 512; see
    `docs/measurements.md`); null = always `input_size`."""

    type: Literal["ovr", "ovr_cpu", "platedet"] = "ovr"
    model: ModelConfig = Field(default_factory=ModelConfig)
    conf_threshold: float = Field(default=0.25, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    max_downscale: float | None = Field(default=3.0, ge=1.0)
    max_input_size: int = Field(default=1024, ge=32, le=4096)
    min_plate_width_px: int = Field(default=16, ge=1)
    crop_margin: tuple[float, float] = Field(
        default=(0.04, 0.10),
        description="added to each side of a plate box before it is read, as fractions of its width and "
        "height; (0.04, 0.10) suits the embedded detector's tight boxes, looser boxes want less",
    )

    @field_validator("crop_margin")
    @classmethod
    def _margin(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= v <= 1.0 for v in value):
            raise ValueError("crop_margin takes two fractions of the box, each 0..1, e.g. [0.04, 0.10]")
        return value

    @model_validator(mode="after")
    def _cpu_detector_runs_int8(self) -> PlateDetectorConfig:
        """`ovr_cpu`'s embedded model meets its speed bar on the CPU in INT8 (`plate_detector_cpu.md`)."""
        model = self.model
        if self.type == "ovr_cpu" and not model.path and model.precision == "auto" and model.device == "cpu":
            return self.model_copy(update={"model": model.model_copy(update={"precision": "int8"})})
        return self


class VehicleDetectorConfig(_Strict):
    """Optional vehicle detector (COCO YOLO / YOLOX). When set, the pipeline runs vehicle-first."""

    model: ModelConfig
    format: str = Field(default="auto", description="`auto` or a registered detector format word")
    conf_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    classes: dict[int, str] = Field(default_factory=lambda: {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"})

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        return registered_word("detector format", value)


class OcrConfig(PluginConfig):
    """Plate reader (`type` picks the registered reader, which may add keys) and the once-per-track policy.

    Attributes:
        min_track_frames: frames a track must have been seen before its first OCR attempt.
        max_attempts: OCR calls per track at most.
        attempt_every_frames: frames between attempts of one track.
        confidence_target: a fused read at or above this confidence is final at once, when the shot it
            came from is at least `final_min_width_px` wide.
        final_min_width_px: a plate crop narrower than this is never final at once, however confident its
            read: small plates are misread with high confidence more often, and an approaching plate grows;
            its reads are fused when the track ends (a plate that stays this small is published then).
        reread_gain: once `max_attempts` are spent, a shot at least this many times better (quality:
            width, sharpness, detector score) than every shot read so far is read too, so an approaching
            plate is not decided on the small shots it was first read on; None: never.
        reread_patience_frames: a track whose attempts are spent and that shows no such better shot for
            this many processed frames is read no more (a parked car is sampled idly again).
        min_confidence: a fused read below this is not published when the track ends.
        min_read_confidence: a read below this counts as an attempt but not as a read: it does not vote in
            the track's fusion, where a garbled read of another length (a loose box around a small plate)
            would halve a confident read's fused confidence.
        edge_margin_px: in video, a plate box within this many pixels of the frame's edge (or the camera's
            `roi`) is taken as cut by it and not read: a plate coming into view at the side or the bottom is
            first seen in part, and a confident read of its visible part is a wrong event; the track is read
            on its whole shots instead. None: read cut plates too. Stills are always read.
    """

    type: str = "ovr"
    model: ModelConfig = Field(default_factory=ModelConfig)
    alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    min_track_frames: int = Field(default=2, ge=1)
    max_attempts: int = Field(default=4, ge=1, le=100)
    attempt_every_frames: int = Field(default=2, ge=1)
    confidence_target: float = Field(default=0.95, ge=0.0, le=1.0)
    final_min_width_px: int = Field(default=80, ge=0)
    reread_gain: float | None = Field(default=1.25, gt=1.0)
    reread_patience_frames: int = Field(default=50, ge=1)
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    min_read_confidence: float = Field(default=0.3, ge=0.0, le=1.0)
    edge_margin_px: float | None = Field(default=3.0, ge=0.0)
    min_plate_chars: int = Field(default=4, ge=1)
    max_plate_chars: int = Field(default=10, ge=1)


class TrackerConfig(PluginConfig):
    """Tracker (`type` picks the registered tracker, which adds its own keys). Buffers are in frames.

    Attributes:
        lost_track_buffer: frames a lost track is kept (and its state held) before it ends.
    """

    type: str = "bytetrack"
    lost_track_buffer: int = Field(default=30, ge=1)


class EventsConfig(_Strict):
    """Normalisation, validation and de-duplication of reads.

    Attributes:
        regions: region name -> regex on the normalised text; a read matching none is rejected
            unless `allow_unknown_region`.
        dedup_similarity: two reads at least this similar (0..1, rapidfuzz ratio) are one vehicle.
        dedup_window_s: seconds within which a similar read on the same camera is a duplicate.
        formats: region name -> plate templates (`L` letter, `D` digit, `X` either, counts as `L{1,3}`,
            e.g. `{"sk": ["LLDDDLL"], "cz": ["DLXDDDD"]}`); a read that fits none is repaired to the
            likeliest one that it fits by swapping look-alikes (0/O, 1/I, 8/B, ...) or dropping a character
            (see `ocr.formats`). Empty (the default) = no repair: set the formats of the plates you expect.
    """

    regions: dict[str, str] = Field(
        default_factory=lambda: {
            "eu": r"^[A-Z]{1,3}[0-9]{1,4}[A-Z]{0,3}$|^[A-Z0-9]{5,8}$",
            "us": r"^[A-Z0-9]{2,8}$",
        }
    )
    allow_unknown_region: bool = True
    dedup_similarity: float = Field(default=0.85, ge=0.0, le=1.0)
    dedup_window_s: float = Field(default=300.0, ge=0.0)
    formats: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("formats")
    @classmethod
    def _templates(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, templates in value.items():
            for t in templates:
                if not re.fullmatch(r"(?:[LDX](?:\{\d+(?:,\d+)?\})?)+", t.replace(" ", "").upper()):
                    raise ValueError(
                        f"formats[{name!r}]: bad template {t!r}; use L (letter), D (digit), X (either), "
                        "optionally with a count like L{1,3}"
                    )
        return value

    @field_validator("regions")
    @classmethod
    def _regex(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"region {name!r}: invalid regex {pattern!r}: {exc}") from None
        return value


# ---------------------------------------------------------------- sinks


class EventFilter(_Strict):
    """Which events a sink takes; an empty list lets every value through.

    Attributes:
        directions: `in` / `out` (from the camera's direction lines); an event that crossed no line has
            none and is only let through when this is empty.
        zones: the event's track must have entered at least one of these zones.
        cameras: camera ids.
    """

    directions: list[Literal["in", "out"]] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list)
    cameras: list[str] = Field(default_factory=list)

    def accepts(self, camera_id: str, direction: str | None, zones: list[str]) -> bool:
        if self.cameras and camera_id not in self.cameras:
            return False
        if self.directions and direction not in self.directions:
            return False
        return not self.zones or any(z in self.zones for z in zones)


class SinkConfig(PluginConfig):
    """Base of a sink's section; each sink module defines its own (`sinks.jsonl.JsonlSinkConfig`, ...)."""

    spool_dir: str | None = Field(
        default=None, description="undeliverable events wait here; default out/spool/<name>"
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="names the sink in logs, its spool folder and zones' `sinks` lists; default from target",
    )
    only: EventFilter | None = Field(
        default=None, description="send only the events that pass this filter (direction, zone, camera)"
    )

    def target(self) -> str:
        """Where the events go (a path, host and topic, URL), for the sink's name and messages."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: str) -> SinkConfig | None:
        """The section for a `--sink` string this sink understands (e.g. `jsonl:PATH`), else None."""
        return None


# ---------------------------------------------------------------- cameras and the app


Point = tuple[float, float]


def _check_points(points: list[Point], what: str) -> list[Point]:
    if any(x < 0 or y < 0 for x, y in points):
        raise ValueError(f"{what}: coordinates must be >= 0 (px, or fractions of the frame 0..1)")
    return points


class ZoneConfig(_Strict):
    """A polygon of the frame where plates are searched, with its own rules.

    Points are frame pixels, or fractions of the frame's width and height when every coordinate is <= 1.

    Attributes:
        name: names the zone in events (`extras.zones`) and in sink filters.
        points: the polygon's corners, in order (at least 3).
        min_plate_width_px: plates narrower than this are ignored in this zone (default: the detector's).
        region: region hint (a key of `events.regions` / `events.formats`): reads in this zone are checked
            against that region first.
        sinks: names of the sinks that get events of tracks that entered this zone (default: all).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    points: list[Point] = Field(min_length=3)
    min_plate_width_px: int | None = Field(default=None, ge=1)
    region: str | None = None
    sinks: list[str] | None = None

    @field_validator("points")
    @classmethod
    def _points(cls, value: list[Point]) -> list[Point]:
        return _check_points(value, "zone points")


class LineConfig(_Strict):
    """An entry/exit line: a track whose (smoothed) path crosses it gets direction `in` or `out`.

    Walking from the first point to the second, a crossing from your left to your right is `in` (on the
    image, y pointing down: for a line drawn left to right, moving down the frame is `in`); `invert` swaps.
    Points are px, or fractions of the frame when every coordinate is <= 1.
    """

    name: str = Field(default="line", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    points: tuple[Point, Point]
    invert: bool = False

    @field_validator("points")
    @classmethod
    def _points(cls, value: tuple[Point, Point]) -> tuple[Point, Point]:
        if value[0] == value[1]:
            raise ValueError("a line needs two different points")
        _check_points(list(value), "line points")
        return value


class ImagesConfig(_Strict):
    """Which pictures are saved with each event, beside its plate crop (`save_crops: false` saves none).

    Attributes:
        vehicle: save the vehicle (its box in vehicle-first mode, else a region around the plate), from
            the best shot's frame, at full resolution (`images.vehicle_url`).
        frame: save the best shot's whole frame (`images.frame_url`).
        jpeg_quality: JPEG quality of the vehicle and frame pictures.
        max_side_px: a picture larger than this on its longest side is scaled down to it (None = never).
    """

    vehicle: bool = True
    frame: bool = True
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    max_side_px: int | None = Field(default=1280, ge=64)


class CameraConfig(_Strict):
    """One video source.

    Attributes:
        id: names the camera in events and its crop folder: 1-64 of `A-Za-z0-9._-`.
        source: video file, image folder, rtsp:// / http(s):// URL, or a camera index ("0").
        frame_skip: process every (frame_skip + 1)-th frame.
        target_fps: if set, process at most this many frames per second of video time.
        loop: restart a file source at its end.
        reconnect_max_s: longest back-off between reconnect attempts of a live stream.
        stills: treat each frame as a separate snapshot (default: yes for image folders); set False for
            a folder of consecutive video frames.
    """

    id: str = "cam0"
    source: str = ""
    frame_skip: int = Field(default=0, ge=0)
    target_fps: float | None = Field(default=None, gt=0)
    loop: bool = False
    reconnect_max_s: float = Field(default=30.0, gt=0)
    stills: bool | None = Field(
        default=None,
        description="each image is a complete observation (one event per plate per image, no tracking "
        "across images); None = yes for image folders, no for video",
    )
    roi: tuple[int, int, int, int] | None = Field(
        default=None, description="x1,y1,x2,y2 px of the frame to search"
    )
    main_source: str | None = Field(
        default=None,
        description="the camera's high-resolution main stream (same scene as `source`, the sub-stream): "
        "detection and tracking run on `source`, plate crops for OCR are cut from this stream's frame "
        "nearest in time",
    )
    images: ImagesConfig = Field(
        default_factory=ImagesConfig, description="vehicle and frame pictures saved with each event"
    )
    vehicle_colour: bool = Field(
        default=True, description="estimate vehicle.color from the best shot (null when unsure)"
    )
    zones: list[ZoneConfig] = Field(
        default_factory=list,
        description="polygons where plates count; with any set, a plate outside all of them is ignored",
    )
    masks: list[list[Point]] = Field(
        default_factory=list, description="polygons where plates are ignored (px or fractions)"
    )
    lines: list[LineConfig] = Field(
        default_factory=list,
        description="entry/exit lines; with any set, a track's event waits until it crosses one (or ends)",
    )

    @field_validator("masks")
    @classmethod
    def _masks(cls, value: list[list[Point]]) -> list[list[Point]]:
        for polygon in value:
            if len(polygon) < 3:
                raise ValueError("a mask is a polygon of at least 3 points")
            _check_points(polygon, "mask points")
        return value

    @field_validator("zones", "lines")
    @classmethod
    def _unique_names(cls, value: list) -> list:
        names = [item.name for item in value]
        if len(names) != len(set(names)):
            raise ValueError(f"names must be unique within a camera, got {names}")
        return value

    @field_validator("roi")
    @classmethod
    def _roi_box(cls, value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None:
            x1, y1, x2, y2 = value
            if min(value) < 0 or x2 <= x1 or y2 <= y1:
                raise ValueError(
                    f"roi {list(value)} is not a box: write it as [x1, y1, x2, y2] in px with "
                    "0 <= x1 < x2 and 0 <= y1 < y2"
                )
        return value

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        # The id names folders (crops, spool) and goes into events: no path separators, no `..`.
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value) or set(value) <= {"."}:
            raise ValueError(
                f"camera id {value!r} must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-' "
                "(and not only dots)"
            )
        return value


class QualityConfig(_Strict):
    """Gates that save compute: skip blurred frames (off by default), and sample sparsely while nothing needs
    reading: no plate tracked, or every tracked plate already has its final read (on by default).

    While sampling sparsely a camera processes every `idle_stride`-th frame, but never fewer than
    `idle_min_fps` frames per second of video (a 25 fps camera: every 3rd frame; a 10 fps one: every frame),
    so a vehicle that comes into view is tracked within a fraction of a second and read on every frame.
    """

    min_sharpness: float = Field(default=0.0, ge=0.0, description="variance of Laplacian; 0 = off")
    adaptive_sampling: bool = True
    idle_stride: int = Field(
        default=3, ge=1, description="process every Nth frame while no plate is tracked or all are read"
    )
    idle_min_fps: float = Field(
        default=8.0, gt=0, description="while sampling sparsely, still process at least this many frames/s"
    )

    def stride_at(self, fps: float) -> int:
        """The frame stride while nothing needs reading, for a camera processing `fps` frames per second."""
        if not self.adaptive_sampling:
            return 1
        return max(1, min(self.idle_stride, int(fps // self.idle_min_fps)))


class RetentionConfig(_Strict):
    """How long saved pictures (plate crops, vehicles, frames under `OUT/crops`) are kept, and how much disk
    they may use; the oldest go first. Checked while pictures are saved, at most every `check_every_s`.

    Attributes:
        max_age_days: day folders older than this are deleted (None = keep forever).
        max_disk_mb: when the pictures use more than this, the oldest files are deleted until they fit.
    """

    max_age_days: float | None = Field(default=None, gt=0)
    max_disk_mb: float | None = Field(default=None, gt=0)
    check_every_s: float = Field(default=60.0, ge=0)


class NodeConfig(_Strict):
    site: str = "default"
    host: str = Field(default_factory=socket.gethostname)
