"""One camera's loop: its source, tracker and track state; reads once per track, hands reads to `emit`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from ..config import CameraConfig, QualityConfig, TrackerConfig
from ..detect.plates import PlateFinder
from ..errors import ConfigError
from ..events.model import PlateEvent
from ..imaging import fit_longest_side, vehicle_region
from ..ocr import PlateReader
from ..ocr.crops import crop_plate, quality_score
from ..ocr.policy import OcrPolicy
from ..plate_text.text import PlateText
from ..sources.base import FrameSource
from ..timing import StageTimer
from ..track import Tracker, build_tracker
from ..track.state import Crossing, Shot, TrackState
from ..track.zones import CameraGeometry
from ..types import Detections, Frame
from .mainstream import MainStream


@dataclass
class Counters:
    """Run-wide counts reported in the stats."""

    frames: int = 0
    frames_blurred: int = 0
    frames_idle_skipped: int = 0
    plate_observations: int = 0
    #: Plate shots not read because the box touched the frame's (or roi's) edge (`ocr.edge_margin_px`).
    shots_cut_by_edge: int = 0
    ocr_calls: int = 0
    tracks: int = 0
    tracks_without_read: int = 0
    events: int = 0

    @property
    def ocr_calls_saved(self) -> int:
        """OCR calls a read-every-plate-every-frame pipeline would have made, minus the ones made."""
        return max(self.plate_observations - self.ocr_calls, 0)


@dataclass
class _Observation:
    track_id: int
    plate_xyxy: np.ndarray
    detection_confidence: float
    vehicle_type: str | None = None
    vehicle_xyxy: np.ndarray | None = None


#: What a worker calls with a track whose read is final: (track, read, capture time) -> published events.
Emit = Callable[[TrackState, PlateText, float], list[PlateEvent]]


@dataclass
class Stages:
    """The loaded stages that every camera shares (models are loaded once)."""

    finder: PlateFinder
    reader: PlateReader
    policy: OcrPolicy
    timer: StageTimer
    counters: Counters


class CameraWorker:
    """One camera: its source, its own tracker and per-track state.

    Args:
        cam: the camera's config.
        source: its opened frame source.
        stages: the shared detector, reader, policy, timer and counters.
        tracker_cfg: config of the camera's own tracker.
        quality: the frame gates (sharpness, idle sampling).
        emit: called with each track whose read is final; returns the events it published.
    """

    def __init__(
        self,
        cam: CameraConfig,
        source: FrameSource,
        stages: Stages,
        tracker_cfg: TrackerConfig,
        quality: QualityConfig,
        emit: Emit,
        main: MainStream | None = None,
    ) -> None:
        self.cam = cam
        self.main = main
        self.source = source
        self.stages = stages
        self.quality = quality
        self.emit = emit
        self.live = source.is_live
        self.ended = False
        self.lost_track_buffer = tracker_cfg.lost_track_buffer
        # Stills (snapshots): each image is a complete observation, read at once, ended with the image.
        self.stills = cam.stills if cam.stills is not None else source.kind == "images"
        nominal = self.source.stats.nominal_fps or 25.0
        fps = cam.target_fps or nominal / (cam.frame_skip + 1)
        self.tracker: Tracker = _StillTracker() if self.stills else build_tracker(tracker_cfg, fps)
        self.idle_stride = 1 if self.stills else quality.stride_at(fps)
        self._skipped_in_row = 0  # frames passed over since the last processed one (sparse sampling)
        self._last_processed_at: datetime | None = None
        self._last_time: float | None = None  # the last capture time given to the tracker
        self.policy = (
            OcrPolicy(stages.policy.cfg.model_copy(update={"min_track_frames": 1}))
            if self.stills
            else stages.policy
        )
        self.tracks: dict[int, TrackState] = {}
        # Pictures kept with each read shot (a track keeps only its best shot's).
        self.keep_vehicle = cam.images.vehicle or cam.vehicle_colour
        self.keep_frame = cam.images.frame
        self.geometry: CameraGeometry | None = None  # zones, masks, lines in px; built at the first frame
        self._geometry_size: tuple[int, int] | None = None
        self.step = 0  # processed frames, the tracker's clock
        self._frames: Iterator[Frame] = iter(self.source)

    # ------------------------------------------------------------ per frame
    def next_frame(self, wait_s: float = 0.0) -> Frame | None:
        """The next frame, or None for none now; `ended` tells a file's end from a live stream's wait.

        A live camera is waited on for at most `wait_s`, so a dead one never holds up the others.
        """
        if self.live:
            return self.source.next_frame(timeout_s=wait_s)
        with self.stages.timer.stage("decode"):
            frame = next(self._frames, None)
        self.ended = frame is None
        return frame

    def process(self, frame: Frame) -> list[PlateEvent]:
        q, c = self.quality, self.stages.counters
        if self._sample_sparsely(frame):
            c.frames_idle_skipped += 1
            return []
        image, (ox, oy) = self._roi(frame.image)
        if q.min_sharpness > 0 and _frame_sharpness(image) < q.min_sharpness:
            c.frames_blurred += 1
            return []
        self.step += 1
        c.frames += 1
        self._resolve_geometry(frame.image)
        observations = self._observe(image, ox, oy, frame)
        region = (ox, oy, ox + image.shape[1], oy + image.shape[0])
        published = self._update_tracks(frame, observations, region)
        published += self._emit_crossed(frame)
        published += self._end_lost_tracks(frame, all_tracks=self.stills)
        return published

    def _sample_sparsely(self, frame: Frame) -> bool:
        """Pass this frame over: nothing needs reading (no plate tracked, or every tracked plate has its final
        read, and the tracker is not confirming a track it started on the last processed frames), fewer than
        `idle_stride` frames were passed over in a row, and less than 1 / `idle_min_fps` s of video went by
        since the last processed frame. Counted per delivered frame, not by frame number, so a live stream
        that delivers every n-th frame is still sampled.

        A plate that starts a track is followed on every frame until the track is confirmed: between sparse
        frames a fast plate moves further than the tracker can match (a car crossing the view moves its
        plate's width per frame), so it would never get a track."""
        last = self._last_processed_at
        if (
            self._skipped_in_row + 1 < self.idle_stride
            and last is not None
            and (frame.captured_at - last).total_seconds() < 1.0 / self.quality.idle_min_fps
            and not self.tracker.confirming()
            and all(s.ocr_done for s in self.tracks.values())
        ):
            self._skipped_in_row += 1
            return True
        self._skipped_in_row = 0
        self._last_processed_at = frame.captured_at
        return False

    def _tracker_time(self, frame: Frame) -> float | None:
        """The frame's capture time for the tracker (s), or None for one frame step: a folder of images has no
        timeline (modification times), and a clock that stood still or went back is not one either."""
        if self.source.kind == "images":
            return None
        at = frame.captured_at.timestamp()
        if self._last_time is not None and at <= self._last_time:
            return None
        self._last_time = at
        return at

    def _resolve_geometry(self, image: np.ndarray) -> None:
        size = (int(image.shape[1]), int(image.shape[0]))
        if size != self._geometry_size:  # first frame, or a stream that changed resolution
            self._geometry_size = size
            self.geometry = CameraGeometry.build(self.cam, size)

    def _roi(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        if self.cam.roi is None:
            return image, (0, 0)
        x1, y1, x2, y2 = self.cam.roi
        h, w = image.shape[:2]
        if x1 >= w or y1 >= h:
            raise ConfigError(
                f"camera {self.cam.id}: roi {list(self.cam.roi)} lies outside its {w}x{h} frames",
                "set cameras[].roi inside the frame (x1, y1, x2, y2 in px)",
            )
        return image[y1:y2, x1:x2], (x1, y1)

    def _observe(self, image: np.ndarray, ox: int, oy: int, frame: Frame) -> list[_Observation]:
        finder, timer = self.stages.finder, self.stages.timer
        frame_index, at = frame.index, self._tracker_time(frame)
        geometry = self.geometry
        if finder.vehicle_detector is None:
            plates = finder.detect_plates(image)
            if ox or oy:
                plates = plates.with_offset(ox, oy)
            if geometry is not None and geometry.filters and len(plates):
                plates = plates[geometry.keep(_centres(plates.xyxy), plates.xyxy[:, 2] - plates.xyxy[:, 0])]
            with timer.stage("track"):
                tracked = self.tracker.update(plates, at)
            return [
                _Observation(int(t), tracked.xyxy[i], float(tracked.confidence[i]))
                for i, t in enumerate(tracked.tracker_id)
            ]
        # vehicle-first: track vehicles, search plates only in vehicles whose read is not final yet
        vehicles = finder.detect_vehicles(image)
        off = np.array([ox, oy, ox, oy], dtype=np.float32)
        if geometry is not None and geometry.filters and len(vehicles):
            vehicles = vehicles[geometry.keep(_bottom_centres(vehicles.xyxy + off))]
        with timer.stage("track"):
            tracked_v = self.tracker.update(vehicles, at)
        for i, t in enumerate(tracked_v.tracker_id):  # keep vehicle tracks alive even when no plate is seen
            state = self.tracks.get(int(t))
            if state is not None:
                state.last_seen_step = self.step
                if state.ocr_done:  # no plate is searched any more: the vehicle box carries the path on
                    self._move(state, _bottom_centres(tracked_v.xyxy[i : i + 1] + off)[0], frame_index)
        pending = np.array(
            [not (s := self.tracks.get(int(t))) or not s.ocr_done for t in tracked_v.tracker_id], dtype=bool
        )
        search = tracked_v[pending] if len(tracked_v) else tracked_v
        plates = finder.detect_plates(image, search) if len(search) else Detections.empty()
        if geometry is not None and geometry.zones and len(plates):  # the zones' minimum plate widths
            plates = plates[geometry.keep(_centres(plates.xyxy + off), plates.xyxy[:, 2] - plates.xyxy[:, 0])]
        best: dict[int, _Observation] = {}
        names = finder.vehicle_class_names
        for j in range(len(plates)):
            v = int(plates.data["vehicle_index"][j])
            tid = int(search.tracker_id[v])
            conf = float(plates.confidence[j])
            if tid not in best or conf > best[tid].detection_confidence:
                best[tid] = _Observation(
                    tid, plates.xyxy[j] + off, conf, names.get(int(search.class_id[v])), search.xyxy[v] + off
                )
        return list(best.values())

    def _update_tracks(
        self, frame: Frame, observations: list[_Observation], region: tuple[int, int, int, int]
    ) -> list[PlateEvent]:
        """Move the tracks, and read the shots the policy asks for; `region` is what the detector saw (the
        frame, or the camera's roi: x1, y1, x2, y2 px), whose edges cut plates coming into view."""
        st, c = self.stages, self.stages.counters
        margin = None if self.stills else self.policy.cfg.edge_margin_px
        due: list[tuple[TrackState, Shot]] = []
        small_frame: np.ndarray | None = None
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
            anchor = (cx, cy) if ob.vehicle_xyxy is None else _bottom_centres(ob.vehicle_xyxy[None])[0]
            self._move(state, anchor, frame.index)
            if state.ocr_done:
                continue
            if margin is not None and _cut_by_edge(ob.plate_xyxy, region, margin):
                c.shots_cut_by_edge += 1
                continue
            crop = crop_plate(frame.image, ob.plate_xyxy, *self.stages.finder.crop_margin)
            quality = quality_score(crop, ob.detection_confidence)
            if self.policy.wants_read(state, quality, self.step):
                if self.main is not None:  # read the plate at the main stream's resolution
                    main_crop = self.main.plate_crop(frame, ob.plate_xyxy, self.stages.finder.crop_margin)
                    crop = crop if main_crop is None or main_crop.size == 0 else main_crop
                if self.keep_frame and small_frame is None:  # one copy per frame, shared by its shots
                    small_frame = fit_longest_side(frame.image, self.cam.images.max_side_px).copy()
                vehicle_crop, vehicle_box = (
                    self._vehicle_crop(frame.image, ob) if self.keep_vehicle else (None, None)
                )
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
                            vehicle_crop=vehicle_crop,
                            vehicle_crop_xyxy=vehicle_box,
                            frame=small_frame,
                        ),
                    )
                )
            state.best_quality = max(state.best_quality, quality)
        if not due:
            return []
        with st.timer.stage("ocr"):
            reads = st.reader.read_batch([shot.crop for _, shot in due])
        c.ocr_calls += len(due)
        published = []
        for (state, shot), read in zip(due, reads, strict=True):
            if (
                self.policy.add_read(state, read, shot, self.step)
                and not state.published
                and self._may_publish(state)
            ):
                published += self.emit(state, state.final, frame.captured_monotonic)
        return published

    @staticmethod
    def _vehicle_crop(image: np.ndarray, ob: _Observation) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The vehicle (its box, else the region around its plate) and where it was cut from."""
        size = (image.shape[1], image.shape[0])
        if ob.vehicle_xyxy is not None:
            x1, y1, x2, y2 = ob.vehicle_xyxy
            box = (
                max(0, int(x1)),
                max(0, int(y1)),
                min(size[0], int(np.ceil(x2))),
                min(size[1], int(np.ceil(y2))),
            )
        else:
            box = vehicle_region(ob.plate_xyxy, size)
        return image[box[1] : box[3], box[0] : box[2]].copy(), box

    def _move(self, state: TrackState, anchor, frame_index: int) -> None:
        """Extend the track's path; note the zones it enters and the lines its smoothed path crosses."""
        x, y = float(anchor[0]), float(anchor[1])
        before = state.smoothed_point()
        state.path.append((x, y))
        geometry = self.geometry
        if geometry is None:
            return
        for name in geometry.zones_at(x, y):
            if name not in state.zones:
                state.zones.append(name)
        if before is not None and geometry.lines:
            after = state.smoothed_point()
            for line, direction in geometry.crossings(before, after):  # type: ignore[arg-type]
                state.crossing = Crossing(line, direction, state.heading_deg(), frame_index)

    def _may_publish(self, state: TrackState) -> bool:
        """With direction lines, a read track is published once it has crossed one (or when it ends)."""
        return self.geometry is None or not self.geometry.lines or state.crossing is not None

    def _emit_crossed(self, frame: Frame) -> list[PlateEvent]:
        if self.geometry is None or not self.geometry.lines:
            return []
        published = []
        for state in list(self.tracks.values()):
            if state.final is not None and not state.published and state.crossing is not None:
                published += self.emit(state, state.final, frame.captured_monotonic)
        return published

    def _end_lost_tracks(self, frame: Frame | None, all_tracks: bool = False) -> list[PlateEvent]:
        buffer = self.lost_track_buffer
        ended = [tid for tid, s in self.tracks.items() if all_tracks or self.step - s.last_seen_step > buffer]
        published = []
        for tid in ended:
            state = self.tracks.pop(tid)
            if state.published:
                continue
            read = self.policy.finish(state)
            if read is None:
                self.stages.counters.tracks_without_read += 1
                continue
            published += self.emit(state, read, frame.captured_monotonic if frame else time.monotonic())
        return published

    def finish(self) -> list[PlateEvent]:
        """End of stream: every open track ends now."""
        out = self._end_lost_tracks(None, all_tracks=True)
        self.source.close()
        if self.main is not None:
            self.main.close()
        return out


class _StillTracker:
    """The tracker of still images: every plate is a new track (no image continues another)."""

    def __init__(self) -> None:
        self._next_id = 1

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        n = len(detections)
        detections.tracker_id = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return detections

    def confirming(self) -> bool:
        return False


def _cut_by_edge(xyxy: np.ndarray, region: tuple[int, int, int, int], margin: float) -> bool:
    """Whether a plate box lies within `margin` px of the region's edge (part of the plate may be outside)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return (
        x1 <= region[0] + margin
        or y1 <= region[1] + margin
        or x2 >= region[2] - margin
        or y2 >= region[3] - margin
    )


def _centres(xyxy: np.ndarray) -> np.ndarray:
    return (xyxy[:, :2] + xyxy[:, 2:]) / 2


def _bottom_centres(xyxy: np.ndarray) -> np.ndarray:
    """Where a vehicle box meets the road: the middle of its bottom edge."""
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)


def _frame_sharpness(image: np.ndarray) -> float:
    small = cv2.resize(image, (320, max(1, 320 * image.shape[0] // max(image.shape[1], 1))))
    return float(cv2.Laplacian(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())
