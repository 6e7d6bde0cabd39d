"""Accuracy and latency of one model at several precisions, side by side (`ovr-alpr validate`).

Plate detector: mAP50 over the dataset and recall at IoU 0.5 at the configured confidence threshold.
Vehicle detector: the same against labels (YOLO layout), or against the FP32 model's own detections when
the dataset has no vehicle labels (openalpr). OCR: exact match of reads of the labelled plate crops.
`ms` is the median time of the model call alone (no pre/post-processing) per image. For OCR, `read_ms`
is the mean wall time of a whole read per crop as the pipeline reads it: pre/post-processing and the second
opinion's calls on unsure crops included (a mean, because the second opinion runs on few crops).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, ModelError
from ..evaluation.datasets import LabelledImage, load_dataset
from ..imaging import crop_box
from ..pipeline.config import AppConfig
from .calibrate import with_synthetic_calibration
from .inventory import role_default_path, role_model_config
from .metrics import DetectionTally, normalise_plate

log = logging.getLogger(__name__)

# mAP needs the low-score tail of the precision/recall curve, so detections are kept down to this score
MAP_CONF_THRESHOLD = 0.01
MAIN_METRIC = {"plate": "map50", "vehicle": "map50", "ocr": "exact"}


class TimedBackend:
    """Wraps a backend and records the wall and process-CPU time of each model call (ms).

    CPU time (all threads of this process) is steadier than wall time on a machine shared with other work;
    with one intra-op thread it is the model's compute time.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.calls_ms: list[float] = []
        self.cpu_ms: list[float] = []

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        c0, t0 = time.process_time(), time.perf_counter()
        out = self._backend(batch)
        self.calls_ms.append((time.perf_counter() - t0) * 1000.0)
        self.cpu_ms.append((time.process_time() - c0) * 1000.0)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@dataclass
class PrecisionResult:
    precision: str
    metrics: dict[str, float]
    ms: float
    cpu_ms: float = float("nan")
    backend: str = "-"
    provider: str = "-"
    file: str = "-"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    reads: list[dict[str, Any]] = field(default_factory=list)  # OCR: each crop's read (not in as_dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _round(v) for k, v in self.metrics.items()}
        out["ms"] = _round(self.ms, 2)
        out["cpu_ms"] = _round(self.cpu_ms, 2)
        out.update(backend=self.backend, provider=self.provider, file=self.file)
        if self.error:
            out["error"] = self.error
        return out


def _round(value: float, digits: int = 4) -> float | None:
    return (
        None
        if value is None or (isinstance(value, float) and np.isnan(value))
        else round(float(value), digits)
    )


def _detector(role: str, app: AppConfig, backend: Any, conf: float) -> Any:
    if role == "plate":  # as the pipeline builds it (input size, canvas), at the scoring threshold
        from ..detect.plates import build_plate_detector

        return build_plate_detector(
            app.plate_detector.model_copy(update={"conf_threshold": conf}), backend=backend
        )
    vcfg = app.vehicle_detector
    assert vcfg is not None
    fmt = vcfg.format
    if fmt == "auto":
        fmt = (
            "yolox"
            if backend.input_shape[-1] == 416 and not getattr(backend, "class_names", None)
            else "yolov8"
        )
    if fmt == "yolox":
        from ..detect.yolox import YoloxDetector

        return YoloxDetector(
            backend, conf_threshold=conf, iou_threshold=vcfg.iou_threshold, classes=vcfg.classes
        )
    from ..detect.yolo import YoloDetector

    return YoloDetector(
        backend,
        conf_threshold=conf,
        iou_threshold=vcfg.iou_threshold,
        classes=list(vcfg.classes),
        canvas_shrink=vcfg.model.canvas_shrink,
    )


