"""OCR: plate readers and the once-per-track policy (throttling, best shot, fusion)."""

from __future__ import annotations

from pathlib import Path

from ..config import OcrConfig
from ..runtime.backends.base import InferenceBackend, load_backend
from . import ppocr, slots  # noqa: F401  (register the built-in readers)
from .base import READERS, PlateReader, PlateText

__all__ = ["READERS", "PlateReader", "PlateText", "build_reader", "make_reader", "reader_default_path"]


def reader_default_path(cfg: OcrConfig) -> Path | None:
    """The embedded model of the configured reader type; None when `ocr.model.path` names the model."""
    return None if cfg.model.path else READERS.get(cfg.type).default_model()


def make_reader(cfg: OcrConfig, backend: InferenceBackend) -> PlateReader:
    """The configured reader type (`ocr.type`) around an already loaded model."""
    return READERS.get(cfg.type).from_config(cfg, backend)


def build_reader(cfg: OcrConfig, cache_dir: Path | None = None) -> PlateReader:
    """The configured plate reader (`ocr.type`), its model loaded and warmed up."""
    backend = load_backend(cfg.model, "ocr", reader_default_path(cfg), cache_dir=cache_dir)
    reader = make_reader(cfg, backend)
    reader.warmup()
    return reader
