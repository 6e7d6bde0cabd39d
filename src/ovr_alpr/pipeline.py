"""Wires the stages: source -> (vehicles) -> plates -> track -> OCR once per track -> events -> sinks."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .config import AppConfig, CameraConfig
from .detect.plates import PlateFinder, build_finder
from .events.builder import EventBuilder
from .events.model import PlateEvent
from .ocr import PlateReader, build_reader
from .ocr.crops import crop_plate, quality_score
from .ocr.policy import OcrPolicy, Shot, TrackState
from .sinks.base import Sink
from .timing import StageTimer
from .track import Tracker, build_tracker
from .types import Detections, Frame

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """Run-wide counts reported in the stats."""

    frames: int = 0
    frames_blurred: int = 0
    frames_idle_skipped: int = 0
    plate_observations: int = 0
    ocr_calls: int = 0
    tracks: int = 0
    tracks_without_read: int = 0
    events: int = 0

    @property
    def ocr_calls_saved(self) -> int:
        """OCR calls a read-every-plate-every-frame pipeline would have made, minus the ones made."""
        return max(self.plate_observations - self.ocr_calls, 0)


@dataclass
class RunResult:
    events: list[PlateEvent] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Observation:
    track_id: int
    plate_xyxy: np.ndarray
    detection_confidence: float
    vehicle_type: str | None = None
    vehicle_xyxy: np.ndarray | None = None


class CameraWorker:
    """One camera: its source, its own tracker and per-track state."""

    def __init__(self, cam: CameraConfig, pipeline: Pipeline) -> None:
        from .sources import detect_kind, open_source

        self.cam = cam
        self.p = pipeline
        kind = detect_kind(cam.source)
        live_options = {"fail_fast": pipeline.cfg.fail_fast} if kind in ("stream", "camera") else {}
        self.source = open_source(cam, kind=kind, **live_options)
        self.live = hasattr(self.source, "next_frame")
        self.ended = False
        # Stills (snapshots): each image is a complete observation, read at once, ended with the image.
        self.stills = cam.stills if cam.stills is not None else self.source.kind == "images"
        nominal = self.source.stats.nominal_fps or 25.0
        fps = cam.target_fps or nominal / (cam.frame_skip + 1)
        self.tracker: Tracker = _StillTracker() if self.stills else build_tracker(pipeline.cfg.tracker, fps)
        self._stills_policy = (
            OcrPolicy(pipeline.cfg.ocr.model_copy(update={"min_track_frames": 1})) if self.stills else None
        )
        self.tracks: dict[int, TrackState] = {}
        self.step = 0  # processed frames, the tracker's clock
        self._frames: Iterator[Frame] = iter(self.source)

    @property
    def policy(self) -> OcrPolicy:
        """The OCR policy; stills read a plate in its first (only) frame."""
        return self._stills_policy or self.p.policy

    # ------------------------------------------------------------ per frame
    def next_frame(self, wait_s: float = 0.0) -> Frame | None:
        """The next frame, or None for none now; `ended` tells a file's end from a live stream's wait.

        A live camera is waited on for at most `wait_s`, so a dead one never holds up the others.
        """
        if self.live:
            return self.source.next_frame(timeout_s=wait_s)
        with self.p.timer.stage("decode"):
            frame = next(self._frames, None)
        self.ended = frame is None
        return frame

    def process(self, frame: Frame) -> list[PlateEvent]:
        cfg, c = self.p.cfg, self.p.counters
        idle = not self.tracks and not self.stills
        if cfg.quality.adaptive_sampling and idle and frame.index % cfg.quality.idle_stride:
            c.frames_idle_skipped += 1
            return []
        image, (ox, oy) = self._roi(frame.image)
        if cfg.quality.min_sharpness > 0 and _frame_sharpness(image) < cfg.quality.min_sharpness:
            c.frames_blurred += 1
            return []
        self.step += 1
        c.frames += 1
        observations = self._observe(image, ox, oy)
        published = self._update_tracks(frame, observations)
        published += self._end_lost_tracks(frame, all_tracks=self.stills)
        return published

    def _roi(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        if self.cam.roi is None:
            return image, (0, 0)
        x1, y1, x2, y2 = self.cam.roi
        h, w = image.shape[:2]
        if x1 >= w or y1 >= h:
            from .errors import ConfigError

            raise ConfigError(
                f"camera {self.cam.id}: roi {list(self.cam.roi)} lies outside its {w}x{h} frames",
                "set cameras[].roi inside the frame (x1, y1, x2, y2 in px)",
            )
        return image[y1:y2, x1:x2], (x1, y1)

    def _observe(self, image: np.ndarray, ox: int, oy: int) -> list[_Observation]:
        finder: PlateFinder = self.p.finder
        if finder.vehicle_detector is None:
            plates = finder.detect_plates(image)
            with self.p.timer.stage("track"):
                tracked = self.tracker.update(plates.with_offset(ox, oy) if (ox or oy) else plates)
            return [
                _Observation(int(t), tracked.xyxy[i], float(tracked.confidence[i]))
                for i, t in enumerate(tracked.tracker_id)
            ]
        # vehicle-first: track vehicles, search plates only in vehicles whose read is not final yet
        vehicles = finder.detect_vehicles(image)
        with self.p.timer.stage("track"):
            tracked_v = self.tracker.update(vehicles)
        for t in tracked_v.tracker_id:  # keep vehicle tracks alive even when no plate is seen
            state = self.tracks.get(int(t))
            if state is not None:
                state.last_seen_step = self.step
        pending = np.array(
            [not (s := self.tracks.get(int(t))) or not s.ocr_done for t in tracked_v.tracker_id], dtype=bool
        )
        search = tracked_v[pending] if len(tracked_v) else tracked_v
        plates = finder.detect_plates(image, search) if len(search) else Detections.empty()
        best: dict[int, _Observation] = {}
        names = getattr(finder.vehicle_detector, "class_names", {})
        off = np.array([ox, oy, ox, oy], dtype=np.float32)
        for j in range(len(plates)):
            v = int(plates.data["vehicle_index"][j])
            tid = int(search.tracker_id[v])
            conf = float(plates.confidence[j])
            if tid not in best or conf > best[tid].detection_confidence:
                best[tid] = _Observation(
                    tid, plates.xyxy[j] + off, conf, names.get(int(search.class_id[v])), search.xyxy[v] + off
                )
        return list(best.values())

    def _update_tracks(self, frame: Frame, observations: list[_Observation]) -> list[PlateEvent]:
        p, c = self.p, self.p.counters
        due: list[tuple[TrackState, Shot]] = []
        for ob in observations:
            c.plate_observations += 1
            cx, cy = (
                float(ob.plate_xyxy[0] + ob.plate_xyxy[2]) / 2,
                float(ob.plate_xyxy[1] + ob.plate_xyxy[3]) / 2,
            )
            state = self.tracks.get(ob.track_id)
            if state is None:
                state = TrackState(ob.track_id, self.cam.id, frame.index, self.step, (cx, cy))
                self.tracks[ob.track_id] = state
                c.tracks += 1
            state.frames_seen += 1
            state.last_seen_step = self.step
            state.last_center = (cx, cy)
            if ob.vehicle_type:
                state.vehicle_type, state.vehicle_xyxy = ob.vehicle_type, ob.vehicle_xyxy
            if state.ocr_done:
                continue
            crop = crop_plate(frame.image, ob.plate_xyxy)
            quality = quality_score(crop, ob.detection_confidence)
            if self.policy.wants_read(state, quality, self.step):
                due.append(
                    (
                        state,
                        Shot(
                            crop.copy(),
                            ob.plate_xyxy.copy(),
                            ob.detection_confidence,
                            quality,
                            frame.index,
                            frame.captured_at,
                            frame.captured_monotonic,
                        ),
                    )
                )
            state.best_quality = max(state.best_quality, quality)
        if not due:
            return []
        with p.timer.stage("ocr"):
            reads = p.reader.read_batch([shot.crop for _, shot in due])
        c.ocr_calls += len(due)
        published = []
        for (state, shot), read in zip(due, reads, strict=True):
            if self.policy.add_read(state, read, shot, self.step) and not state.published:
                published += p.emit(state, state.final, frame.captured_monotonic)
        return published

    def _end_lost_tracks(self, frame: Frame, all_tracks: bool = False) -> list[PlateEvent]:
        buffer = self.p.cfg.tracker.lost_track_buffer
        ended = [tid for tid, s in self.tracks.items() if all_tracks or self.step - s.last_seen_step > buffer]
        published = []
        for tid in ended:
            state = self.tracks.pop(tid)
            if state.published:
                continue
            read = self.policy.finish(state)
            if read is None:
                self.p.counters.tracks_without_read += 1
                continue
            published += self.p.emit(state, read, frame.captured_monotonic if frame else time.monotonic())
        return published

    def finish(self) -> list[PlateEvent]:
        """End of stream: every open track ends now."""
        out = self._end_lost_tracks(None, all_tracks=True)
        self.source.close()
        return out


class _StillTracker:
    """The tracker of still images: every plate is a new track (no image continues another)."""

    def __init__(self) -> None:
        self._next_id = 1

    def update(self, detections: Detections) -> Detections:
        n = len(detections)
        detections.tracker_id = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return detections


def _sink_stats(sink: Sink) -> dict[str, Any]:
    counts = getattr(sink, "stats", None)
    out = dataclasses.asdict(counts) if dataclasses.is_dataclass(counts) else {}
    out["spooled"] = getattr(sink, "spooled", 0)
    return out


def _frame_sharpness(image: np.ndarray) -> float:
    small = cv2.resize(image, (320, max(1, 320 * image.shape[0] // max(image.shape[1], 1))))
    return float(cv2.Laplacian(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())


class Pipeline:
    """The whole ALPR job for every configured camera.

    Args:
        cfg: the validated config.
        sinks: where events go (default: built from `cfg.sinks`).
        collect_events: keep every event in `RunResult.events` (tests, bench); off for long runs.

    Cameras are served round-robin in one thread; the models are loaded once and shared.
    """

    def __init__(
        self,
        cfg: AppConfig,
        sinks: list[Sink] | None = None,
        collect_events: bool = True,
        finder: PlateFinder | None = None,
        reader: PlateReader | None = None,
    ) -> None:
        self.cfg = cfg
        self.timer = StageTimer()
        self.counters = Counters()
        self._stop = threading.Event()
        # sources first: a wrong path fails in a second, before minutes of model loading
        self._workers: list[CameraWorker] = []
        try:
            for cam in cfg.cameras:
                self._workers.append(CameraWorker(cam, self))
            self.finder = finder or build_finder(cfg, self.timer)
            self.finder.timer = self.timer
            self.reader = reader or build_reader(cfg.ocr, cfg.cache_path)
            self.policy = OcrPolicy(cfg.ocr)
            self.events = EventBuilder(cfg)
            from .sinks import SinkSet, build_sinks

            self.sinks = SinkSet(build_sinks(cfg.sinks, Path(cfg.output_dir)) if sinks is None else sinks)
        except BaseException:  # a bad model or Ctrl-C while loading: stop the live readers started above
            for worker in self._workers:
                worker.source.close()
            raise
        self.collect_events = collect_events
        self._collected: list[PlateEvent] = []
        self.undelivered = 0
        self.lost = 0
        self.spool_dirs: list[str] = []
        self.interrupted = False  # a second signal cut the drain short
        self._draining = False

    def stop(self) -> None:
        """End the run from any thread (or a signal handler): live readers are closed so nothing blocks."""
        self._stop.set()
        for worker in self._workers:
            if worker.live:
                worker.source.close()

    def emit(self, state: TrackState, read, captured_monotonic: float) -> list[PlateEvent]:
        with self.timer.stage("events"):
            event = self.events.build(state, read)
        state.published = True
        if event is None:
            return []
        with self.timer.stage("publish"):
            event = EventBuilder.stamp_latency(event, captured_monotonic)
            self.sinks.publish(event)
        self.counters.events += 1
        log.info(
            "plate %s camera=%s track=%s conf=%.2f frame=%s",
            event.plate.normalized_text,
            event.camera_id,
            event.track_id,
            event.plate.confidence,
            event.extras.get("frame_number"),
        )
        if self.collect_events:
            self._collected.append(event)
        return [event]

    def run(self, max_frames: int | None = None, handle_signals: bool = False) -> RunResult:
        """Process until every source ends (files), `max_frames`, or `stop()` / SIGINT / SIGTERM."""
        workers = list(self._workers)
        previous_handlers = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous_handlers[sig] = signal.signal(sig, self._on_signal)
        self.timer.reset()
        last_log = time.monotonic()
        try:
            idle_rounds = 0
            while workers and not self._stop.is_set():
                # Only live cameras left and none had a frame last round: wait a little on each.
                wait_s = min(0.05 * idle_rounds, 0.2) / len(workers)
                got_frame = False
                for worker in list(workers):
                    frame = worker.next_frame(wait_s)
                    if frame is None:
                        if worker.ended or self._stop.is_set():
                            worker.finish()
                            workers.remove(worker)
                        continue
                    got_frame = True
                    worker.process(frame)
                    self.timer.count_frame()
                    self.sinks.poll()
                idle_rounds = 0 if got_frame else idle_rounds + 1
                if not got_frame:
                    self.sinks.poll()  # retries (spool re-sends) go on while no camera delivers
                if max_frames is not None and self.counters.frames >= max_frames:
                    break
                if time.monotonic() - last_log >= self.cfg.stats_interval_s:
                    last_log = time.monotonic()
                    open_tracks, spool_depth = self.state_counts()
                    log.info(
                        "%s | ocr calls %d (saved %d) | events %d | open tracks %d | spool %d",
                        self.timer.format_line(),
                        self.counters.ocr_calls,
                        self.counters.ocr_calls_saved,
                        self.counters.events,
                        open_tracks,
                        spool_depth,
                    )
        finally:
            try:
                for worker in workers:
                    worker.finish()
                self._source_stats = {w.cam.id: w.source.stats for w in self._workers}
                self._draining = True
                self._drain()
            finally:
                for sig, handler in previous_handlers.items():
                    signal.signal(sig, handler)
        return RunResult(list(self._collected), self.stats())

    def _on_signal(self, signum: int, _frame: Any) -> None:
        """First SIGINT/SIGTERM: stop reading, deliver what is pending. Second: stop now, spool the rest."""
        name = signal.Signals(signum).name
        if not self._stop.is_set() and not self._draining:
            log.warning(
                "%s: stopping; delivering pending events for up to %.0f s (send it again to stop now)",
                name,
                self.cfg.drain_timeout_s,
            )
            self.stop()
            return
        if not self.interrupted:
            self.interrupted = True
            log.warning("%s: stopping now; undelivered events stay in the spool for the next run", name)
            self.sinks.interrupt()

    def _drain(self) -> None:
        timeout = self.cfg.drain_timeout_s
        self.undelivered = self.sinks.flush(timeout)
        self.sinks.close()
        # After close: what each sink kept on disk, and what it could not even spool (lost).
        self.spool_dirs = sorted({str(s.spool_dir) for s in self.sinks if getattr(s, "spooled", 0)})
        self.lost = sum(getattr(getattr(s, "stats", None), "dropped", 0) for s in self.sinks)
        if self.undelivered:
            log.warning(
                "%d event(s) not delivered within %.0f s; %s",
                self.undelivered,
                timeout,
                f"kept in {', '.join(self.spool_dirs)} for the next run" if self.spool_dirs else "none kept",
            )

    def state_counts(self) -> tuple[int, int]:
        """(open tracks, events waiting in the sinks' spools) now; cheap, safe to call from another thread."""
        for _ in range(5):
            try:
                tracks = sum(len(w.tracks) for w in self._workers)
                return tracks, sum(getattr(s, "spooled", 0) for s in self.sinks)
            except RuntimeError:  # a dict changed size under a reader in another thread; look again
                continue
        return -1, -1

    def stats(self) -> dict[str, Any]:
        c = self.counters
        summary = self.timer.summary()
        summary.update(
            {
                "ocr_calls": c.ocr_calls,
                "ocr_calls_saved": c.ocr_calls_saved,
                "plate_observations": c.plate_observations,
                "tracks": c.tracks,
                "tracks_without_read": c.tracks_without_read,
                "events": c.events,
                "duplicates_suppressed": self.events.counters.duplicates,
                "invalid_reads": self.events.counters.invalid,
                "crop_failures": self.events.crops.failures,
                "frames_processed": c.frames,
                "frames_blurred": c.frames_blurred,
                "frames_idle_skipped": c.frames_idle_skipped,
                "undelivered": self.undelivered,
                "lost": self.lost,
                "open_tracks": self.state_counts()[0],
                "spool_depth": self.state_counts()[1],
                "sinks": {s.name: _sink_stats(s) for s in self.sinks},
            }
        )
        sources = getattr(self, "_source_stats", None) or {w.cam.id: w.source.stats for w in self._workers}
        summary["sources"] = {cam: dataclasses.asdict(s) for cam, s in sources.items()}
        summary["corrupt_frames"] = sum(s.corrupt_frames for s in sources.values())
        summary["dropped_frames"] = sum(s.dropped_frames for s in sources.values())
        return summary
