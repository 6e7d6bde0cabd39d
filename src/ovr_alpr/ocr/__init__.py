"""OCR: plate readers and the once-per-track policy (throttling, best shot, fusion)."""

from .base import READERS, PlateReader, PlateText

__all__ = ["READERS", "PlateReader", "PlateText", "build_reader"]


def build_reader(cfg, cache_dir=None) -> PlateReader:
    """The configured plate reader (`ocr.type`), its model loaded and warmed up."""
    from ..backends.base import load_backend
    from ..errors import ConfigError
    from ..models.zoo import default_model_path
    from . import ppocr, slots  # noqa: F401  (registers)

    reader_cls = READERS.get(cfg.type)
    embedded = getattr(reader_cls, "embedded_model", "ocr")
    if not cfg.model.path and embedded is None:
        raise ConfigError(
            f"ocr.type {cfg.type} has no embedded model", "set ocr.model.path to the model file"
        )
    default = None if cfg.model.path else default_model_path(embedded)
    backend = load_backend(cfg.model, "ocr", default, cache_dir=cache_dir)
    options = {"plate_config": cfg.plate_config} if cfg.type != "ppocr" else {}
    reader = reader_cls(backend, alphabet=cfg.alphabet, variants=tuple(cfg.crop_variants), **options)
    if hasattr(reader, "warmup"):
        reader.warmup()
    return reader
