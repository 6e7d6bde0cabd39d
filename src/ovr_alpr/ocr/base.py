"""The `PlateReader` interface and the `PlateText` result it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..registry import Registry


@dataclass(frozen=True)
class PlateText:
    """One OCR read of one crop.

    Attributes:
        text: upper-case alphanumerics as read (separators dropped).
        confidence: mean per-character probability, 0..1 (0 for an empty read).
        char_confidences: probability of each character of `text`.
        char_alternatives: per character of `text`, the runner-up characters and their probabilities
            (highest first), where the reader gives them; used to repair reads to a plate format.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()
    char_alternatives: tuple[tuple[tuple[str, float], ...], ...] = ()


class PlateReader(Protocol):
    """Reads the text of plate crops (BGR uint8)."""

    def read(self, crop: np.ndarray) -> PlateText: ...

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateText]: ...


READERS: Registry[type] = Registry("ocr type")
