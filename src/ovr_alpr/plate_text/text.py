"""Plate text: the `PlateText` read, the A-Z0-9 alphabet, the normalisation used by OCR, events and eval."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Characters a plate may contain after normalisation.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_NON_ALNUM = re.compile(r"[^A-Z0-9]")
_CONFUSABLE = str.maketrans("OI", "01")


def normalize_text(text: str) -> str:
    """Upper-case, alphanumerics only: `"ab-123 cd"` -> `"AB123CD"`."""
    return _NON_ALNUM.sub("", text.upper())


def fold_confusables(text: str) -> str:
    """`normalize_text`, then O->0 and I->1: plates where the two glyphs are identical compare equal.

    Example:
        >>> fold_confusables("rk-o99an")
        'RK099AN'
    """
    return normalize_text(text).translate(_CONFUSABLE)


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
