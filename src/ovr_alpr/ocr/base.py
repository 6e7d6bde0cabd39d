"""The `PlateReader` interface; its result type `PlateText` lives in `plate_text`."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..plate_text.text import PlateText
from ..registry import Registry, registry


class PlateReader(Protocol):
    """Reads the text of plate crops (BGR uint8).

    A registered reader class also has `default_model() -> Path` (its embedded model) and
    `from_config(cfg, backend)`, which `ocr.build_reader` uses.
    """

    def read(self, crop: np.ndarray) -> PlateText: ...

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateText]: ...

    def warmup(self) -> None:
        """Run the model once per input shape it will see, so no shape is first seen live."""


READERS: Registry[type] = registry("ocr type")


def greedy_spans(best: np.ndarray) -> list[tuple[int, int]]:
    """Greedy CTC: the (start, end) time steps of each run of one class in the per-step argmax `best`.

    Example:
        >>> greedy_spans(np.array([0, 3, 3, 0, 5]))
        [(0, 1), (1, 3), (3, 4), (4, 5)]
    """
    new = np.ones(len(best), dtype=bool)
    new[1:] = best[1:] != best[:-1]
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(best))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
