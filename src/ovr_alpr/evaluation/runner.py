"""Runs `Alpr` over a labelled image set and scores every labelled plate (see `metrics` for the rules)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ..pipeline.alpr import Alpr
from ..pipeline.config import AppConfig
from .datasets import LabelledImage, load_dataset
from .metrics import (
    CONFIDENCE_THRESHOLDS,
    MISS_CAUSES,
    PlateOutcome,
    Tally,
    char_confusions,
    miss_cause,
    pick_reads,
    reads_by_confidence,
)

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Figures of one evaluation run.

    Attributes:
        dataset: the folder evaluated.
        tally: counts behind the rates.
        outcomes: one per labelled plate, in dataset order.
        image_ms: wall time of `Alpr.read` per image, ms (image decoding from disk excluded).
        stages: the reader's per-stage timer summary (p50/p95/mean ms).
        skipped_images: images that could not be decoded (not scored; their labels not counted).
        min_confidence: the configured `ocr.min_confidence` (a video track's read below it is not
            published), for the reads-by-confidence summary.
    """

    dataset: str
    tally: Tally
    outcomes: list[PlateOutcome] = field(default_factory=list)
    image_ms: list[float] = field(default_factory=list)
    stages: dict[str, Any] = field(default_factory=dict)
    skipped_images: list[str] = field(default_factory=list)
    min_confidence: float | None = None

    @property
    def misses(self) -> list[PlateOutcome]:
        """Text-labelled plates not read exactly."""
        return [o for o in self.outcomes if o.has_text and not o.correct]

    @property
    def ms_per_image(self) -> float:
        return float(np.mean(self.image_ms)) if self.image_ms else 0.0

    def to_dict(self) -> dict[str, Any]:
        """All figures; rates are 0..1, None where undefined (e.g. no text labels: no exact match/CER)."""
        t = self.tally
        return {
            "dataset": self.dataset,
            "n": t.images,
            "labels": t.labels,
            "text_labels": t.text_labels,
            "exact_match": _round(t.exact_match),
            "exact_match_confusable": _round(t.exact_match_confusable),
            "detection_recall": _round(t.detection_recall),
            "detection_precision": _round(t.detection_precision),
            "detection_recall_by_size": t.by_size.to_dict(),
            "cer": _round(t.cer),
            "ms_per_image": round(self.ms_per_image, 2),
            "p50_ms_per_image": round(float(np.percentile(self.image_ms, 50)), 2) if self.image_ms else 0.0,
            "stages": self.stages,
            "skipped_images": self.skipped_images,
            "misses": [
                {
                    "file": o.file,
                    "expected": o.expected,
                    "read": o.read,
                    "detected": o.detected,
                    "cause": miss_cause(o.read, o.expected, o.detected),
                }
                for o in self.misses
            ],
            "miss_causes": {
                c: sum(miss_cause(o.read, o.expected, o.detected) == c for o in self.misses)
                for c in MISS_CAUSES
            },
            "min_confidence": self.min_confidence,
            "reads_by_confidence": reads_by_confidence(
                self.outcomes,
                sorted({*CONFIDENCE_THRESHOLDS, *([self.min_confidence] if self.min_confidence else [])}),
            ),
            "char_confusions": [
                {"label": a, "read": b, "count": n}
                for (a, b), n in char_confusions(
                    [(o.expected, o.read) for o in self.misses if o.detected and o.read]
                ).items()
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def evaluate(dataset: str | Path, cfg: AppConfig, limit: int = 0, progress: bool = True) -> EvalResult:
    """Reads every image of `dataset` (openalpr or YOLO layout) and scores the reads against the labels.

    An image that cannot be decoded is skipped with a warning and listed in `skipped_images`.

    Raises:
        ConfigError: the folder is missing or holds no labelled images.
    """
    samples = load_dataset(dataset, limit=limit)
    root = Path(dataset).expanduser()
    alpr = Alpr(cfg)
    alpr.timer.reset()
    result = EvalResult(str(dataset), Tally(), min_confidence=cfg.ocr.min_confidence)
    for sample in tqdm(samples, desc="eval", unit="img", disable=not progress, leave=False):
        image = cv2.imread(str(sample.image_path), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("cannot decode image %s; skipped (not scored)", sample.image_path)
            result.skipped_images.append(str(sample.image_path))
            continue
        t0 = time.perf_counter()
        reads = alpr.read(image)
        result.image_ms.append((time.perf_counter() - t0) * 1000.0)
        outcomes = score_image(sample, reads, root)
        result.tally.add(outcomes, len(reads))
        result.outcomes.extend(outcomes)
    result.stages = alpr.timer.summary()["stages"]
    return result


def score_image(sample: LabelledImage, reads: list, root: Path | None = None) -> list[PlateOutcome]:
    """One `PlateOutcome` per labelled box of `sample`, given the `PlateRead`s of its image.

    `file` is the image path relative to `root` (the dataset folder) when given, else its name.
    """
    file = Path(sample.image_path.name)
    if root is not None and sample.image_path.is_relative_to(root):
        file = sample.image_path.relative_to(root)
    pred_xyxy = np.array([r.xyxy for r in reads], dtype=np.float32).reshape(-1, 4)
    pred_conf = np.array([r.detection_confidence for r in reads], dtype=np.float32)
    texts = [r.text for r in reads]
    box_match, text_pick = pick_reads(pred_xyxy, pred_conf, texts, sample.boxes)
    outcomes = []
    for j, label_box in enumerate(sample.boxes):
        k = int(text_pick[j])
        outcomes.append(
            PlateOutcome(
                file=file.as_posix(),
                expected=sample.texts[j],
                read=texts[k] if k >= 0 else "",
                detected=bool(box_match[j] >= 0),
                label_xyxy=tuple(float(v) for v in label_box),
                read_xyxy=tuple(float(v) for v in pred_xyxy[k]) if k >= 0 else None,
                confidence=float(reads[k].confidence) if k >= 0 else None,
            )
        )
    return outcomes
