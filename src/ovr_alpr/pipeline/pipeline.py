"""Wires the stages: source -> (vehicles) -> plates -> track -> OCR once per track -> events -> sinks."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import CameraConfig
from ..detect.plates import PlateFinder, build_finder
from ..events.builder import CropStore, EventBuilder
from ..events.model import PlateEvent
from ..ocr import PlateReader, build_reader
from ..ocr.policy import OcrPolicy
from ..plate_text.text import PlateText
from ..sinks import SinkSet, build_sinks
from ..sinks.base import Sink, sink_name
from ..sources import detect_kind, open_source
from ..sources.base import FrameSource
from ..timing import StageTimer
from ..track.state import TrackState
from .config import AppConfig
from .mainstream import MainStream
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
        sources: list[FrameSource] = []
        mains: dict[str, MainStream] = {}
        try:
            for cam in cfg.cameras:
                start = datetime.now(timezone.utc)  # a file and its main-stream file share one clock
                sources.append(_open(cam, cfg.fail_fast, start))
                if cam.main_source:
                    main_cam = cam.model_copy(
                        update={"source": cam.main_source, "frame_skip": 0, "target_fps": None}
                    )
                    mains[cam.id] = MainStream(_open(main_cam, cfg.fail_fast, start))
            self.finder = finder or build_finder(cfg.plate_detector, cfg.vehicle_detector, cfg.cache_path)
            self.finder.timer = self.timer
            self.reader = reader or build_reader(cfg.ocr, cfg.cache_path)
            self.policy = OcrPolicy(cfg.ocr)
            stages = Stages(self.finder, self.reader, self.policy, self.timer, self.counters)
            self._workers = [
                CameraWorker(cam, source, stages, cfg.tracker, cfg.quality, self.emit, mains.get(cam.id))
                for cam, source in zip(cfg.cameras, sources, strict=True)
            ]
            self.events = EventBuilder(
                cfg.events,
                cfg.node,
                CropStore(Path(cfg.output_dir), cfg.save_crops, retention=cfg.retention),
                {c.id: c.roi for c in cfg.cameras},
                cfg.cameras,
            )
            self.sinks = SinkSet(build_sinks(cfg.sinks, Path(cfg.output_dir)) if sinks is None else sinks)
            self.routes = EventRoutes(cfg)
        except BaseException:  # a bad model or Ctrl-C while loading: stop the live readers started above
            for source in [*sources, *(m.source for m in mains.values())]:
                source.close()
            raise
        self.collect_events = collect_events
        self._collected: list[PlateEvent] = []
        self.undelivered = 0
        self.lost = 0
        self.spool_dirs: list[str] = []
        self.interrupted = False  # a second signal cut the drain short
        self._draining = False
        self._source_stats: dict[str, Any] = {}

    def stop(self) -> None:
        """End the run from any thread (or a signal handler): live readers are closed so nothing blocks."""
        self._stop.set()
        for worker in self._workers:
            if worker.live:
                worker.source.close()
            if worker.main is not None and worker.main.source.is_live:
                worker.main.close()

    def emit(self, state: TrackState, read: PlateText, captured_monotonic: float) -> list[PlateEvent]:
        """Build the track's event, publish it to the sinks and the `on_event` callbacks."""
        with self.timer.stage("events"):
            event = self.events.build(state, read)
        state.published = True
        if event is None:
            return []
        with self.timer.stage("publish"):
            event = EventBuilder.stamp_latency(event, captured_monotonic)
            self.sinks.publish(event, self.routes.acceptor(event))
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
        """Process until every source ends (files), `max_frames`, or `stop()` / SIGINT / SIGTERM.

        With `handle_signals`, the first SIGINT/SIGTERM stops reading and drains the sinks; a second one
        cuts the drain short (undelivered events stay in the spool).
        """
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
                got_frame = self._serve_round(workers, min(0.05 * idle_rounds, 0.2) / len(workers))
                idle_rounds = 0 if got_frame else idle_rounds + 1
                if not got_frame:
                    self.sinks.poll()  # retries (spool re-sends) go on while no camera delivers
                if max_frames is not None and self.counters.frames >= max_frames:
                    break
                if time.monotonic() - last_log >= self.cfg.stats_interval_s:
                    last_log = time.monotonic()
                    self._log_progress()
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

    def _serve_round(self, workers: list[CameraWorker], wait_s: float) -> bool:
        """One frame from each camera that has one; ended cameras leave `workers`. True if any had a frame."""
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
        return got_frame

    def _log_progress(self) -> None:
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
        self.spool_dirs = sorted({str(s.spool_dir) for s in self.sinks if s.spooled})
        self.lost = sum(s.stats.dropped for s in self.sinks if s.stats is not None)
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
                return tracks, sum(s.spooled for s in self.sinks)
            except RuntimeError:  # a dict changed size under a reader in another thread; look again
                continue
        return -1, -1

    def stats(self) -> dict[str, Any]:
        c = self.counters
        summary = self.timer.summary()
        open_tracks, spool_depth = self.state_counts()
        summary.update(
            {
                "ocr_calls": c.ocr_calls,
                "ocr_calls_saved": c.ocr_calls_saved,
                "plate_observations": c.plate_observations,
                "shots_cut_by_edge": c.shots_cut_by_edge,
                "tracks": c.tracks,
                "tracks_without_read": c.tracks_without_read,
                "events": c.events,
                "duplicates_suppressed": self.events.counters.duplicates,
                "invalid_reads": self.events.counters.invalid,
                "crop_failures": self.events.crops.failures,
                "picture_failures": self.events.crops.picture_failures,
                "pictures_pruned": self.events.crops.pruned,
                "frames_processed": c.frames,
                "frames_blurred": c.frames_blurred,
                "frames_idle_skipped": c.frames_idle_skipped,
                "undelivered": self.undelivered,
                "lost": self.lost,
                "open_tracks": open_tracks,
                "spool_depth": spool_depth,
                "sinks": {s.name: _sink_stats(s) for s in self.sinks},
            }
        )
        sources = self._source_stats or {w.cam.id: w.source.stats for w in self._workers}
        summary["sources"] = {cam: dataclasses.asdict(s) for cam, s in sources.items()}
        summary["corrupt_frames"] = sum(s.corrupt_frames for s in sources.values())
        summary["dropped_frames"] = sum(s.dropped_frames for s in sources.values())
        return summary


