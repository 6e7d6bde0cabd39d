"""Named benchmark configurations and the runners that measure them on one clip, one after another.

Every run reads the same first `frames` frames of the clip and reports:

- `fps`: clip frames consumed per second of wall time (skipped frames count: it is the video rate the
  configuration keeps up with), `processed_fps`: frames actually analysed per second;
- `stages`: per-stage p50/p95/mean ms per call from the run's `StageTimer`, and `stage_ms_per_frame`
  (a stage's total time / frames processed: what it costs per frame, however often it runs);
- `ocr_calls`, `ocr_calls_per_vehicle` (vehicles from the clip's manifest, else the tracks counted);
- `cpu_percent`: process CPU time / wall time over the run (100 = one core busy);
- `peak_rss_mb`: the process's highest resident memory sampled during the run (models of earlier runs are
  released first, but the interpreter rarely returns freed memory, so later runs read a little high);
- `plates_read`: manifest plates whose text was read exactly at least once (accuracy check), when known;
- `detection_recall`, `detection_recall_by_size`: of the manifest's plate boxes in the frames the pipeline
  ran its plate detector on, those it found at IoU >= 0.5, overall and by plate size
  (`evaluation.metrics.SIZE_BUCKETS`), when the manifest is known.
"""

from __future__ import annotations

import gc
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psutil

from ..errors import ConfigError, SourceError
from ..evaluation.metrics import SizeRecall, match_boxes
from ..pipeline.config import AppConfig, load_config
from ..plate_text.text import normalize_text
from ..synth.clip import ClipManifest
from ..timing import StageTimer
from ..tools.calibrate import with_int8_calibration

log = logging.getLogger(__name__)

#: Stages in the order they run, as reported.
STAGES = ("decode", "vehicle_detect", "plate_detect", "track", "ocr", "events", "publish")


@dataclass(frozen=True)
class RunSpec:
    """One named configuration.

    Attributes:
        name: the word given to `--compare`.
        kind: `stock` (platedet + RapidOCR every frame), `pipeline` (ours) or `decode` (decode only).
        overrides: dotted config keys applied on top of the user's config.
        frame_skip: the camera's frame_skip.
        description: one line for the table and the JSON.
    """

    name: str
    kind: str
    overrides: dict[str, Any] = field(default_factory=dict)
    frame_skip: int = 0
    description: str = ""


NAMED_RUNS: dict[str, RunSpec] = {
    spec.name: spec
    for spec in (
        RunSpec("stock", "stock", description="platedet + RapidOCR (det+rec) on every plate of every frame"),
        RunSpec("default", "pipeline", description="our pipeline, default config"),
        RunSpec(
            "platedet",
            "pipeline",
            {
                "plate_detector.type": "platedet",
                "plate_detector.model.path": None,
                "plate_detector.model.input_size": None,
            },
            description="the embedded platedet plate detector (YOLOv8s-seg, 640), whatever --config sets",
        ),
        RunSpec(
            "square",
            "pipeline",
            {"plate_detector.model.letterbox": "square"},
            description="plate detector on the export's square canvas, not the frame's aspect",
        ),
        RunSpec(
            "fp32", "pipeline", {"plate_detector.model.precision": "fp32"}, description="plate detector fp32"
        ),
        RunSpec(
            "fp16", "pipeline", {"plate_detector.model.precision": "fp16"}, description="plate detector fp16"
        ),
        RunSpec(
            "int8", "pipeline", {"plate_detector.model.precision": "int8"}, description="plate detector int8"
        ),
        RunSpec(
            "torch",
            "pipeline",
            {"plate_detector.model.backend": "torch", "ocr.model.backend": "torch"},
            description="both models through the torch backend",
        ),
        RunSpec(
            "cuda",
            "pipeline",
            {"plate_detector.model.device": "cuda:0", "ocr.model.device": "cuda:0"},
            description="both models on cuda:0, fastest GPU backend available",
        ),
        RunSpec(
            "dense",
            "pipeline",
            {"quality.adaptive_sampling": False},
            description="every frame detected, also while every tracked plate is read",
        ),
        RunSpec("skip1", "pipeline", frame_skip=1, description="every 2nd frame"),
        RunSpec("skip2", "pipeline", frame_skip=2, description="every 3rd frame"),
        RunSpec("decode_only", "decode", description="decode only: the ceiling"),
    )
}


