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
