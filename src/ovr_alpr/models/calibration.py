"""Calibration images: building a diverse set from videos/folders, hashing it, and feeding it to a model.

Calibration inputs go through the same preprocessing the runtime uses for that model (letterbox for
YOLO/YOLOX, height-48 resize for PP-OCR), so the INT8 ranges match what the model sees in production.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".ts", ".mpg", ".mpeg"}

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
    from ..detect.ops import Letterbox, to_nchw

    letterbox = Letterbox(size, center=True)
    return lambda image: to_nchw(letterbox(image)[0], np.float32).copy()


def yolox_preprocess(size: tuple[int, int]) -> Preprocess:
    """YOLOX: top-left letterbox (grey 114), BGR 0-255, 1xCxHxW float32."""
    from ..detect.ops import Letterbox, to_nchw

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


def preprocess_for(role: str, input_shape: tuple[int, ...], fmt: str = "auto") -> Preprocess:
    """The preprocessing of the model that plays `role` (`plate`, `vehicle`, `ocr`).

    Args:
        input_shape: the model's (N, C, H, W); dynamic dims are -1 or 0.
        fmt: detector format for `vehicle` (`yolov8` or `yolox`); `auto` = yolox for 416-px inputs.
    """
    from .zoo import canonical_role

    role = canonical_role(role)
    if role == "ocr" and len(input_shape) == 4 and input_shape[3] in (1, 3) and input_shape[1] > 3:
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
    from .datasets import read_openalpr_label

    label = path.with_suffix(".txt")
    if label.is_file():
        sample = read_openalpr_label(label)
        if sample is not None:
            crops = [crop_box(image, box) for box in sample.boxes]
            crops = [c for c in crops if c.size]
            if crops:
                return crops
    return [image]


def crop_box(image: np.ndarray, box: np.ndarray, pad_x: float = 0.04, pad_y: float = 0.08) -> np.ndarray:
    """Crop an xyxy box with a small margin (fractions of its width/height), clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    h, w = image.shape[:2]
    xa, ya = max(0, int(x1 - pad_x * bw)), max(0, int(y1 - pad_y * bh))
    xb, yb = min(w, math.ceil(x2 + pad_x * bw)), min(h, math.ceil(y2 + pad_y * bh))
    return image[ya:yb, xa:xb]


# ---------------------------------------------------------------- building a calibration set


def thumbnail(image: np.ndarray, size: int = 32) -> np.ndarray:
    """A small grey thumbnail used to tell near-duplicate frames apart."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)


def is_near_duplicate(thumb: np.ndarray, kept: Iterable[np.ndarray], min_diff: float) -> bool:
    """True when the mean absolute grey-level difference to any kept thumbnail is below `min_diff`."""
    return any(float(np.mean(np.abs(thumb - other))) < min_diff for other in kept)


@dataclass
class CalibSummary:
    written: int
    skipped_duplicates: int
    sources: int


def _iter_source_frames(source: Path, every: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, frame) pairs of a video (every `every`-th frame) or an image (read once)."""
    if source.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(source))
        if image is not None:
            yield source.stem, image
        return
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise SourceError(f"cannot open video {source}", "check the file and that OpenCV can decode it")
    try:
        index = 0
        while True:
            if index % every == 0:
                ok, frame = cap.read()
                if not ok:
                    break
                yield f"{source.stem}_f{index:06d}", frame
            elif not cap.grab():
                break
            index += 1
    finally:
        cap.release()


def expand_sources(sources: Iterable[str | Path]) -> list[Path]:
    """Videos and images named directly or found (recursively) in named folders."""
    out: list[Path] = []
    for src in sources:
        path = Path(src).expanduser()
        if path.is_dir():
            out += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
        elif path.is_file():
            out.append(path)
        else:
            raise SourceError(f"calibration source {path} not found", "give video files or folders")
    return out


def build_calibration_set(
    sources: Iterable[str | Path],
    out_dir: str | Path,
    every: int = 30,
    max_per_video: int = 50,
    min_diff: float = 6.0,
    max_total: int = 0,
    progress: bool = True,
) -> CalibSummary:
    """Write a diverse set of frames as JPEGs to `out_dir`.

    Args:
        sources: videos, images or folders of them.
        every: take every N-th frame of a video.
        max_per_video: at most this many frames per video.
        min_diff: frames whose 32x32 grey thumbnail differs from an already kept one of the same source by
            less than this mean absolute grey level (0-255) are skipped as near-duplicates.
        max_total: stop after this many images (0 = no limit).
    """
    from tqdm import tqdm

    paths = expand_sources(sources)
    if not paths:
        raise SourceError("no videos or images found in the calibration sources", "check the --source paths")
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    bar = tqdm(total=len(paths), unit="src", desc="calib", disable=not progress)
    loose_thumbs: list[np.ndarray] = []  # images given one by one are de-duplicated against each other
    try:
        for path in paths:
            is_video = path.suffix.lower() in VIDEO_SUFFIXES
            kept_thumbs: list[np.ndarray] = [] if is_video else loose_thumbs
            taken = 0
            for name, frame in _iter_source_frames(path, max(1, every)):
                thumb = thumbnail(frame)
                if is_near_duplicate(thumb, kept_thumbs, min_diff):
                    skipped += 1
                    continue
                kept_thumbs.append(thumb)
                cv2.imwrite(str(out / f"{name}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
                written += 1
                taken += 1
                bar.set_postfix(images=written, dupes=skipped)
                if (is_video and taken >= max_per_video) or (max_total and written >= max_total):
                    break
            bar.update(1)
            if max_total and written >= max_total:
                break
    finally:
        bar.close()
    return CalibSummary(written, skipped, len(paths))
