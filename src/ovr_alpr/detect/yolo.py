"""Ultralytics YOLO (v8/11) detectors, incl. the seg head of the embedded plate model (boxes only)."""

from __future__ import annotations

import ast

import numpy as np

from ..imaging import Letterbox, to_nchw
from ..runtime.backends.base import InferenceBackend
from ..types import Detections
from .base import DETECTOR_FORMATS
from .ops import nms


def _class_names(backend: InferenceBackend) -> dict[int, str]:
    session = getattr(backend, "session", None)
    meta = session.get_modelmeta().custom_metadata_map if session is not None else {}
    names = getattr(backend, "class_names", None) or meta.get("names")
    if isinstance(names, str):
        try:
            names = ast.literal_eval(names)
        except (ValueError, SyntaxError):
            names = None
    return {int(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


@DETECTOR_FORMATS.register("yolov8")
class YoloDetector:
    """Runs an Ultralytics YOLO detect/segment model and decodes boxes in vectorised numpy.

    Output layout [1, 4 + nc + nm, N]: centre-x, centre-y, w, h (input px), nc class scores (already
    sigmoid), then nm mask coefficients (seg models; ignored here).

    Args:
        backend: the loaded model.
        conf_threshold: minimum class score kept.
        iou_threshold: NMS IoU.
        input_size: network input side when the model's is dynamic.
        classes: keep only these class ids (None = all).
        agnostic: NMS across classes (vehicle models: one box per vehicle).
    """

    def __init__(
        self,
        backend: InferenceBackend,
        conf_threshold: float = 0.35,
        iou_threshold: float = 0.5,
        input_size: int = 640,
        classes: list[int] | None = None,
        agnostic: bool = False,
    ) -> None:
        self.backend = backend
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.agnostic = agnostic
        h, w = backend.input_shape[2:4]
        self.input_hw = (h if h > 0 else input_size, w if w > 0 else input_size)
        self.letterbox = Letterbox(self.input_hw, center=True)
        self.class_names = _class_names(backend)
        self.classes = None if classes is None else np.asarray(classes)

    def __call__(self, image: np.ndarray) -> Detections:
        canvas, info = self.letterbox(image)
        out = self.backend(to_nchw(canvas, self.backend.input_dtype))[0]
        return self.decode(out, info, image.shape[:2])

    def decode(self, raw: np.ndarray, info, image_hw: tuple[int, int]) -> Detections:
        nc = len(self.class_names) or raw.shape[1] - 4
        pred = np.asarray(raw[0, : 4 + nc], dtype=np.float32).T  # (N, 4 + nc): mask coefficients never read
        scores_all = pred[:, 4 : 4 + nc]
        class_id = scores_all.argmax(axis=1)
        score = scores_all[np.arange(len(pred)), class_id]
        mask = score > self.conf_threshold
        if self.classes is not None:
            mask &= np.isin(class_id, self.classes)
        if not mask.any():
            return Detections.empty()
        pred, score, class_id = pred[mask], score[mask], class_id[mask]
        cxcy, wh = pred[:, 0:2], pred[:, 2:4]
        xyxy = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
        keep = nms(xyxy, score, self.iou_threshold, None if self.agnostic else class_id)
        xyxy = xyxy[keep]
        xyxy -= np.array([info.pad_x, info.pad_y, info.pad_x, info.pad_y], dtype=np.float32)
        xyxy /= info.ratio
        h, w = image_hw
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        return Detections(xyxy, score[keep], class_id[keep])
