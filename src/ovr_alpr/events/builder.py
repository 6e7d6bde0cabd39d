"""Turns a track's final read into a `PlateEvent`: normalise, validate, de-duplicate, save the best shot."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np

from ..config import CameraConfig, EventsConfig, ImagesConfig, NodeConfig, RetentionConfig
from ..imaging import fit_longest_side
from ..plate_text.normalize import PlateNormalizer
from ..plate_text.text import PlateText
from ..track.state import TrackState
from .colour import vehicle_colour
from .dedup import Deduplicator
from .model import ImageRefs, NodeInfo, PlateEvent, PlateInfo, VehicleInfo

log = logging.getLogger(__name__)


@dataclass
class EventCounters:
    duplicates: int = 0
    invalid: int = 0


class CropStore:
    """Saves best-shot pictures as `OUT/crops/YYYY-MM-DD/<camera>/<event_id><suffix>.jpg` (never overwritten):
    the plate crop (no suffix), the vehicle (`-vehicle`) and the whole frame (`-frame`).

    A crop that cannot be saved (read-only or full disk, a file where a folder should be) is logged,
    counted in `failures`, and the event goes out without it: a missing picture never costs an event.
    A path that would leave `OUT/crops` (a camera id like `../x`) is refused the same way.
    """

    #: Failures logged as warnings before further ones go to DEBUG (a full disk fails every crop).
    warn_limit = 5

    def __init__(
        self,
        output_dir: Path,
        enabled: bool = True,
        jpeg_quality: int = 92,
        retention: RetentionConfig | None = None,
    ) -> None:
        self.root = Path(output_dir) / "crops"
        self.enabled = enabled
        self.params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self.failures = 0  # plate crops not saved
        self.picture_failures = 0  # vehicle and frame pictures not saved
        self.retention = retention or RetentionConfig()
        self.pruned = 0  # files deleted by retention
        self._next_prune = 0.0

    def prune(self, now: datetime | None = None) -> int:
        """Delete pictures past `retention.max_age_days`, then the oldest until `max_disk_mb` fits.

        Only regular files under `OUT/crops` are deleted (links are not followed); returns how many.
        """
        keep = self.retention
        root = self.root
        if (keep.max_age_days is None and keep.max_disk_mb is None) or not root.is_dir():
            return 0
        now = now or datetime.now(timezone.utc)
        files: list[tuple[float, int, Path]] = []
        removed = 0
        for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    files.append((info.st_mtime, info.st_size, path))
        cutoff = None if keep.max_age_days is None else (now - timedelta(days=keep.max_age_days)).timestamp()
        budget = None if keep.max_disk_mb is None else keep.max_disk_mb * 1024 * 1024
        files.sort()
        total = sum(size for _, size, _ in files)
        for mtime, size, path in files:
            too_old = cutoff is not None and mtime < cutoff
            too_big = budget is not None and total > budget
            if not (too_old or too_big):
                break  # sorted oldest first: the rest are newer and fit
            try:
                path.unlink()
            except OSError as exc:
                log.warning("retention: cannot delete %s: %s", path, exc.strerror or exc)
                continue
            removed += 1
            total -= size
        for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
            if Path(dirpath) != root:
                with contextlib.suppress(OSError):
                    Path(dirpath).rmdir()  # only succeeds when empty
        if removed:
            log.info("retention: deleted %d old picture(s) from %s", removed, root)
        self.pruned += removed
        return removed

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + self.retention.check_every_s
            self.prune()

    def save(
        self,
        event_id: str,
        camera_id: str,
        day: str,
        crop,
        suffix: str = "",
        jpeg_quality: int | None = None,
        max_side_px: int | None = None,
    ) -> str | None:
        """Write one picture; its path, or None when disabled, empty or not written (a warning)."""
        if not self.enabled or crop is None or crop.size == 0:
            return None
        self._maybe_prune()
        if not re.fullmatch(r"[A-Za-z0-9_-]*", suffix):
            raise ValueError(f"bad picture suffix {suffix!r}")
        root = self.root.resolve()
        folder = (root / day / camera_id).resolve()
        if not folder.is_relative_to(root) or folder == root:
            return self._failed(f"camera id {camera_id!r} would put it outside {root}", event_id, suffix)
        path = folder / f"{event_id}{suffix}.jpg"
        if not path.resolve().is_relative_to(root):
            return self._failed(f"event id {event_id!r} would put it outside {root}", event_id, suffix)
        params = self.params if jpeg_quality is None else [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            written = cv2.imwrite(str(path), fit_longest_side(crop, max_side_px), params)
        except OSError as exc:
            return self._failed(f"{exc.strerror or exc} ({exc.filename or folder})", event_id, suffix)
        except cv2.error as exc:
            return self._failed(str(exc).strip().splitlines()[-1], event_id, suffix)
        if not written:
            return self._failed(f"cannot write {path}", event_id, suffix)
        return str(path)

    def _failed(self, why: str, event_id: str, suffix: str = "") -> None:
        # plate crops and the other pictures are counted apart; warnings are limited over both
        if suffix:
            self.picture_failures += 1
        else:
            self.failures += 1
        total = self.failures + self.picture_failures
        level = logging.WARNING if total <= self.warn_limit else logging.DEBUG
        what = f"picture {suffix.lstrip('-')}" if suffix else "plate crop"
        log.log(level, "%s of event %s not saved: %s; publishing the event without it", what, event_id, why)
        if total == self.warn_limit:
            log.warning(
                "further picture failures are logged at DEBUG level (counted in stats: crop_failures, "
                "picture_failures)"
            )
        return None


class EventBuilder:
    """One per pipeline; de-duplication state is kept per camera inside.

    Args:
        cfg: normalisation, regions, formats and de-duplication settings.
        node: site and host stamped on every event.
        crops: where best-shot crops are saved.
        rois: camera id -> its region of interest, reported in the event's extras.
        cameras: the camera configs, for their zones (region hints) and direction lines.
    """

    def __init__(
        self,
        cfg: EventsConfig,
        node: NodeConfig,
        crops: CropStore,
        rois: dict[str, tuple[int, int, int, int] | None] | None = None,
        cameras: list[CameraConfig] | None = None,
    ) -> None:
        self.normalizer = PlateNormalizer(cfg)
        self.dedup = Deduplicator(cfg.dedup_similarity, cfg.dedup_window_s)
        self.crops = crops
        self.node = NodeInfo(site=node.site, host=node.host)
        self.rois = rois or {}
        self._with_lines = {c.id for c in cameras or [] if c.lines}
        self._images = {c.id: c.images for c in cameras or []}
        self._colour = {c.id for c in cameras or [] if c.vehicle_colour}
        self._zone_regions = {
            (c.id, z.name): z.region for c in cameras or [] for z in c.zones if z.region is not None
        }
        self.counters = EventCounters()

    def build(self, state: TrackState, read: PlateText) -> PlateEvent | None:
        """The event for a final read, or None if it is invalid for every region or a duplicate."""
        hint = next((r for z in state.zones if (r := self._zone_regions.get((state.camera_id, z)))), None)
        norm = self.normalizer(read, region_hint=hint)
        if not norm.valid:
            self.counters.invalid += 1
            log.debug("track %s: %r matches no region, dropped", state.track_id, norm.text)
            return None
        shot = state.best
        assert shot is not None, "a final read always has a best shot"
        if self.dedup.is_duplicate(state.camera_id, norm.text, shot.captured_at):
            self.counters.duplicates += 1
            log.debug("track %s: %r is a duplicate, dropped", state.track_id, norm.text)
            return None
        event_id = uuid.uuid4().hex
        day = shot.captured_at.astimezone(timezone.utc).strftime("%Y-%m-%d")
        plate_url = self.crops.save(event_id, state.camera_id, day, shot.crop)
        images = self._images.get(state.camera_id) or ImagesConfig(vehicle=False, frame=False)
        pictures = {"jpeg_quality": images.jpeg_quality, "max_side_px": images.max_side_px}
        vehicle_url = frame_url = None
        if images.vehicle:
            vehicle_url = self.crops.save(
                event_id, state.camera_id, day, shot.vehicle_crop, "-vehicle", **pictures
            )
        if images.frame:
            frame_url = self.crops.save(event_id, state.camera_id, day, shot.frame, "-frame", **pictures)
        colour, colour_share = self._vehicle_colour(state.camera_id, shot)
        x1, y1, x2, y2 = (round(float(v), 1) for v in shot.xyxy)
        return PlateEvent(
            event_id=event_id,
            captured_at=shot.captured_at,
            camera_id=state.camera_id,
            track_id=int(state.track_id),
            plate=PlateInfo(
                text=read.text,
                normalized_text=norm.text,
                confidence=round(read.confidence, 4),
                region=norm.region,
            ),
            vehicle=VehicleInfo(type=state.vehicle_type, color=colour),
            images=ImageRefs(plate_url=plate_url, vehicle_url=vehicle_url, frame_url=frame_url),
            latency_ms=None,
            node=self.node,
            extras={
                "roi": list(self.rois.get(state.camera_id) or []) or None,
                **self._direction(state),
                "zones": list(state.zones),
                "quality_score": round(shot.quality, 4),
                "frame_number": shot.frame_index,
                "bbox": [x1, y1, x2, y2],
                "ocr_attempts": state.attempts,
                "colour_share": colour_share,
                "vehicle_bbox": None
                if state.vehicle_xyxy is None
                else [round(float(v), 1) for v in state.vehicle_xyxy],
            },
        )

    def _vehicle_colour(self, camera_id: str, shot) -> tuple[str | None, float | None]:
        """(colour or None, its share of body pixels) from the best shot; (None, None) when not estimated."""
        if camera_id not in self._colour or shot.vehicle_crop is None or shot.vehicle_crop_xyxy is None:
            return None, None
        ox, oy = shot.vehicle_crop_xyxy[:2]
        return vehicle_colour(shot.vehicle_crop, shot.xyxy - np.array([ox, oy, ox, oy], dtype=np.float32))

    def _direction(self, state: TrackState) -> dict:
        """`direction`: `in`/`out` from the crossed line when the camera has lines (None if it crossed
        none), else the 4-way guess; `heading_deg` from the smoothed path (at the crossing, if any)."""
        crossing = state.crossing
        if crossing is not None:
            return {
                "direction": crossing.direction,
                "line": crossing.line,
                "heading_deg": crossing.heading_deg,
            }
        lines = state.camera_id in self._with_lines
        return {
            "direction": None if lines else state.direction,
            "line": None,
            "heading_deg": state.heading_deg(),
        }

    @staticmethod
    def stamp_latency(event: PlateEvent, captured_monotonic: float) -> PlateEvent:
        """Set latency_ms = now - capture of the frame that made the read final, just before publishing."""
        return event.model_copy(
            update={"latency_ms": round((time.monotonic() - captured_monotonic) * 1000.0, 2)}
        )
