"""A second model's opinion on the crops the first reader is unsure of.

A reader trained on sharp crops reads a smeared plate (a slow shutter on a moving car, night exposure) with
low confidence and often wrong; a reader trained to read smeared plates reads sharp ones a little worse. With
`ocr.second_opinion`, a crop whose read is less confident than `below` is read again by the second model
(the same reader type, backend, device and precision, another model file), and the second read replaces the
first when it is at least `below` confident itself: only a sure second opinion counts. Reads at or above
`below`, most crops, cost one read as before and do not change.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..config import StrictConfig
from .base import PlateReader, PlateText


class SecondOpinionConfig(StrictConfig):
    """`ocr.second_opinion`: `path` of the second model (None: the reader type's embedded one) and `below`,
    the read confidence under which a crop is read again by it."""

    path: str | None = None
    below: float = Field(default=0.9, gt=0.0, le=1.0)


class SecondOpinionReader:
    """Reads with `first`; crops it reads with confidence under `below` are read by `second` too, whose read
    is kept instead when its confidence is at least `below`.

    An unsure second read is not taken even when it is more confident than the first: on the US evaluation
    crops smeared by 5 px, the shipped second model's reads at 0.9 or more were right as often as the first
    model's (88 %), its reads between 0.6 and 0.9 only 39 % of the time, and in video such a read of an early,
    small shot votes in the track's fusion where the first model's garbled read did not.

    Example:
        >>> class Fixed:
        ...     def __init__(self, read): self.r = read
        ...     def read_batch(self, crops): return [self.r for _ in crops]
        ...     def warmup(self): pass
        >>> unsure, sure = PlateText("AB12", 0.5, (0.5,) * 4), PlateText("A812", 0.95, (0.95,) * 4)
        >>> reader = SecondOpinionReader(Fixed(unsure), Fixed(sure), below=0.9)
        >>> reader.read(np.zeros((8, 8, 3), np.uint8)).text
        'A812'
    """

    def __init__(self, first: PlateReader, second: PlateReader, below: float) -> None:
        self.first = first
        self.second = second
        self.below = below

    def read(self, crop: np.ndarray) -> PlateText:
        return self.read_batch([crop])[0]

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateText]:
        out = self.first.read_batch(crops)
        unsure = [i for i, r in enumerate(out) if r.confidence < self.below]
        if unsure:
            again = self.second.read_batch([crops[i] for i in unsure])
            for i, read in zip(unsure, again, strict=True):
                if read.confidence >= self.below:
                    out[i] = read
        return out

    def warmup(self) -> None:
        self.first.warmup()
        self.second.warmup()
