"""The pipeline layer: the whole app's config, one camera's loop, the multi-camera run, still-image `Alpr`."""

from .alpr import Alpr, PlateRead
from .config import AppConfig, load_config, parse_sink_spec
from .pipeline import Pipeline, RunResult
from .worker import CameraWorker, Counters, Stages

__all__ = [
    "Alpr",
    "AppConfig",
    "CameraWorker",
    "Counters",
    "Pipeline",
    "PlateRead",
    "RunResult",
    "Stages",
    "load_config",
    "parse_sink_spec",
]
