"""Detection and OCR accuracy measures used by `ovr-alpr validate`: AP at IoU 0.5, recall, exact match."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detect.ops import iou_matrix
from ..evaluation.metrics import match_boxes
from ..plate_text.text import normalize_text as normalise_plate

__all__ = ["DetectionTally", "average_precision", "iou_matrix", "match_detections", "normalise_plate"]


def match_detections(
    det_xyxy: np.ndarray, det_conf: np.ndarray, gt_xyxy: np.ndarray, iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy COCO-style matching, most confident detection first (`evaluation.metrics.match_boxes`).

    Returns:
        tp: bool (N,) per detection (in the order given), True when it matched a still-unmatched label.
        matched_conf: float (M,) per label, confidence of the detection that matched it (-1 = none).
    """
    det_conf = np.asarray(det_conf, dtype=np.float32).reshape(-1)
    matched = match_boxes(det_xyxy, det_conf, gt_xyxy, iou_threshold)
    tp = np.zeros(len(det_conf), dtype=bool)
    tp[matched[matched >= 0]] = True
    matched_conf = np.full(len(matched), -1.0, dtype=np.float32)
    matched_conf[matched >= 0] = det_conf[matched[matched >= 0]]
    return tp, matched_conf


def average_precision(conf: np.ndarray, tp: np.ndarray, n_labels: int) -> float:
    """Area under the interpolated precision/recall curve, sampled at 101 recall points (as COCO)."""
    if n_labels == 0:
        return float("nan")
    if len(conf) == 0:
        return 0.0
    order = np.argsort(-conf, kind="stable")
    tp_sorted = tp[order].astype(np.float64)
    tp_cum = np.cumsum(tp_sorted)
    fp_cum = np.cumsum(1.0 - tp_sorted)
    recall = tp_cum / n_labels
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1e-9)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, points, side="left")
    sampled = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(sampled.mean())


@dataclass
class DetectionTally:
    """Accumulates detections and labels over a dataset, per class."""

    conf: list[np.ndarray]
    tp: list[np.ndarray]
    cls: list[np.ndarray]
    label_cls: list[np.ndarray]
    label_hit_conf: list[np.ndarray]

    @classmethod
    def new(cls) -> DetectionTally:
        return cls([], [], [], [], [])

    def add(
        self,
        det_xyxy: np.ndarray,
        det_conf: np.ndarray,
        det_cls: np.ndarray,
        gt_xyxy: np.ndarray,
        gt_cls: np.ndarray,
        iou_threshold: float = 0.5,
    ) -> None:
        det_tp = np.zeros(len(det_xyxy), dtype=bool)
        hit = np.full(len(gt_xyxy), -1.0, dtype=np.float32)
        for c in np.union1d(np.unique(det_cls), np.unique(gt_cls)):
            d_sel, g_sel = det_cls == c, gt_cls == c
            tp, matched = match_detections(det_xyxy[d_sel], det_conf[d_sel], gt_xyxy[g_sel], iou_threshold)
            det_tp[d_sel] = tp
            hit[g_sel] = matched
        self.conf.append(np.asarray(det_conf, dtype=np.float32))
        self.tp.append(det_tp)
        self.cls.append(np.asarray(det_cls, dtype=np.int64))
        self.label_cls.append(np.asarray(gt_cls, dtype=np.int64))
        self.label_hit_conf.append(hit)

    def map50(self) -> float:
        """Mean over labelled classes of AP at IoU 0.5."""
        conf, tp, cls = (np.concatenate(x) if x else np.empty(0) for x in (self.conf, self.tp, self.cls))
        label_cls = np.concatenate(self.label_cls) if self.label_cls else np.empty(0, dtype=np.int64)
        aps = [
            average_precision(conf[cls == c], tp[cls == c].astype(bool), int((label_cls == c).sum()))
            for c in np.unique(label_cls)
        ]
        return float(np.mean(aps)) if aps else float("nan")

    def recall(self, conf_threshold: float) -> float:
        """Fraction of labels matched (IoU >= 0.5) by a detection scoring at least `conf_threshold`."""
        hits = np.concatenate(self.label_hit_conf) if self.label_hit_conf else np.empty(0)
        return float((hits >= conf_threshold).mean()) if len(hits) else float("nan")
