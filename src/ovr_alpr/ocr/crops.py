"""Plate crops for OCR and their quality score (size, sharpness)."""

from __future__ import annotations

import cv2
import numpy as np


def crop_plate(image: np.ndarray, xyxy: np.ndarray, pad_x: float = 0.04, pad_y: float = 0.10) -> np.ndarray:
    """Cut a plate box out of a frame with a small margin (the recogniser reads better with one)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    bw, bh = x2 - x1, y2 - y1
    cx1, cy1 = int(max(0, x1 - pad_x * bw)), int(max(0, y1 - pad_y * bh))
    cx2, cy2 = int(min(w, x2 + pad_x * bw + 0.5)), int(min(h, y2 + pad_y * bh + 0.5))
    return image[cy1 : max(cy2, cy1 + 1), cx1 : max(cx2, cx1 + 1)]


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop (higher = sharper)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def quality_score(
    crop: np.ndarray, detection_confidence: float, full_width_px: float = 160.0, full_sharpness: float = 400.0
) -> float:
    """0..1 score of how good a shot of a plate is: width (saturating at `full_width_px`),
    sharpness (saturating at `full_sharpness`) and detector confidence, multiplied."""
    width = min(crop.shape[1] / full_width_px, 1.0)
    sharp = min(sharpness(crop) / full_sharpness, 1.0)
    return float(width * (0.5 + 0.5 * sharp) * (0.5 + 0.5 * detection_confidence))
