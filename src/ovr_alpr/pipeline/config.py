"""The whole app's config: the shared sections plus the plugin sections of every registered plugin.

It sits above the stages: importing it registers the built-in plugins (readers, trackers, sinks, backends,
detector formats), so a YAML `type` word is checked against everything registered, including plugins that
an application or a test registers later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from .. import detect, ocr, sinks, track  # noqa: F401  (register the built-in plugins)
from ..config import (
    CameraConfig,
    EventsConfig,
    NodeConfig,
    OcrConfig,
    PlateDetectorConfig,
    QualityConfig,
    RetentionConfig,
    SinkConfig,
    StrictConfig,
    TrackerConfig,
    VehicleDetectorConfig,
    plugin_default,
    plugin_field,
)
from ..errors import ConfigError
from ..runtime import backends  # noqa: F401  (registers the built-in backends)
from ..sinks import parse_sink_spec
from ..sinks.base import sink_name

__all__ = [
    "DEFAULT_READER",
    "DEFAULT_TRACKER",
    "AppConfig",
    "format_validation_error",
    "load_config",
    "parse_sink_spec",
]

#: The reader and tracker used when the config names none.
DEFAULT_READER = "ovr"
DEFAULT_TRACKER = "bytetrack"


class AppConfig(StrictConfig):
    """The whole job: cameras, models, plugins (reader, tracker, sinks), events, output.

    Defaults are the embedded offline models, so `AppConfig()` is a working configuration. Plugin sections
    (`ocr`, `tracker`, `sinks[]`) are validated by the section model of the plugin their `type` names.
    """

    cameras: list[CameraConfig] = Field(default_factory=lambda: [CameraConfig()])
    plate_detector: PlateDetectorConfig = Field(default_factory=PlateDetectorConfig)
    vehicle_detector: VehicleDetectorConfig | None = None
    tracker: plugin_field("tracker", TrackerConfig, DEFAULT_TRACKER) = Field(
        default_factory=plugin_default("tracker", DEFAULT_TRACKER)
    )
    ocr: plugin_field("ocr type", OcrConfig, DEFAULT_READER) = Field(
        default_factory=plugin_default("ocr type", DEFAULT_READER)
    )
    events: EventsConfig = Field(default_factory=EventsConfig)
    sinks: list[plugin_field("sink", SinkConfig)] = Field(default_factory=list)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    node: NodeConfig = Field(default_factory=NodeConfig)
    output_dir: str = "out"
    save_crops: bool = True
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="age and disk budget of the saved pictures"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    stats_interval_s: float = Field(default=10.0, gt=0)
    drain_timeout_s: float = Field(default=30.0, ge=0)
    fail_fast: bool = Field(
        default=False,
        description="exit (code 3) if a live camera cannot be reached at start; by default it is retried "
        "with back-off while the other cameras run",
    )
    cache_dir: str | None = Field(
        default=None, description="converted models / engines; default ~/.cache/ovr-alpr"
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> AppConfig:
        ids = [c.id for c in self.cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique, got {ids}")
        return self

    @model_validator(mode="after")
    def _zone_references(self) -> AppConfig:
        """A zone's region and sinks, and a sink filter's zones, must name things that exist."""
        names = {sink_name(s) for s in self.sinks}
        regions = set(self.events.regions) | set(self.events.formats)
        zones = {z.name for c in self.cameras for z in c.zones}
        for cam in self.cameras:
            for zone in cam.zones:
                if zone.region is not None and zone.region not in regions:
                    raise ValueError(
                        f"camera {cam.id} zone {zone.name}: region {zone.region!r} is not in events.regions "
                        f"or events.formats ({', '.join(sorted(regions)) or 'none'})"
                    )
                unknown = sorted(set(zone.sinks or []) - names)
                if unknown:
                    raise ValueError(
                        f"camera {cam.id} zone {zone.name}: no sink named {', '.join(unknown)} "
                        f"(sinks: {', '.join(sorted(names)) or 'none'}; give a sink a `name`)"
                    )
        for sink in self.sinks:
            missing = sorted(set(sink.only.zones if sink.only else []) - zones)
            if missing:
                raise ValueError(f"sink {sink_name(sink)}: filter names unknown zone(s) {', '.join(missing)}")
        return self

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else Path.home() / ".cache" / "ovr-alpr"


def format_validation_error(exc: ValidationError, origin: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    msg = first["msg"]
    if first["type"] == "plugin":  # a plugin section: its own model named the inner key
        inner = first["ctx"]["where"]
        where = f"{where}.{inner}" if inner and where != "(root)" else inner or where
        msg = first["ctx"]["detail"]
    elif first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "literal_error" and first.get("ctx"):
        msg = f"got {first.get('input')!r}, allowed: {first['ctx'].get('expected')}"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid config {origin}: {where}: {msg}{more}"


def _paths_from(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths written in a config file start at the file's folder, wherever ovr-alpr is run from.

    A model path that names no folder and is not beside the config stays as written (a name that
    Ultralytics downloads, like `yolo11n.pt`). Malformed sections are left for validation to report.
    """

    def rebase(value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        text = value.strip()
        if "://" in text or text.startswith("~") or Path(text).is_absolute():
            return value
        return str(base / text)

    def rebase_source(value: Any) -> Any:
        text = value.strip() if isinstance(value, str) else ""
        if text.isdigit() or text.startswith("/dev/"):
            return value
        return rebase(value)

    def rebase_model(model: Any) -> None:
        if not isinstance(model, dict):
            return
        path = model.get("path")
        if isinstance(path, str) and (Path(path).parent != Path(".") or (base / path).exists()):
            model["path"] = rebase(path)
        if "calibration" in model:
            model["calibration"] = rebase(model["calibration"])

    for key in ("output_dir", "cache_dir"):
        if key in data:
            data[key] = rebase(data[key])
    for camera in data.get("cameras") or []:
        for key in ("source", "main_source"):
            if isinstance(camera, dict) and isinstance(camera.get(key), str):
                camera[key] = rebase_source(camera[key])
    for sink in data.get("sinks") or []:
        if isinstance(sink, dict):
            for key in ("path", "spool_dir"):
                if key in sink:
                    sink[key] = rebase(sink[key])
    for section in ("plate_detector", "vehicle_detector", "ocr"):
        if isinstance(data.get(section), dict):
            rebase_model(data[section].get("model"))
    return data


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
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {p} is not UTF-8 text "
                f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
                "save it as UTF-8",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read config file {p}: {exc.strerror or exc}", "check the path"
            ) from None
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {p} is not valid YAML{line}", "fix the YAML syntax") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top", "see config.example.yaml")
        data = _paths_from(loaded, p.absolute().parent)
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
            format_validation_error(exc, origin), "fix that key (see config.example.yaml)"
        ) from None
