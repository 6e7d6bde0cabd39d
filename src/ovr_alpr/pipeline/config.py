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

__all__ = [
    "DEFAULT_READER",
    "DEFAULT_TRACKER",
    "AppConfig",
    "format_validation_error",
    "load_config",
    "parse_sink_spec",
]

#: The reader and tracker used when the config names none.
DEFAULT_READER = "ppocr"
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
            format_validation_error(exc, origin), "fix that key (see config.example.yaml)"
        ) from None
