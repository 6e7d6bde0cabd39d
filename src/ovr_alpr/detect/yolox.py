"""YOLOX-format ONNX detectors (e.g. COCO YOLOX-Nano as the vehicle model)."""

from __future__ import annotations

import numpy as np

from ..imaging import Letterbox, to_nchw
from ..runtime.backends.base import InferenceBackend
from ..types import Detections
from .base import DETECTOR_FORMATS
from .ops import nms

COCO_VEHICLES = {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


@DETECTOR_FORMATS.register("yolox")
class YoloxDetector:
    """YOLOX head decoding: BGR 0-255 input, top-left letterbox, grid x stride offsets, obj x class score.

    Args:
        backend: the loaded model, output [1, A, 5 + nc].
        classes: class id -> name to keep (default: COCO vehicles).
    """

    def __init__(
        self,
        backend: InferenceBackend,
        conf_threshold: float = 0.35,
        iou_threshold: float = 0.5,
        input_size: int = 416,
        classes: dict[int, str] | None = None,
        strides: tuple[int, ...] = (8, 16, 32),
        agnostic: bool = True,
    ) -> None:
        self.backend = backend
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.agnostic = agnostic  # one box per vehicle: a car/truck pair on one vehicle is one object
        h, w = backend.input_shape[2:4]
        self.input_hw = (h if h > 0 else input_size, w if w > 0 else input_size)
        self.letterbox = Letterbox(self.input_hw, center=False)
        self.class_names = dict(classes if classes is not None else COCO_VEHICLES)
        self._keep_ids = np.array(sorted(self.class_names))
        grids, grid_strides = [], []
        for s in strides:
            gh, gw = self.input_hw[0] // s, self.input_hw[1] // s
            yv, xv = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
            grids.append(np.stack([xv, yv], axis=2).reshape(-1, 2))
            grid_strides.append(np.full((gh * gw, 1), s))
        self._grid = np.concatenate(grids).astype(np.float32)
        self._stride = np.concatenate(grid_strides).astype(np.float32)

    def __call__(self, image: np.ndarray) -> Detections:
        canvas, info = self.letterbox(image)
        out = self.backend(to_nchw(canvas, self.backend.input_dtype, scale=1.0, swap_rb=False))[0]
        pred = np.asarray(out[0], dtype=np.float32)
        if pred.shape[0] != len(self._grid):
            raise ValueError(
                f"YOLOX output has {pred.shape[0]} rows, expected {len(self._grid)} for input {self.input_hw}"
            )
        cls_scores = pred[:, 5:][:, self._keep_ids] * pred[:, 4:5]
        best = cls_scores.argmax(axis=1)
        score = cls_scores[np.arange(len(pred)), best]
        mask = score > self.conf_threshold
        if not mask.any():
            return Detections.empty()
        p = pred[mask]
        centre = (p[:, :2] + self._grid[mask]) * self._stride[mask]
        size = np.exp(p[:, 2:4]) * self._stride[mask]
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1) / info.ratio
        class_id = self._keep_ids[best[mask]]
        score = score[mask]
        keep = nms(xyxy, score, self.iou_threshold, None if self.agnostic else class_id)
        h, w = image.shape[:2]
        xyxy = xyxy[keep]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        return Detections(xyxy, score[keep], class_id[keep])