def parse_compare(text: str) -> list[RunSpec]:
    """`stock,default` -> their specs, `decode_only` first (always included).

    Raises:
        ConfigError: an unknown name.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMED_RUNS]
    if unknown:
        raise ConfigError(
            f"unknown benchmark configuration(s): {', '.join(unknown)}",
            f"choose from: {', '.join(NAMED_RUNS)}",
        )
    ordered = ["decode_only", *dict.fromkeys(n for n in names if n != "decode_only")]
    return [NAMED_RUNS[n] for n in ordered]


@dataclass
class Clip:
    """The video under test and what is known about it."""

    path: Path
    frames: int  # clip frames each run reads
    manifest: ClipManifest | None = None

    @property
    def vehicles(self) -> int | None:
        """Vehicles whose plate is wholly in view within the frames read, when the manifest is known."""
        if self.manifest is None:
            return None
        return sum(1 for v in self.manifest.vehicles if any(f < self.frames for f in v.plate_boxes_xyxy))

    @property
    def plate_texts(self) -> set[str]:
        if self.manifest is None:
            return set()
        return {
            v.plate_text for v in self.manifest.vehicles if any(f < self.frames for f in v.plate_boxes_xyxy)
        }


def clip_frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise SourceError(f"cannot read video {path}", "check that it plays (ffprobe FILE)")
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


# ---------------------------------------------------------------- resource use


class ResourceMeter:
    """CPU % and peak RSS of this process over a block, sampled by a background thread every `interval_s`."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.process = psutil.Process()
        self.peak_rss = 0
        self.cpu_percent = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    @contextmanager
    def measure(self) -> Iterator[ResourceMeter]:
        self._stop.clear()
        self.peak_rss = self.process.memory_info().rss
        cpu0, t0 = self.process.cpu_times(), time.perf_counter()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            cpu1, wall = self.process.cpu_times(), max(time.perf_counter() - t0, 1e-9)
            busy = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            self.cpu_percent = 100.0 * busy / wall
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)


# ---------------------------------------------------------------- runners


def _finish(
    entry: dict[str, Any],
    clip: Clip,
    wall_s: float,
    processed: int,
    meter: ResourceMeter,
    timer: StageTimer | None,
    ocr_calls: int | None,
    tracks: int | None,
) -> dict[str, Any]:
    entry.update(
        {
            "fps": round(clip.frames / wall_s, 2),
            "processed_fps": round(processed / wall_s, 2),
            "frames": clip.frames,
            "frames_processed": processed,
            "wall_s": round(wall_s, 3),
            "cpu_percent": round(meter.cpu_percent, 1),
            "peak_rss_mb": round(meter.peak_rss / 2**20, 1),
        }
    )
    if timer is not None:
        stages = timer.summary()["stages"]
        entry["stages"] = {name: stages[name] for name in (*STAGES, *stages) if name in stages}
        # per-call p50s hide how rarely a stage runs (OCR once per track); this is its cost per frame
        entry["stage_ms_per_frame"] = {
            name: round(s["mean_ms"] * s["count"] / max(processed, 1), 3)
            for name, s in entry["stages"].items()
        }
    if ocr_calls is not None:
        entry["ocr_calls"] = ocr_calls
        vehicles = clip.vehicles if clip.vehicles else tracks
        entry["ocr_calls_per_vehicle"] = round(ocr_calls / vehicles, 2) if vehicles else None
    return entry


