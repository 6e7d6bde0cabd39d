"""A plate calibration set rendered by the project's own generator, for INT8 without user images."""

from __future__ import annotations

import logging
from pathlib import Path

from .clip import make_images

log = logging.getLogger(__name__)

SYNTHETIC_CALIBRATION_IMAGES = 64


def synthetic_calibration(cache_dir: Path, n: int = SYNTHETIC_CALIBRATION_IMAGES, seed: int = 123) -> Path:
    """`n` rendered still scenes with plates under `cache_dir/calibration/` (rendered once, then reused)."""
    folder = cache_dir / "calibration" / f"synthetic-plates-{n}-seed{seed}"
    done = folder / ".complete"
    if not done.is_file():
        log.info("INT8 without model.calibration: rendering %d synthetic calibration images in %s", n, folder)
        make_images(folder, n, seed=seed)
        done.write_text("ok\n")
    return folder
