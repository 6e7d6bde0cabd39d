"""Normalise plate text (upper-case alphanumerics) and validate it against configured region patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import EventsConfig

_NON_ALNUM = re.compile(r"[^A-Z0-9]")


def normalize_text(text: str) -> str:
    """Upper-case, alphanumerics only: `"ab-123 cd"` -> `"AB123CD"`."""
    return _NON_ALNUM.sub("", text.upper())


@dataclass(frozen=True)
class NormalizedPlate:
    text: str
    region: str | None
    valid: bool


class PlateNormalizer:
    """Normalises a read and finds the first region whose pattern it matches.

    A read that matches no region is `valid` only if `allow_unknown_region`.
    """

    def __init__(self, cfg: EventsConfig) -> None:
        self.patterns = [(name, re.compile(p)) for name, p in cfg.regions.items()]
        self.allow_unknown = cfg.allow_unknown_region

    def __call__(self, text: str) -> NormalizedPlate:
        norm = normalize_text(text)
        for name, pattern in self.patterns:
            if pattern.fullmatch(norm):
                return NormalizedPlate(norm, name, True)
        return NormalizedPlate(norm, None, bool(norm) and self.allow_unknown)
