"""OCR: plate readers and the once-per-track policy (throttling, best shot, fusion)."""

from .base import READERS, PlateReader, PlateText

__all__ = ["READERS", "PlateReader", "PlateText", "build_reader", "make_reader", "reader_default_path"]


def reader_default_path(cfg):
    """The embedded model file of the configured reader type (`ocr.type`); None when `ocr.model.path`
    names the model."""
    from ..errors import ConfigError
    from ..models.zoo import default_model_path
    from . import ppocr, slots  # noqa: F401  (registers)

    if cfg.model.path:
        return None
    embedded = getattr(READERS.get(cfg.type), "embedded_model", "ocr")
    if embedded is None:
        raise ConfigError(
            f"ocr.type {cfg.type} has no embedded model", "set ocr.model.path to the model file"
        )
    return default_model_path(embedded)


def make_reader(cfg, backend) -> PlateReader:
    """The configured reader type (`ocr.type`) around an already loaded model."""
    from . import ppocr, slots  # noqa: F401  (registers)

    options = {"plate_config": cfg.plate_config} if cfg.type != "ppocr" else {}
    return READERS.get(cfg.type)(backend, alphabet=cfg.alphabet, variants=tuple(cfg.crop_variants), **options)


def build_reader(cfg, cache_dir=None) -> PlateReader:
    """The configured plate reader (`ocr.type`), its model loaded and warmed up."""
    from ..backends.base import load_backend

    backend = load_backend(cfg.model, "ocr", reader_default_path(cfg), cache_dir=cache_dir)
    reader = make_reader(cfg, backend)
    if hasattr(reader, "warmup"):
        reader.warmup()
    return reader