def _run_detector(
    detector: Any,
    images: list[np.ndarray],
    samples: list[LabelledImage],
    labels: list[tuple[np.ndarray, np.ndarray]] | None,
    op_conf: float,
    progress: Any = None,
) -> tuple[dict[str, float], list[Any]]:
    tally = DetectionTally.new()
    all_dets = []
    for i, (sample, image) in enumerate(zip(samples, images, strict=True)):
        dets = detector(image)
        all_dets.append(dets)
        gt_boxes, gt_cls = labels[i] if labels is not None else (sample.boxes, sample.class_ids)
        det_cls = dets.class_id if labels is not None else np.zeros(len(dets), dtype=np.int64)
        if labels is None:  # plate labels are class 0 whatever the detector's class ids
            gt_cls = np.zeros(len(gt_boxes), dtype=np.int64)
        tally.add(dets.xyxy, dets.confidence, det_cls, gt_boxes, gt_cls)
        if progress is not None:
            progress.update(1)
    return {"map50": tally.map50(), "recall": tally.recall(op_conf)}, all_dets


def _run_ocr(
    reader: Any,
    images: list[np.ndarray],
    samples: list[LabelledImage],
    progress: Any = None,
    reads: list[dict[str, Any]] | None = None,
) -> dict[str, float]:
    """Exact match of the reader on each labelled plate's crop; each crop's read appended to `reads`."""
    total = correct = loose = 0
    read_ms: list[float] = []
    alike = str.maketrans("OI", "01")  # many plate fonts draw O/0 and I/1 alike
    for sample, image in zip(samples, images, strict=True):
        for box, text in zip(sample.boxes, sample.texts, strict=True):
            truth = normalise_plate(text)
            if not truth:
                continue
            crop = crop_box(image, box)
            if crop.size == 0:
                continue
            total += 1
            t0 = time.perf_counter()
            plate = reader.read(crop)
            read_ms.append((time.perf_counter() - t0) * 1000.0)
            read = plate.text
            exact, alike_exact = read == truth, read.translate(alike) == truth.translate(alike)
            correct += int(exact)
            loose += int(alike_exact)
            if reads is not None:
                reads.append(
                    {
                        "image": str(sample.image_path),
                        "truth": truth,
                        "read": read,
                        "confidence": _round(plate.confidence, 3),
                        "exact": exact,
                        "exact_o0_i1": alike_exact,
                    }
                )
        if progress is not None:
            progress.update(1)
    if total == 0:
        raise ConfigError(
            "the dataset has no plate texts to read", "OCR validation needs openalpr-style labels"
        )
    return {
        "exact": correct / total,
        "exact_o0_i1": loose / total,
        "reads": float(total),
        "read_ms": float(np.mean(read_ms)),
    }


@dataclass
class _Validation:
    """What the runs at each precision share; `reference` and `pseudo_labels` are set by the FP32 run."""

    app: AppConfig
    role: str
    samples: list[LabelledImage]
    images: list[np.ndarray]
    cache: Path
    backend: str | None
    metric: str
    reference: str = "labels"
    pseudo_labels: list[tuple[np.ndarray, np.ndarray]] | None = None


def validate(
    app: AppConfig,
    role: str,
    precisions: list[str],
    dataset: str | Path,
    limit: int = 0,
    cache_dir: Path | None = None,
    progress: bool = True,
    backend: str | None = None,
) -> dict[str, Any]:
    """Evaluate `role`'s configured model at each precision on `dataset`.

    Args:
        backend: run with this backend instead of the configured one (any registered name, e.g. `torch`).

    Returns:
        `{"model", "dataset", "images", "reference", "metric", "results": {precision: {...}}}`; metrics are
        fractions 0-1, `delta_pts` is the change vs FP32 in percentage points.
    """
    base_cfg = role_model_config(app, role)
    if base_cfg is None:
        raise ConfigError(f"the config has no {role} model", "add vehicle_detector.model to the config")
    order = _precision_order(precisions)
    samples = load_dataset(dataset, limit=limit)
    run = _Validation(
        app, role, samples, _read_images(samples), cache_dir or app.cache_path, backend, MAIN_METRIC[role]
    )
    results = {p: _validate_precision(run, base_cfg, p, progress) for p in order}
    return {
        "model": role,
        "dataset": str(dataset),
        "images": len(samples),
        "reference": run.reference,
        "metric": run.metric,
        "results": _with_deltas(results, run.metric),
        "reads": {p: r.reads for p, r in results.items() if r.reads},
    }


