"""JSON Lines file sink: one event JSON object per line, flushed after each event."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..config import SinkConfig
from ..events.model import PlateEvent
from .base import SINKS, sink_name
from .files import FileSink


class JsonlSinkConfig(SinkConfig):
    """`jsonl:PATH`: one JSON event per line."""

    type: Literal["jsonl"] = "jsonl"
    path: str

    def target(self) -> str:
        return self.path

    @classmethod
    def from_spec(cls, spec: str) -> JsonlSinkConfig | None:
        kind, sep, path = spec.partition(":")
        return cls(path=path) if kind == "jsonl" and sep and path else None


@SINKS.register("jsonl", config=JsonlSinkConfig)
class JsonlSink(FileSink):
    """Appends `event.to_json()` lines to `config.path` (read back with `PlateEvent.from_json`).

    Args:
        config: the output path.
        name: sink name; default from `sink_name(config)`.
        spool_dir: where events that could not be written wait (see `FileSink`).
        **retry: `FileSink`'s `retry_min_s` and `retry_max_s`.
    """

    def __init__(
        self,
        config: JsonlSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        **retry: Any,
    ) -> None:
        name = name or sink_name(config)
        super().__init__(name, config.path, spool_dir or config.spool_dir, **retry)

    def _format(self, event: PlateEvent) -> str:
        return event.to_json() + "\n"
