"""OCR: plate readers and the once-per-track policy (throttling, best shot, fusion)."""

from __future__ import annotations

from pathlib import Path

from ..config import ModelConfig, OcrConfig
from ..runtime.backends.base import InferenceBackend, load_backend
from . import ppocr, slots  # noqa: F401  (register the built-in readers)
from .base import READERS, PlateReader, PlateText
from .second import SecondOpinionReader

__all__ = [
    "READERS",
    "PlateReader",
    "PlateText",
    "build_reader",
    "make_reader",
    "reader_default_path",
    "second_model",
    "second_opinion",
]


def reader_default_path(cfg: OcrConfig) -> Path | None:
    """The embedded model of the configured reader type; None when `ocr.model.path` names the model."""
    return None if cfg.model.path else READERS.get(cfg.type).default_model()


def make_reader(cfg: OcrConfig, backend: InferenceBackend) -> PlateReader:
    """The configured reader type (`ocr.type`) around an already loaded model."""
    return READERS.get(cfg.type).from_config(cfg, backend)


def second_model(cfg: OcrConfig, model: ModelConfig | None = None) -> ModelConfig | None:
    """How `ocr.second_opinion`'s model runs: as `model` (default `ocr.model`: backend, device, precision)
    says, from its own file (its `path`, else the reader type's embedded one); None when the reader asks no
    second opinion."""
    opinion = getattr(cfg, "second_opinion", None)
    if opinion is None:
        return None
    path = opinion.path or str(READERS.get(cfg.type).second_default_model())
    return (model or cfg.model).model_copy(update={"path": path})


def second_opinion(
    reader: PlateReader, cfg: OcrConfig, model: ModelConfig | None = None, cache_dir: Path | None = None
) -> tuple[PlateReader, InferenceBackend | None]:
    """`reader` with `ocr.second_opinion`'s model (`second_model`) asked about the crops it is unsure of,
    and that model's backend (to close); `reader` itself and None when none is configured."""
    second = second_model(cfg, model)
    if second is None:
        return reader, None
    backend = load_backend(second, "ocr", cache_dir=cache_dir)
    return SecondOpinionReader(reader, make_reader(cfg, backend), cfg.second_opinion.below), backend


def build_reader(cfg: OcrConfig, cache_dir: Path | None = None) -> PlateReader:
    """The configured plate reader (`ocr.type`, with its `second_opinion` if any), loaded and warmed up."""
    backend = load_backend(cfg.model, "ocr", reader_default_path(cfg), cache_dir=cache_dir)
    reader, _ = second_opinion(make_reader(cfg, backend), cfg, cache_dir=cache_dir)
    reader.warmup()
    return reader
