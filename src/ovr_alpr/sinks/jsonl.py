"""JSON Lines file sink: one event JSON object per line, flushed after each event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import JsonlSinkConfig
from ..events.model import PlateEvent
from .base import SINKS, sink_name
from .files import FileSink


@SINKS.register("jsonl")
class JsonlSink(FileSink):
    """Appends `event.to_json()` lines to `config.path` (read back with `PlateEvent.from_json`).

    Args:
        config: the output path.
        name: sink name; default from `sink_name(config)`.
        spool_dir: unused (a local file needs no spool); accepted so every sink is built alike.
    """

    def __init__(
        self,
        config: JsonlSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        **_: Any,
    ) -> None:
        super().__init__(name or sink_name(config), config.path)

    def _write(self, event: PlateEvent) -> None:
        self._file.write(event.to_json() + "\n")