def run_decode_only(clip: Clip, cfg: AppConfig) -> dict[str, Any]:
    """Decode the clip with the pipeline's file source and nothing else: the fps ceiling."""
    from ..sources import open_source

    camera = cfg.cameras[0].model_copy(
        update={"source": str(clip.path), "frame_skip": 0, "target_fps": None, "loop": False}
    )
    timer = StageTimer()
    meter = ResourceMeter()
    source = open_source(camera, kind="file")
    frames = iter(source)
    processed = 0
    with meter.measure():
        t0 = time.perf_counter()
        while processed < clip.frames:
            with timer.stage("decode"):
                frame = next(frames, None)
            if frame is None:
                break
            processed += 1
        wall = time.perf_counter() - t0
    source.close()
    return _finish({}, clip, wall, processed, meter, timer, None, None)


class StockRunner:
    """The stock way of running the same models: platedet on every frame, RapidOCR (det + rec) on every
    plate crop; no tracking, no throttling."""

    def __init__(self, conf_threshold: float) -> None:
        from platedet import Platedet
        from rapidocr_onnxruntime import RapidOCR

        self.conf_threshold = conf_threshold
        self.detector = Platedet()
        self.ocr = RapidOCR()
        self.timer = StageTimer()
        self.ocr_calls = 0
        self.texts: dict[str, int] = {}

    def warmup(self, size: tuple[int, int]) -> None:
        blank = np.zeros((size[1], size[0], 3), np.uint8)
        self.detector.inference(blank, conf_threshold=self.conf_threshold, return_types=["boxes"])
        self.ocr(np.full((48, 160, 3), 255, np.uint8))

    def process(self, frame_bgr: np.ndarray) -> None:
        with self.timer.stage("plate_detect"):
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            found = self.detector.inference(rgb, conf_threshold=self.conf_threshold, return_types=["boxes"])
        boxes = found.get("boxes", {}).get("boxes", [])
        if not len(boxes):
            return
        with self.timer.stage("ocr"):
            for x1, y1, x2, y2 in boxes:
                crop = frame_bgr[max(0, y1) : y2, max(0, x1) : x2]
                if crop.size == 0:
                    continue
                result, _ = self.ocr(crop)
                self.ocr_calls += 1
                text = normalize_text("".join(r[1] for r in result or []))
                if text:
                    self.texts[text] = self.texts.get(text, 0) + 1


def run_stock(clip: Clip, cfg: AppConfig) -> dict[str, Any]:
    runner = StockRunner(cfg.plate_detector.conf_threshold)
    cap = cv2.VideoCapture(str(clip.path))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    runner.warmup(size)
    runner.timer.reset()
    meter = ResourceMeter()
    processed = 0
    with meter.measure():
        t0 = time.perf_counter()
        while processed < clip.frames:
            with runner.timer.stage("decode"):
                ok, frame = cap.read()
            if not ok:
                break
            runner.process(frame)
            runner.timer.count_frame()
            processed += 1
        wall = time.perf_counter() - t0
    cap.release()
    entry: dict[str, Any] = {"distinct_reads": len(runner.texts)}
    if clip.manifest is not None:
        entry["plates_read"] = len(clip.plate_texts & set(runner.texts))
    return _finish(entry, clip, wall, processed, meter, runner.timer, runner.ocr_calls, None)