class EventRoutes:
    """Which sinks take an event: each sink's `only` filter, and the `sinks` lists of the zones it entered.

    A zone's list restricts its events to the named sinks; an event in several zones goes to the union
    of their lists (to every sink when one of its zones has no list). Sinks are matched by name
    (`sink_name`); sinks given to `Pipeline` directly have no filter of their own.
    """

    def __init__(self, cfg: AppConfig) -> None:
        self._filters = {sink_name(s): s.only for s in cfg.sinks if s.only is not None}
        self._zone_sinks = {
            (cam.id, z.name): set(z.sinks) for cam in cfg.cameras for z in cam.zones if z.sinks is not None
        }

    def acceptor(self, event: PlateEvent) -> Callable[[str], bool] | None:
        """A test on sink names for this event; None when every sink takes it."""
        if not (self._filters or self._zone_sinks):
            return None
        zones = list(event.extras.get("zones") or [])
        direction = event.extras.get("direction")
        allowed: set[str] | None = None
        if zones and all((event.camera_id, z) in self._zone_sinks for z in zones):
            allowed = set().union(*(self._zone_sinks[(event.camera_id, z)] for z in zones))

        def accept(name: str) -> bool:
            if allowed is not None and name not in allowed:
                return False
            only = self._filters.get(name)
            return only is None or only.accepts(event.camera_id, direction, zones)

        return accept


def _open(cam: CameraConfig, fail_fast: bool, start: datetime | None = None) -> FrameSource:
    """Open a camera's source; a live one that is down at start is retried unless `fail_fast`."""
    kind = detect_kind(cam.source)
    options: dict[str, Any] = {}
    if kind in ("stream", "camera"):
        options["fail_fast"] = fail_fast
    elif kind == "file" and start is not None:
        options["start_time"] = start
    return open_source(cam, kind=kind, **options)


def _sink_stats(sink: Sink) -> dict[str, Any]:
    out = dataclasses.asdict(sink.stats) if sink.stats is not None else {}
    out["spooled"] = sink.spooled
    return out
