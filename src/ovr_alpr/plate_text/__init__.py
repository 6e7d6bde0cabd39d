"""Plate text, one home: the read type, normalising, the alphabet, plate formats and repair, fusion."""

from .formats import FormatBank
from .fusion import fuse_reads
from .normalize import NormalizedPlate, PlateNormalizer
from .text import ALPHABET, PlateText, fold_confusables, normalize_text

__all__ = [
    "ALPHABET",
    "FormatBank",
    "NormalizedPlate",
    "PlateNormalizer",
    "PlateText",
    "fold_confusables",
    "fuse_reads",
    "normalize_text",
]
