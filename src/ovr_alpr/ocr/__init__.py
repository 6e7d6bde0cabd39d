"""OCR: plate readers and the once-per-track policy (throttling, best shot, fusion)."""

from .base import READERS, PlateReader, PlateText

__all__ = ["READERS", "PlateReader", "PlateText", "build_reader"]


def build_reader(cfg, cache_dir=None) -> PlateReader:
    """The configured plate reader (`ocr.type`), its model loaded and warmed up."""
    from ..backends.base import load_backend
    from ..models.zoo import default_model_path
    from . import ppocr  # noqa: F401  (registers)

    default = None if cfg.model.path else default_model_path("ocr")
    backend = load_backend(cfg.model, "ocr", default, cache_dir=cache_dir)
    reader = READERS.get(cfg.type)(backend, alphabet=cfg.alphabet, variants=tuple(cfg.crop_variants))
    if hasattr(reader, "warmup"):
        reader.warmup()
    return reader
