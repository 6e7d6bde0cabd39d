"""Vectorised numpy pre/post-processing shared by the YOLO-family detectors: letterbox, IoU, NMS."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class LetterboxInfo:
    """How a frame was fitted into the network input: scale `ratio`, then padding (`pad_x`, `pad_y`) px."""

    ratio: float
    pad_x: float
    pad_y: float


class Letterbox:
    """Fits images into a fixed (height, width) canvas, reusing one buffer per stream.

    Args:
        size: (height, width) of the network input in px.
        center: pad on both sides (Ultralytics) or only right/bottom (YOLOX).
        fill: grey level of the padding.
    """

    def __init__(self, size: tuple[int, int], center: bool = True, fill: int = 114) -> None:
        self.height, self.width = size
        self.center = center
        self.fill = fill
        self._canvas = np.full((self.height, self.width, 3), fill, dtype=np.uint8)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, LetterboxInfo]:
        h, w = image.shape[:2]
        r = min(self.height / h, self.width / w)
        new_w, new_h = max(1, round(w * r)), max(1, round(h * r))
        pad_x = (self.width - new_w) / 2 if self.center else 0.0
        pad_y = (self.height - new_h) / 2 if self.center else 0.0
        left, top = round(pad_x - 0.1), round(pad_y - 0.1)
        canvas = self._canvas
        canvas.fill(self.fill)
        interp = cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR
        canvas[top : top + new_h, left : left + new_w] = cv2.resize(
            image, (new_w, new_h), interpolation=interp
        )
        return canvas, LetterboxInfo(r, float(left), float(top))


def to_nchw(image: np.ndarray, dtype: np.dtype, scale: float = 1 / 255.0, swap_rb: bool = True) -> np.ndarray:
    """HWC uint8 -> 1xCxHxW of `dtype` (scaled, optionally BGR->RGB); uint8 models get raw bytes."""
    if swap_rb:
        image = image[..., ::-1]
    chw = image.transpose(2, 0, 1)[None]
    if np.dtype(dtype) == np.uint8:
        return np.ascontiguousarray(chw)
    out = chw.astype(np.float32)
    if scale != 1.0:
        out *= scale
    return np.ascontiguousarray(out, dtype=dtype)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy `box` against (N, 4) `boxes`."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    class_ids: np.ndarray | None = None,
    max_det: int = 300,
) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best first.

    Class-aware when `class_ids` is given (boxes are offset per class so classes never suppress each other).
    """
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    if class_ids is not None:
        boxes = boxes + (class_ids.astype(np.float32) * 8192.0)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = order[0]
        keep.append(int(i))
        if order.size == 1:
            break
        ious = box_iou(boxes[i], boxes[order[1:]])
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
