"""One pydantic config tree, loaded from YAML and overridden from the command line.

Defaults are the embedded offline models, so `AppConfig()` is a working configuration.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------- models


class ModelConfig(_Strict):
    """How one model is found and run.

    Attributes:
        path: model file (`.onnx`, `.engine`, `.pt`) or a known name (`yolo11n.pt`); None = embedded default.
        backend: `auto` picks the fastest available for `device` (TensorRT > ONNX Runtime CUDA > CPU).
        device: `cpu` or `cuda:N`.
        precision: `auto` = fp16 on GPU, fp32 on CPU (int8 only when asked, it needs calibration).
        input_size: network input side in px (None = the model's own).
        calibration: image folder for INT8 calibration (used when an INT8 model must be built).
    """

    path: str | None = None
    backend: Literal["auto", "onnxruntime", "tensorrt", "ultralytics", "torch"] = "auto"
    device: str = "cpu"
    precision: Literal["auto", "fp32", "fp16", "int8"] = "auto"
    input_size: int | None = Field(default=None, ge=32, le=4096)
    batch: int = Field(default=1, ge=1, le=64)
    calibration: str | None = None
    threads: int = Field(default=0, ge=0, description="intra-op threads, 0 = all cores")

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
    model: ModelConfig = Field(default_factory=ModelConfig)
    conf_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    min_plate_width_px: int = Field(default=16, ge=1)
    # In vehicle-first mode each vehicle crop is searched at this input size (px).
    vehicle_crop_size: int = Field(default=416, ge=64, le=1280)


class VehicleDetectorConfig(_Strict):
    """Optional vehicle detector (COCO YOLO / YOLOX). When set, the pipeline runs vehicle-first."""

    model: ModelConfig
    format: Literal["auto", "yolov8", "yolox"] = "auto"
    conf_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    classes: dict[int, str] = Field(default_factory=lambda: {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"})


class OcrConfig(_Strict):
    """Plate reader and the once-per-track policy.

    Attributes:
        min_track_frames: frames a track must have been seen before its first OCR attempt.
        max_attempts: OCR calls per track at most.
        attempt_every_frames: frames between attempts of one track.
        confidence_target: a fused read at or above this confidence is final at once.
        min_confidence: a fused read below this is not published when the track ends.
        crop_variants: versions of each plate crop read in one batch, the most confident read kept: `full`
            (the crop as cut), `band_rows` (its rows holding the characters), `band` (cut to the
            characters on all sides; the crop itself when no characters are found). Each is one OCR
            input: `[band]` alone costs ~1.1x a plain read, the default ~2x (see `ocr.variants`). Used by
            `ppocr`; the fixed-slot readers read the crop as cut.
        type: `ppocr` (PP-OCRv4, CTC), `ovr` (OVR-ALPR's own fixed-slot reader, embedded) or
            `fast_plate_ocr` (any fast-plate-ocr ONNX given as `model.path`).
        plate_config: fast-plate-ocr plate config YAML for `fast_plate_ocr` models (default: from the
            model's metadata or its input/output shapes).
    """

    type: Literal["ppocr", "ovr", "fast_plate_ocr"] = "ppocr"
    model: ModelConfig = Field(default_factory=ModelConfig)
    plate_config: str | None = None
    alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    min_track_frames: int = Field(default=2, ge=1)
    max_attempts: int = Field(default=4, ge=1, le=100)
    attempt_every_frames: int = Field(default=2, ge=1)
    confidence_target: float = Field(default=0.95, ge=0.0, le=1.0)
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    min_plate_chars: int = Field(default=4, ge=1)
    max_plate_chars: int = Field(default=10, ge=1)
    crop_variants: list[Literal["full", "band_rows", "band"]] = Field(
        default_factory=lambda: ["band_rows", "band"], min_length=1
    )


class TrackerConfig(_Strict):
    """ByteTrack (the `trackers` library). Buffers are in frames.

    Attributes:
        track_activation_threshold: a detection must score this much to start a track.
        high_conf_det_threshold: detections above it are matched first, the rest in ByteTrack's second pass.
        minimum_iou_threshold: least IoU for a detection to continue a track.
        minimum_consecutive_frames: frames before a new track gets an id.
        lost_track_buffer: frames a lost track is kept (and its state held) before it ends.
    """

    type: Literal["bytetrack"] = "bytetrack"
    track_activation_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    high_conf_det_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    minimum_iou_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    minimum_consecutive_frames: int = Field(default=2, ge=1)
    lost_track_buffer: int = Field(default=30, ge=1)
    association_scale: float = Field(
        default=2.5,
        ge=1.0,
        le=10.0,
        description=(
            "boxes are grown by this factor around their centre for matching only: plates are small and move "
            "several heights per frame, so their raw boxes often do not overlap from one frame to the next"
        ),
    )


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


class _SinkBase(_Strict):
    spool_dir: str | None = Field(
        default=None, description="undeliverable events wait here; default out/spool/<name>"
    )


class JsonlSinkConfig(_SinkBase):
    type: Literal["jsonl"] = "jsonl"
    path: str


class CsvSinkConfig(_SinkBase):
    type: Literal["csv"] = "csv"
    path: str


class KafkaSinkConfig(_SinkBase):
    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str
    topic: str = "alpr.events"
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    extra: dict[str, Any] = Field(default_factory=dict, description="more librdkafka producer settings")


class MqttSinkConfig(_SinkBase):
    type: Literal["mqtt"] = "mqtt"
    host: str
    port: int = Field(default=1883, ge=1, le=65535)
    topic: str = "alpr/events"
    qos: Literal[0, 1, 2] = 1
    client_id: str | None = None
    username: str | None = None
    password: str | None = None


SinkConfig = Annotated[
    JsonlSinkConfig | CsvSinkConfig | KafkaSinkConfig | MqttSinkConfig, Field(discriminator="type")
]


def parse_sink_spec(spec: str) -> JsonlSinkConfig | CsvSinkConfig | KafkaSinkConfig | MqttSinkConfig:
    """`jsonl:PATH`, `csv:PATH`, `kafka://HOST:PORT/TOPIC`, `mqtt://HOST:PORT/TOPIC` -> a sink config."""
    if spec.startswith(("kafka://", "mqtt://")):
        url = urlparse(spec)
        topic = url.path.lstrip("/")
        if not url.hostname:
            raise ConfigError(
                f"sink {spec!r} has no host", "write it as kafka://HOST:PORT/TOPIC or mqtt://HOST:PORT/TOPIC"
            )
        try:
            port = url.port
        except ValueError:
            raise ConfigError(f"sink {spec!r} has an invalid port", "use a number 1-65535") from None
        if url.scheme == "kafka":
            return KafkaSinkConfig(
                bootstrap_servers=f"{url.hostname}:{port or 9092}", **({"topic": topic} if topic else {})
            )
        return MqttSinkConfig(host=url.hostname, port=port or 1883, **({"topic": topic} if topic else {}))
    kind, sep, path = spec.partition(":")
    if sep and kind in ("jsonl", "csv") and path:
        return JsonlSinkConfig(path=path) if kind == "jsonl" else CsvSinkConfig(path=path)
    raise ConfigError(
        f"cannot parse sink {spec!r}",
        "use jsonl:PATH, csv:PATH, kafka://HOST:PORT/TOPIC or mqtt://HOST:PORT/TOPIC",
    )


# ---------------------------------------------------------------- cameras and the app


class CameraConfig(_Strict):
    """One video source.

    Attributes:
        source: video file, image folder, rtsp:// / http(s):// URL, or a camera index ("0").
        frame_skip: process every (frame_skip + 1)-th frame.
        target_fps: if set, process at most this many frames per second of video time.
        loop: restart a file source at its end.
        reconnect_max_s: longest back-off between reconnect attempts of a live stream.
    """

    id: str = "cam0"
    source: str = ""
    frame_skip: int = Field(default=0, ge=0)
    target_fps: float | None = Field(default=None, gt=0)
    loop: bool = False
    reconnect_max_s: float = Field(default=30.0, gt=0)
    roi: tuple[int, int, int, int] | None = Field(
        default=None, description="x1,y1,x2,y2 px of the frame to search"
    )


class QualityConfig(_Strict):
    """Optional gates that save compute: skip blurred frames, sample sparsely while nothing is in view."""

    min_sharpness: float = Field(default=0.0, ge=0.0, description="variance of Laplacian; 0 = off")
    adaptive_sampling: bool = False
    idle_stride: int = Field(default=3, ge=1, description="process every Nth frame while no plate is tracked")


class NodeConfig(_Strict):
    site: str = "default"
    host: str = Field(default_factory=socket.gethostname)


class AppConfig(_Strict):
    cameras: list[CameraConfig] = Field(default_factory=lambda: [CameraConfig()])
    plate_detector: PlateDetectorConfig = Field(default_factory=PlateDetectorConfig)
    vehicle_detector: VehicleDetectorConfig | None = None
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    ocr: OcrConfig = Field(default_factory=OcrConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    sinks: list[SinkConfig] = Field(default_factory=list)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    node: NodeConfig = Field(default_factory=NodeConfig)
    output_dir: str = "out"
    save_crops: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    stats_interval_s: float = Field(default=10.0, gt=0)
    drain_timeout_s: float = Field(default=30.0, ge=0)
    cache_dir: str | None = Field(
        default=None, description="converted models / engines; default ~/.cache/ovr-alpr"
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> AppConfig:
        ids = [c.id for c in self.cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique, got {ids}")
        return self

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else Path.home() / ".cache" / "ovr-alpr"


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "literal_error" and first.get("ctx"):
        msg = f"got {first.get('input')!r}, allowed: {first['ctx'].get('expected')}"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid config {origin}: {where}: {msg}{more}"


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> AppConfig:
    """Load YAML (optional), apply dotted-path `overrides`, validate. Raises `ConfigError` with the key."""
    data: dict[str, Any] = {}
    origin = "(defaults)"
    if path is not None:
        origin = str(path)
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} not found", "check the --config path")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {p} is not valid YAML{line}", "fix the YAML syntax") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top", "see config.example.yaml")
        data = loaded
    for dotted, value in (overrides or {}).items():
        node = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            _format_validation_error(exc, origin), "fix that key (see config.example.yaml)"
        ) from None
