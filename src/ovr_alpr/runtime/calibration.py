"""INT8 calibration sets: listing and hashing the images, and feeding them to a model.

Calibration inputs go through the same preprocessing the runtime uses for that model (letterbox for
YOLO/YOLOX, height-48 resize for PP-OCR), so the INT8 ranges match what the model sees in production.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError
from ..imaging import IMAGE_SUFFIXES, Letterbox, crop_box, to_nchw
from ..labels import read_openalpr_label

log = logging.getLogger(__name__)


Preprocess = Callable[[np.ndarray], np.ndarray]


def list_images(folder: str | Path) -> list[Path]:
    """Image files under `folder` (recursive), sorted so the order and the hash are stable."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ModelError(
            f"calibration folder {root} not found", "give a folder of images (see `ovr-alpr calib`)"
        )
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def calibration_hash(images: list[Path]) -> str:
    """sha256 over the images' bytes (in sorted order): changes when any image is added, removed or edited."""
    digest = hashlib.sha256()
    for path in images:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# ---------------------------------------------------------------- per-model preprocessing


def yolo_preprocess(size: tuple[int, int]) -> Preprocess:
    """Ultralytics: centred letterbox (grey 114), RGB, /255, 1xCxHxW float32."""
    letterbox = Letterbox(size, center=True)
    return lambda image: to_nchw(letterbox(image)[0], np.float32).copy()


def yolox_preprocess(size: tuple[int, int]) -> Preprocess:
    """YOLOX: top-left letterbox (grey 114), BGR 0-255, 1xCxHxW float32."""
    letterbox = Letterbox(size, center=False)
    return lambda image: to_nchw(letterbox(image)[0], np.float32, scale=1.0, swap_rb=False).copy()


def ppocr_preprocess(height: int = 48, width: int = 320) -> Preprocess:
    """PP-OCR rec: keep aspect at 48 px high, pad right to `width`, (x/255 - 0.5)/0.5, BGR."""

    def run(crop: np.ndarray) -> np.ndarray:
        h, w = crop.shape[:2]
        resized_w = min(width, max(1, math.ceil(height * w / max(h, 1))))
        resized = cv2.resize(crop, (resized_w, height), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((1, 3, height, width), dtype=np.float32)
        out[0, :, :, :resized_w] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
        return out

    return run


def slot_reader_preprocess(height: int, width: int, channels: int = 3) -> Preprocess:
    """Fixed-slot plate readers (`ocr.slots`): plain resize, RGB (or grey), uint8 NHWC."""

    def run(crop: np.ndarray) -> np.ndarray:
        resized = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
        if channels == 1:
            return cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)[None, :, :, None]
        return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)[None]

    return run


def is_nhwc(shape: tuple[int, ...]) -> bool:
    """An image input laid out N x H x W x C (the fixed-slot/CTC plate readers), not N x C x H x W."""
    return len(shape) == 4 and shape[3] in (1, 3) and shape[1] > 3


def image_hw(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Height and width of an image input, N x C x H x W or N x H x W x C; () for other shapes."""
    shape = tuple(shape)
    if len(shape) < 4:
        return ()
    return shape[1:3] if is_nhwc(shape) else shape[2:4]


def preprocess_for(role: str, input_shape: tuple[int, ...], fmt: str = "auto") -> Preprocess:
    """The preprocessing of the model that plays `role` (`plate`, `vehicle`, `ocr`).

    Args:
        input_shape: the model's (N, C, H, W); dynamic dims are -1 or 0.
        fmt: detector format for `vehicle` (`yolov8` or `yolox`); `auto` = yolox for 416-px inputs.
    """
    from .zoo import canonical_role

    role = canonical_role(role)
    if role == "ocr" and is_nhwc(input_shape):
        return slot_reader_preprocess(input_shape[1], input_shape[2], input_shape[3])  # NHWC slot reader
    h, w = (d if d and d > 0 else 0 for d in input_shape[2:4])
    if role == "ocr":
        return ppocr_preprocess(height=h or 48, width=w or 320)
    size = (h or 640, w or 640)
    if role == "vehicle" and (fmt == "yolox" or (fmt == "auto" and size == (416, 416))):
        return yolox_preprocess(size)
    return yolo_preprocess(size)


@dataclass
class CalibrationSet:
    """Images chosen for calibration and the hash that keys models built from them."""

    folder: Path
    images: list[Path]
    sha256: str

    @classmethod
    def from_folder(cls, folder: str | Path, limit: int = 0) -> CalibrationSet:
        images = list_images(folder)
        if not images:
            raise ModelError(
                f"calibration folder {folder} has no images",
                f"add .jpg/.png files (suffixes: {', '.join(sorted(IMAGE_SUFFIXES))})",
            )
        if limit and len(images) > limit:  # spread the pick over the whole (sorted) set
            idx = np.linspace(0, len(images) - 1, limit).round().astype(int)
            images = [images[i] for i in sorted(set(idx.tolist()))]
        return cls(Path(folder), images, calibration_hash(images))

    def batches(self, preprocess: Preprocess, role: str = "plate") -> Iterator[np.ndarray]:
        """Preprocessed inputs, one image per batch; for `ocr`, labelled plate boxes are cropped first."""
        for path in self.images:
            image = cv2.imread(str(path))
            if image is None:
                log.warning("calibration: cannot read %s, skipped", path)
                continue
            for item in _ocr_crops(path, image) if role in ("ocr",) else [image]:
                yield preprocess(item)


def _ocr_crops(path: Path, image: np.ndarray) -> list[np.ndarray]:
    """Plate crops from an openalpr-style label beside the image; the image itself when there is none."""
    label = path.with_suffix(".txt")
    if label.is_file():
        sample = read_openalpr_label(label)
        if sample is not None:
            crops = [crop_box(image, box) for box in sample.boxes]
            crops = [c for c in crops if c.size]
            if crops:
                return crops
    return [image]
