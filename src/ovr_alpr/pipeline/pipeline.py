"""Wires the stages: source -> (vehicles) -> plates -> track -> OCR once per track -> events -> sinks."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..detect.plates import PlateFinder, build_finder
from ..events.builder import CropStore, EventBuilder
from ..events.model import PlateEvent
from ..ocr import PlateReader, build_reader
from ..ocr.policy import OcrPolicy
from ..plate_text.text import PlateText
from ..sinks import SinkSet, build_sinks
from ..sinks.base import Sink
from ..sources import open_source
from ..timing import StageTimer
from ..track.state import TrackState
from .config import AppConfig
from .worker import CameraWorker, Counters, Stages

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    events: list[PlateEvent] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


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
        self.on_event: list[Callable[[PlateEvent], None]] = []
        # sources first: a wrong path fails in a second, before minutes of model loading
        sources = []
        try:
            for cam in cfg.cameras:
                sources.append(open_source(cam))
        except Exception:
            for source in sources:
                source.close()
            raise
        self.finder = finder or build_finder(cfg.plate_detector, cfg.vehicle_detector, cfg.cache_path)
        self.finder.timer = self.timer
        self.reader = reader or build_reader(cfg.ocr, cfg.cache_path)
        self.policy = OcrPolicy(cfg.ocr)
        stages = Stages(self.finder, self.reader, self.policy, self.timer, self.counters)
        self._workers = [
            CameraWorker(cam, source, stages, cfg.tracker, cfg.quality, self.emit)
            for cam, source in zip(cfg.cameras, sources, strict=True)
        ]
        self.events = EventBuilder(
            cfg.events,
            cfg.node,
            CropStore(Path(cfg.output_dir), cfg.save_crops),
            {c.id: c.roi for c in cfg.cameras},
        )
        self.sinks = SinkSet(build_sinks(cfg.sinks, Path(cfg.output_dir)) if sinks is None else sinks)
        self.collect_events = collect_events
        self._collected: list[PlateEvent] = []
        self.undelivered = 0
        self._source_stats: dict[str, Any] = {}

    def stop(self) -> None:
        """End the run from any thread (or a signal handler): live readers are closed so nothing blocks."""
        self._stop.set()
        for worker in self._workers:
            if worker.live:
                worker.source.close()

    def emit(self, state: TrackState, read: PlateText, captured_monotonic: float) -> list[PlateEvent]:
        """Build the track's event, publish it to the sinks and the `on_event` callbacks."""
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
        for callback in self.on_event:
            callback(event)
        return [event]

    def run(self, max_frames: int | None = None, handle_signals: bool = False) -> RunResult:
        """Process until every source ends (files), `max_frames`, or `stop()` / SIGINT / SIGTERM."""
        workers = list(self._workers)
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop())
        self.timer.reset()
        last_log = time.monotonic()
        try:
            while workers and not self._stop.is_set():
                for worker in list(workers):
                    frame = worker.next_frame()
                    if frame is None:
                        if worker.ended or self._stop.is_set():
                            worker.finish()
                            workers.remove(worker)
                        continue
                    worker.process(frame)
                    self.timer.count_frame()
                    self.sinks.poll()
                if max_frames is not None and self.counters.frames >= max_frames:
                    break
                if time.monotonic() - last_log >= self.cfg.stats_interval_s:
                    last_log = time.monotonic()
                    log.info(
                        "%s | ocr calls %d (saved %d) | events %d",
                        self.timer.format_line(),
                        self.counters.ocr_calls,
                        self.counters.ocr_calls_saved,
                        self.counters.events,
                    )
        finally:
            for worker in workers:
                worker.finish()
            self._source_stats = {w.cam.id: w.source.stats for w in self._workers}
            self._drain()
        return RunResult(list(self._collected), self.stats())

    def _drain(self) -> None:
        timeout = self.cfg.drain_timeout_s
        self.undelivered = self.sinks.flush(timeout)
        if self.undelivered:
            log.warning(
                "%d event(s) not delivered within %.0f s; kept in the spool for the next run",
                self.undelivered,
                timeout,
            )
        self.sinks.close()

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
                "frames_processed": c.frames,
                "frames_blurred": c.frames_blurred,
                "frames_idle_skipped": c.frames_idle_skipped,
                "undelivered": self.undelivered,
            }
        )
        sources = self._source_stats or {w.cam.id: w.source.stats for w in self._workers}
        summary["sources"] = {cam: dataclasses.asdict(s) for cam, s in sources.items()}
        summary["corrupt_frames"] = sum(s.corrupt_frames for s in sources.values())
        summary["dropped_frames"] = sum(s.dropped_frames for s in sources.values())
        return summary
