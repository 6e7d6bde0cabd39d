"""OCR: plate readers and the once-per-track policy (throttling, best shot, fusion)."""

from __future__ import annotations

from pathlib import Path

from ..config import OcrConfig
from ..runtime.backends.base import load_backend
from . import ppocr  # noqa: F401  (registers the built-in reader)
from .base import READERS, PlateReader, PlateText

__all__ = ["READERS", "PlateReader", "PlateText", "build_reader"]


def build_reader(cfg: OcrConfig, cache_dir: Path | None = None) -> PlateReader:
    """The configured plate reader (`ocr.type`), its model loaded and warmed up."""
    reader_cls = READERS.get(cfg.type)
    default = None if cfg.model.path else reader_cls.default_model()
    backend = load_backend(cfg.model, "ocr", default, cache_dir=cache_dir)
    reader = reader_cls.from_config(cfg, backend)
    reader.warmup()
    return reader