READ_COLUMNS = ("precision", "image", "truth", "read", "confidence", "exact", "exact_o0_i1")


def write_reads(reads: dict[str, list[dict[str, Any]]], path: Path) -> int:
    """Each crop's read of an OCR validation (a report's `reads`, by precision) as CSV rows of `READ_COLUMNS`;
    the count."""
    import csv

    rows = [{"precision": p, **r} for p, crops in reads.items() for r in crops]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=READ_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _precision_order(precisions: list[str]) -> list[str]:
    """The precisions asked for, checked, fp32 first: it is the reference (reported even if not asked)."""
    wanted = [p.strip().lower() for p in precisions if p.strip()]
    bad = [p for p in wanted if p not in ("fp32", "fp16", "int8")]
    if bad:
        raise ConfigError(f"unknown precision(s) {bad}", "use fp32, fp16, int8 (comma separated)")
    return ["fp32", *[p for p in dict.fromkeys(wanted) if p != "fp32"]]


def _read_images(samples: list[LabelledImage]) -> list[np.ndarray]:
    """Every image decoded once, up front, so the runs time the model and not the decoder."""
    images = []
    for s in samples:
        img = cv2.imread(str(s.image_path))
        if img is None:
            raise ConfigError(f"cannot read image {s.image_path}", "check the dataset files")
        images.append(img)
    return images


def _validate_precision(run: _Validation, base_cfg: Any, precision: str, progress: bool) -> PrecisionResult:
    """Load the model at `precision` and measure it; a load failure is a result, except for FP32."""
    from tqdm import tqdm

    update: dict[str, Any] = {"precision": precision}
    if run.backend:  # not validated: lets registered backends outside the config's list run
        update["backend"] = run.backend
    cfg = with_synthetic_calibration(base_cfg.model_copy(update=update), run.role, run.cache)
    bar = tqdm(
        total=len(run.samples), desc=f"{run.role} {precision}", unit="img", disable=not progress, leave=False
    )
    try:
        loaded, reader, second = _load(run, cfg)
    except ModelError as exc:
        bar.close()
        if precision == "fp32":
            raise
        log.warning("%s %s: %s", run.role, precision, exc.one_line())
        return PrecisionResult(precision, {run.metric: float("nan")}, float("nan"), error=exc.message)
    try:
        reads: list[dict[str, Any]] = []
        if reader is not None:
            metrics = _run_ocr(reader, run.images, run.samples, bar, reads)
        else:
            metrics = _measure_detector(run, loaded, precision, bar)
        return PrecisionResult(
            precision,
            metrics,
            float(np.median(loaded.calls_ms)) if loaded.calls_ms else float("nan"),
            float(np.median(loaded.cpu_ms)) if loaded.cpu_ms else float("nan"),
            loaded.name,
            loaded.provider,
            str(loaded.model_path),
            reads=reads,
        )
    finally:
        bar.close()
        loaded.close()
        if second is not None:
            second.close()


def _load(run: _Validation, cfg: Any) -> tuple[TimedBackend, Any, Any]:
    """The model loaded and timed; for OCR also the reader as the pipeline runs it (with its second opinion,
    at the same precision) and the second model's backend (None for detectors or without one)."""
    from ..runtime.backends.base import load_backend

    default = role_default_path(run.role, cfg, run.app)
    timed = TimedBackend(load_backend(cfg, run.role, default, warmup=True, cache_dir=run.cache))
    if run.role != "ocr":
        return timed, None, None
    from ..ocr import make_reader, second_opinion

    try:
        reader, second = second_opinion(make_reader(run.app.ocr, timed), run.app.ocr, cfg, run.cache)
    except ModelError:
        timed.close()
        raise
    return timed, reader, second


