"""CSV file sink: one flat row per event, header written once per file."""

from __future__ import annotations

import csv
import io
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
    return {key: _cell(value) for key, value in row.items()}


#: A text cell starting with one of these is a formula to spreadsheet programs (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """An empty cell for None; text that a spreadsheet would run as a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


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
        spool_dir: where events that could not be written wait (see `FileSink`).
        **retry: `FileSink`'s `retry_min_s` and `retry_max_s`.

    Text cells that a spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`, tab or CR) are
    written with a leading `'`.
    """

    def __init__(
        self,
        config: CsvSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        **retry: Any,
    ) -> None:
        name = name or sink_name(config)
        super().__init__(name, config.path, spool_dir or config.spool_dir, **retry)

    def _opened(self, existed: bool) -> None:
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

    def _prefix(self) -> str:
        return ",".join(CSV_COLUMNS) + "\n" if self._needs_header else ""

    def _written(self) -> None:
        self._needs_header = False

    def _format(self, event: PlateEvent) -> str:
        text = io.StringIO()
        csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n").writerow(event_row(event))
        return text.getvalue()
