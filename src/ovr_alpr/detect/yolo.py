"""Ultralytics YOLO (v8/11) detectors, incl. the seg head of the embedded plate model (boxes only)."""

from __future__ import annotations

import numpy as np

from ..imaging import Letterbox, RectLetterbox, to_nchw
from ..runtime.backends.base import InferenceBackend, parse_class_names
from ..runtime.convert import DFL_BINS, RAW_HEAD_KEY, RAW_HEAD_VALUE
from ..types import Detections
from .base import DETECTOR_FORMATS
from .ops import nms


def _class_names(backend: InferenceBackend) -> dict[int, str]:
    session = getattr(backend, "session", None)
    meta = session.get_modelmeta().custom_metadata_map if session is not None else {}
    return parse_class_names(getattr(backend, "class_names", None) or meta.get("names")) or {}


@DETECTOR_FORMATS.register("yolov8")
class YoloDetector:
    """Runs an Ultralytics YOLO detect/segment model and decodes boxes in vectorised numpy.

    Output layout [1, 4 + nc + nm, N]: centre-x, centre-y, w, h (input px), nc class scores (already
    sigmoid), then nm mask coefficients (seg models; ignored here). A model cut at its head convs
    (`runtime.convert.to_raw_head`, metadata `ovr_alpr_head`) gives per stride the box bins (1 x 64 x h x w)
    and class logits (1 x nc x h x w) instead, decoded here for any input size.

    A model whose input height and width are dynamic gets each frame letterboxed to its own aspect (long
    side `input_size`, sides multiples of the largest stride), as Ultralytics runs such models; a fixed
    input gets the square canvas.

    Args:
        backend: the loaded model.
        conf_threshold: minimum class score kept.
        iou_threshold: NMS IoU.
        input_size: network input side when the model's is dynamic.
        classes: keep only these class ids (None = all).
        agnostic: NMS across classes (vehicle models: one box per vehicle).
        canvas_shrink: on a canvas of the frame's own aspect, how much the scale may shrink rather than pad a
            side up to the next stride (`imaging.RectLetterbox`).
        max_downscale: on a canvas of the frame's own aspect, a frame is shrunk at most this much: larger
            frames get a larger canvas, up to `max_input_size` (None: always `input_size`).
    """

    def __init__(
        self,
        backend: InferenceBackend,
        conf_threshold: float = 0.35,
        iou_threshold: float = 0.5,
        input_size: int = 640,
        classes: list[int] | None = None,
        agnostic: bool = False,
        canvas_shrink: float = 0.03,
        max_downscale: float | None = None,
        max_input_size: int = 1024,
    ) -> None:
        self.backend = backend
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.agnostic = agnostic
        metadata = getattr(backend, "metadata", None) or {}
        self.raw_head = metadata.get(RAW_HEAD_KEY) == RAW_HEAD_VALUE
        h, w = backend.input_shape[2:4]
        self.input_hw = (h if h > 0 else input_size, w if w > 0 else input_size)
        if h <= 0 and w <= 0:  # any input size: each frame on a canvas of its own aspect
            # strides 8, 16, 32 (64 for a P6 model): canvas sides in multiples of the largest
            strides = (len(getattr(backend, "output_shapes", None) or []) // 2 if self.raw_head else 0) or 3
            self.letterbox: Letterbox | RectLetterbox = RectLetterbox(
                input_size,
                stride=4 * 2**strides,
                max_shrink=canvas_shrink,
                max_downscale=max_downscale,
                max_size=max_input_size,
            )
        else:
            self.letterbox = Letterbox(self.input_hw, center=True)
        self.class_names = _class_names(backend)
        self.classes = None if classes is None else np.asarray(classes)

    def __call__(self, image: np.ndarray) -> Detections:
        canvas, info = self.letterbox(image)
        outs = self.backend(to_nchw(canvas, self.backend.input_dtype))
        if self.raw_head:
            return self.decode_raw(outs, info, image.shape[:2], canvas.shape[0])
        return self.decode(outs[0], info, image.shape[:2])

    def decode_raw(
        self, outs: list[np.ndarray], info, image_hw: tuple[int, int], canvas_h: int
    ) -> Detections:
        """Decode per-stride (box bins, class logits) pairs: DFL expectation around each cell's centre."""
        c = min(max(self.conf_threshold, 1e-7), 1 - 1e-7)
        min_logit = np.log(c / (1 - c))
        parts = []
        for box, cls in zip(outs[0::2], outs[1::2], strict=True):
            nc, gh, gw = cls.shape[1:]
            logits = np.asarray(cls[0], dtype=np.float32).reshape(nc, -1)
            class_id, best = logits.argmax(axis=0), logits.max(axis=0)
            mask = best > min_logit
            if self.classes is not None:
                mask &= np.isin(class_id, self.classes)
            cells = np.nonzero(mask)[0]
            if not len(cells):
                continue
            bins = np.asarray(box[0], dtype=np.float32).reshape(4, DFL_BINS, -1)[:, :, cells]
            bins = np.exp(bins - bins.max(axis=1, keepdims=True))
            dist = (bins * np.arange(DFL_BINS, dtype=np.float32)[None, :, None]).sum(axis=1) / bins.sum(
                axis=1
            )
            cy, cx = np.divmod(cells, gw)
            cx, cy = cx + 0.5, cy + 0.5
            stride = canvas_h / gh
            xyxy = np.stack([cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3]], axis=1) * stride
            score = 1.0 / (1.0 + np.exp(-best[cells]))
            parts.append((xyxy.astype(np.float32), score.astype(np.float32), class_id[cells]))
        if not parts:
            return Detections.empty()
        xyxy, score, class_id = (np.concatenate(p) for p in zip(*parts, strict=True))
        return self._finish(xyxy, score, class_id, info, image_hw)

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
        return self._finish(xyxy, score, class_id, info, image_hw)

    def _finish(
        self, xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray, info, image_hw: tuple[int, int]
    ) -> Detections:
        """NMS, then input px -> frame px (undo the letterbox), clipped to the frame."""
        keep = nms(xyxy, score, self.iou_threshold, None if self.agnostic else class_id)
        xyxy = xyxy[keep]
        xyxy -= np.array([info.pad_x, info.pad_y, info.pad_x, info.pad_y], dtype=np.float32)
        xyxy /= info.ratio
        h, w = image_hw
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        return Detections(xyxy, score[keep], class_id[keep])