class DetectionRecorder:
    """Scores the pipeline's plate detections against a clip's manifest, frame by frame.

    It wraps each camera worker's `process` (to know the frame index) and the finder's `detect_plates` (to
    see its boxes); frames the pipeline skips (frame_skip, idle sampling) are not scored.
    """

    def __init__(self, manifest: ClipManifest) -> None:
        self.manifest = manifest
        self.by_size = SizeRecall()
        self._frame: int | None = None

    def attach(self, pipeline: Any) -> None:
        for worker in pipeline._workers:
            worker.process = self._wrap_process(worker.process)
        pipeline.finder.detect_plates = self._wrap_detect(pipeline.finder.detect_plates)

    def _wrap_process(self, process: Callable) -> Callable:
        def wrapped(frame):
            self._frame = frame.index
            try:
                return process(frame)
            finally:
                self._frame = None

        return wrapped

    def _wrap_detect(self, detect: Callable) -> Callable:
        def wrapped(image, *args, **kwargs):
            plates = detect(image, *args, **kwargs)
            if self._frame is not None:
                self.score(self._frame, plates.xyxy, plates.confidence)
            return plates

        return wrapped

    def score(self, frame_index: int, xyxy: np.ndarray, confidence: np.ndarray) -> None:
        truth = self.manifest.plates_in_frame(frame_index)
        if not truth:
            return
        labels = np.array([box for _, box in truth], dtype=np.float32)
        matched = match_boxes(xyxy, confidence, labels)
        for box, m in zip(labels, matched, strict=True):
            self.by_size.add(float(box[2] - box[0]), bool(m >= 0))

    def figures(self) -> dict[str, Any]:
        labels = sum(self.by_size.labels.values())
        found = sum(self.by_size.detected.values())
        return {
            "detection_recall": round(found / labels, 4) if labels else None,
            "detection_recall_by_size": self.by_size.to_dict(),
        }


def run_pipeline(clip: Clip, cfg_path: Path | None, spec: RunSpec) -> dict[str, Any]:
    from ..pipeline import Pipeline

    with tempfile.TemporaryDirectory(prefix="ovr-alpr-bench-") as out_dir:
        overrides = {
            **spec.overrides,
            "output_dir": out_dir,
            "cameras": [{"id": "cam0", "source": str(clip.path), "frame_skip": spec.frame_skip}],
        }
        cfg = with_int8_calibration(load_config(cfg_path, overrides))
        pipeline = Pipeline(cfg, collect_events=True)
        entry: dict[str, Any] = {}
        describe = getattr(getattr(pipeline.finder.plate_detector, "backend", None), "describe", None)
        if describe is not None:  # which model file and precision actually ran
            model = describe()
            entry["plate_model"] = {k: model.get(k) for k in ("file", "provider", "precision")}
        recorder = DetectionRecorder(clip.manifest) if clip.manifest is not None else None
        if recorder is not None:
            recorder.attach(pipeline)
        max_frames = math.ceil(clip.frames / (spec.frame_skip + 1))
        meter = ResourceMeter()
        with meter.measure():
            t0 = time.perf_counter()
            result = pipeline.run(max_frames=max_frames)
            wall = time.perf_counter() - t0
        stats = result.stats
        texts = [e.plate.normalized_text for e in result.events]
        entry.update(
            {
                "events": len(texts),
                "event_texts": texts,
                "tracks": stats.get("tracks"),
                "ocr_calls_saved": stats.get("ocr_calls_saved"),
            }
        )
        if clip.manifest is not None:
            entry["plates_read"] = len(clip.plate_texts & set(texts))
        if recorder is not None:
            entry.update(recorder.figures())
        processed = stats.get("frames_processed", stats.get("frames", 0))
        return _finish(
            entry, clip, wall, processed, meter, pipeline.timer, stats.get("ocr_calls"), stats.get("tracks")
        )


def run_one(spec: RunSpec, clip: Clip, cfg: AppConfig, cfg_path: Path | None) -> dict[str, Any]:
    """Measure one configuration. A configuration that cannot be set up (e.g. int8 when the quantisation
    toolkit is not ready) yields `{"error": ...}` instead of stopping the comparison."""
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "decode": lambda: run_decode_only(clip, cfg),
        "stock": lambda: run_stock(clip, cfg),
        "pipeline": lambda: run_pipeline(clip, cfg_path, spec),
    }
    try:
        entry = runners[spec.kind]()
    except Exception as exc:  # recorded in the run's entry; the other runs go on
        message = exc.one_line() if hasattr(exc, "one_line") else f"{type(exc).__name__}: {exc}"
        log.warning("bench run %s failed: %s", spec.name, message, exc_info=log.isEnabledFor(logging.DEBUG))
        entry = {"error": " ".join(message.split())[:500]}
    finally:
        gc.collect()
    return {"description": spec.description, **entry}
