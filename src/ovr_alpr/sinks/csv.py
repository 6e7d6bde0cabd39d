"""CSV file sink: one flat row per event, header written once per file."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any, Literal

from ..config import SinkConfig
from ..events.model import PlateEvent
from .base import SINKS, sink_name
from .files import FileSink

logger = logging.getLogger(__name__)

#: The columns, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "event_id",
    "captured_at",
    "camera_id",
    "track_id",
    "plate_text",
    "plate_normalized",
    "plate_confidence",
    "region",
    "vehicle_type",
    "plate_url",
    "latency_ms",
    "site",
    "host",
    "frame_number",
    "bbox",
    "quality_score",
)


def event_row(event: PlateEvent) -> dict[str, Any]:
    """Flatten an event to the CSV columns; a missing value is an empty cell, `bbox` is a JSON list."""
    data = event.to_dict()
    extras = event.extras
    bbox = extras.get("bbox")
    row = {
        "event_id": event.event_id,
        "captured_at": data["captured_at"],
        "camera_id": event.camera_id,
        "track_id": event.track_id,
        "plate_text": event.plate.text,
        "plate_normalized": event.plate.normalized_text,
        "plate_confidence": round(event.plate.confidence, 4),
        "region": event.plate.region,
        "vehicle_type": event.vehicle.type,
        "plate_url": event.images.plate_url,
        "latency_ms": None if event.latency_ms is None else round(event.latency_ms, 2),
        "site": event.node.site,
        "host": event.node.host,
        "frame_number": extras.get("frame_number"),
        "bbox": None if bbox is None else json.dumps([float(v) for v in bbox]),
        "quality_score": extras.get("quality_score"),
    }
    return {key: "" if value is None else value for key, value in row.items()}


class CsvSinkConfig(SinkConfig):
    """`csv:PATH`: one row per event, a header first."""

    type: Literal["csv"] = "csv"
    path: str

    def target(self) -> str:
        return self.path

    @classmethod
    def from_spec(cls, spec: str) -> CsvSinkConfig | None:
        kind, sep, path = spec.partition(":")
        return cls(path=path) if kind == "csv" and sep and path else None


@SINKS.register("csv", config=CsvSinkConfig)
class CsvSink(FileSink):
    """Appends one row per event to `config.path`; a new or empty file gets the header first.

    Args:
        config: the output path.
        name: sink name; default from `sink_name(config)`.
        spool_dir: unused (a local file needs no spool); accepted so every sink is built alike.
    """

    def __init__(
        self, config: CsvSinkConfig, *, name: str | None = None, spool_dir: str | Path | None = None, **_: Any
    ) -> None:
        super().__init__(name or sink_name(config), config.path)

    def _opened(self, existed: bool) -> None:
        self._writer = csv.DictWriter(self._file, fieldnames=CSV_COLUMNS, lineterminator="\n")
        self._needs_header = not existed
        if existed:
            with open(self.path, encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle), [])
            if tuple(header) != CSV_COLUMNS:
                logger.warning(
                    "%s: %s has other columns than this sink writes (%s); appending anyway",
                    self.name,
                    self.path,
                    ",".join(header),
                )

    def _write(self, event: PlateEvent) -> None:
        if self._needs_header:
            self._writer.writeheader()
            self._needs_header = False
        self._writer.writerow(event_row(event))
