"""Label files of labelled plate images: the OpenALPR benchmark layout and YOLO `class cx cy w h` lines."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class LabelledImage:
    """One image and its labelled boxes.

    Attributes:
        image_path: the image file.
        boxes: float32 (K, 4) xyxy boxes in px.
        texts: plate text per box ("" when unknown).
        class_ids: int64 (K,) class per box (0 for plates).
    """

    image_path: Path
    boxes: np.ndarray
    texts: list[str] = field(default_factory=list)
    class_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if len(self.class_ids) != len(self.boxes):
            self.class_ids = np.zeros(len(self.boxes), dtype=np.int64)
        if len(self.texts) != len(self.boxes):
            self.texts = [""] * len(self.boxes)


def read_openalpr_label(label: Path) -> LabelledImage | None:
    """`NAME.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE` (one or more lines) -> a LabelledImage, or None."""
    boxes, texts = [], []
    image_name = None
    for number, line in enumerate(label.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split("\t") if "\t" in line else line.split()
        try:
            if len(parts) < 5:
                raise ValueError
            x, y, w, h = (float(v) for v in parts[1:5])
        except ValueError:
            log.warning(
                "%s:%d: malformed label line skipped (expected NAME x y w h PLATE): %.80s",
                label,
                number,
                line,
            )
            continue
        image_name = image_name or parts[0]
        boxes.append([x, y, x + w, y + h])
        texts.append(parts[5].strip() if len(parts) > 5 else "")
    if not boxes or image_name is None:
        return None
    image = label.parent / image_name
    if not image.is_file():
        return None
    return LabelledImage(image, np.array(boxes), texts)


def yolo_rows(label: Path) -> np.ndarray:
    """Float32 (K, 5) `class cx cy w h` rows of a YOLO label file (normalised); malformed lines are skipped
    with a warning, a missing file has none."""
    rows = []
    lines = label.read_text(errors="replace").splitlines() if label.is_file() else []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = [float(v) for v in line.split()[:5]]
            if len(row) < 5:
                raise ValueError
        except ValueError:
            log.warning(
                "%s:%d: malformed label line skipped (expected class cx cy w h): %.80s", label, number, line
            )
            continue
        rows.append(row)
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def yolo_xyxy(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """The (K, 4) xyxy px boxes of `yolo_rows` in a `width` x `height` image."""
    cx, cy = rows[:, 1] * width, rows[:, 2] * height
    bw, bh = rows[:, 3] * width, rows[:, 4] * height
    return np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)


def read_yolo_label(label: Path, image: Path) -> LabelledImage | None:
    rows = yolo_rows(label)
    if not len(rows):
        return LabelledImage(image, np.empty((0, 4)))
    decoded = cv2.imread(str(image))
    if decoded is None:
        log.warning("%s: cannot decode the image, skipped", image)
        return None
    h, w = decoded.shape[:2]
    return LabelledImage(image, yolo_xyxy(rows, w, h), class_ids=rows[:, 0].astype(np.int64))
