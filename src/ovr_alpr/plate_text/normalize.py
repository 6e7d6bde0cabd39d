"""Normalise plate text (A-Z0-9), repair it to a configured plate format, find its region."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import EventsConfig
from .formats import FormatBank
from .text import PlateText, normalize_text


@dataclass(frozen=True)
class NormalizedPlate:
    text: str
    region: str | None
    valid: bool


class PlateNormalizer:
    """Normalises a read, repairs it to a plate format, and finds its region.

    With `cfg.formats` set, a read that fits none of the templates is repaired to the likeliest one it can be
    made to fit (look-alike swaps, a dropped character; see `ocr.formats.FormatBank`) and takes that
    template's region; pass the `PlateText` rather than its text so the repair can weigh the reader's
    per-character probabilities. Otherwise (or when no repair exists) the first region whose `cfg.regions`
    pattern matches is taken. A read that matches no region is `valid` only if `allow_unknown_region`.

    Example:
        >>> norm = PlateNormalizer(EventsConfig(formats={"it": ["LLDDDLL"]}))
        >>> norm("ab 123 c0")
        NormalizedPlate(text='AB123CO', region='it', valid=True)
    """

    def __init__(self, cfg: EventsConfig) -> None:
        self.patterns = [(name, re.compile(p)) for name, p in cfg.regions.items()]
        self.allow_unknown = cfg.allow_unknown_region
        self.formats = FormatBank(cfg.formats)
        # A region hint (a zone's) tries that region's formats and pattern before all the others.
        self._hinted = {name: FormatBank({name: templates}) for name, templates in cfg.formats.items()}

    def __call__(self, read: str | PlateText, region_hint: str | None = None) -> NormalizedPlate:
        raw = read if isinstance(read, str) else read.text
        norm = normalize_text(raw)
        confidences = alternatives = None
        if isinstance(read, PlateText) and norm == raw:  # per-character data lines up with the text
            confidences, alternatives = read.char_confidences, read.char_alternatives
        if region_hint in self._hinted:
            repair = self._hinted[region_hint].repair(norm, confidences, alternatives)
            if repair is not None:
                return NormalizedPlate(repair.text, repair.region, True)
        if self.formats:
            repair = self.formats.repair(norm, confidences, alternatives)
            if repair is not None:
                return NormalizedPlate(repair.text, repair.region, True)
        patterns = sorted(self.patterns, key=lambda item: item[0] != region_hint)
        for name, pattern in patterns:
            if pattern.fullmatch(norm):
                return NormalizedPlate(norm, name, True)
        return NormalizedPlate(norm, None, bool(norm) and self.allow_unknown)