def _measure_detector(run: _Validation, timed: TimedBackend, precision: str, bar: Any) -> dict[str, float]:
    """mAP50/recall of the detector against labels or FP32's detections."""
    op_conf = (
        run.app.plate_detector.conf_threshold
        if run.role == "plate"
        else run.app.vehicle_detector.conf_threshold  # type: ignore[union-attr]
    )
    detector = _detector(run.role, run.app, timed, MAP_CONF_THRESHOLD)
    labels = None
    if run.role == "vehicle":
        if precision == "fp32" and not _has_vehicle_labels(run.samples):
            run.reference = "fp32 detections"
        labels = (
            run.pseudo_labels if run.reference != "labels" else [(s.boxes, s.class_ids) for s in run.samples]
        )
    metrics, dets = _run_detector(detector, run.images, run.samples, labels, op_conf, bar)
    if run.role == "vehicle" and run.reference != "labels" and precision == "fp32":
        run.pseudo_labels = [
            (d.xyxy[d.confidence >= op_conf], d.class_id[d.confidence >= op_conf]) for d in dets
        ]
        metrics, _ = _run_detector(detector, run.images, run.samples, run.pseudo_labels, op_conf)
    return metrics


def _with_deltas(results: dict[str, PrecisionResult], metric: str) -> dict[str, dict[str, Any]]:
    """Each result as a dict with `delta_pts`, its main metric's change vs FP32 in percentage points."""
    ref_value = results["fp32"].metrics.get(metric, float("nan"))
    out_results = {}
    for precision, result in results.items():
        res = result.as_dict()
        value = result.metrics.get(metric, float("nan"))
        res["delta_pts"] = _round((value - ref_value) * 100.0, 2)
        out_results[precision] = res
    return out_results


def _has_vehicle_labels(samples: list[LabelledImage]) -> bool:
    """openalpr labels are plates (they carry texts); YOLO-layout labels are taken as detector classes."""
    return any(len(s.boxes) for s in samples) and not any(t for s in samples for t in s.texts)


def check_budget(report: dict[str, Any], budget_pts: float) -> list[str]:
    """Precisions whose main metric fell more than `budget_pts` percentage points below FP32 (or failed)."""
    failed = []
    for precision, res in report["results"].items():
        if precision == "fp32":
            continue
        delta = res.get("delta_pts")
        if res.get("error") or delta is None or delta < -budget_pts:
            failed.append(precision)
    return failed


def format_report(report: dict[str, Any], budget_pts: float) -> str:
    role = report["model"]
    cols = ["map50", "recall"] if role != "ocr" else ["exact", "exact_o0_i1"]
    times = {"ms": "ms/img", "cpu_ms": "cpu ms/img"}
    if role == "ocr":  # the whole read per crop, second opinion included
        times["read_ms"] = "read ms/crop"
    header = ["precision", *cols, "Δ vs fp32 (pts)", *times.values(), "backend", "provider"]
    rows = []
    for precision, res in report["results"].items():
        vals = [f"{res[c] * 100:.2f}%" if res.get(c) is not None else "n/a" for c in cols]
        delta = res.get("delta_pts")
        mark = "" if precision == "fp32" or (delta is not None and delta >= -budget_pts) else "  FAIL"
        rows.append(
            [
                precision,
                *vals,
                ("-" if precision == "fp32" else f"{delta:+.2f}" if delta is not None else "n/a") + mark,
                *(f"{res[k]:.1f}" if res.get(k) is not None else "n/a" for k in times),
                res.get("backend", "-"),
                res.get("provider", "-") if not res.get("error") else f"error: {res['error'][:70]}",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [
        f"{role} model on {report['dataset']} ({report['images']} images; reference: {report['reference']}; "
        f"budget {budget_pts:g} pts of {report['metric']})"
    ]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
