"""Labelled image sets for validation: the openalpr benchmark layout and the YOLO (images/ labels/) layout."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..imaging import IMAGE_SUFFIXES
from ..labels import LabelledImage, read_openalpr_label, read_yolo_label

log = logging.getLogger(__name__)


def load_dataset(root: str | Path, limit: int = 0) -> list[LabelledImage]:
    """All labelled images under `root`.

    openalpr layout: `NAME.txt` beside `NAME.jpg`, found recursively. YOLO layout: `images/` and
    `labels/` folders (labels `class cx cy w h`, normalised). `limit` keeps an even spread of that many.

    Raises:
        ConfigError: the folder does not exist or holds no labelled images.
    """
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ConfigError(f"dataset folder {base} not found", "give --dataset a folder of images with labels")
    samples: list[LabelledImage] = []
    yolo_image_dirs = [d for d in base.rglob("images") if d.is_dir() and (d.parent / "labels").is_dir()]
    if (base / "images").is_dir() and (base / "labels").is_dir():
        yolo_image_dirs.append(base / "images")
    for image_dir in sorted(set(yolo_image_dirs)):
        label_dir = image_dir.parent / "labels"
        for image in sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            rel = image.relative_to(image_dir).with_suffix(".txt")
            sample = read_yolo_label(label_dir / rel, image)
            if sample is not None:
                samples.append(sample)
    if not samples:
        for label in sorted(base.rglob("*.txt")):
            sample = read_openalpr_label(label)
            if sample is not None:
                samples.append(sample)
    if not samples:
        raise ConfigError(
            f"no labelled images found in {base}",
            "expected NAME.txt beside NAME.jpg (openalpr) or images/ + labels/ (YOLO)",
        )
    if limit and len(samples) > limit:
        idx = np.linspace(0, len(samples) - 1, limit).round().astype(int)
        samples = [samples[i] for i in sorted(set(idx.tolist()))]
    return samples
