"""Shared plumbing of the file sinks: open for append (creating folders), and retry writes that failed."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TextIO

from ..errors import SinkError
from ..events.model import PlateEvent

logger = logging.getLogger(__name__)


class FileSink(ABC):
    """Appends events to one local file, flushing after each.

    A write that fails (disk full, file removed) keeps the event in memory and retries it on the next
    `publish`, `poll` or `flush`; `flush` returns how many are still waiting.

    Args:
        name: sink name (used in logs).
        path: output file; its folder is created.

    Raises:
        SinkError: the folder cannot be created or the file cannot be opened for appending.
    """

    def __init__(self, name: str, path: str | Path) -> None:
        self.name = name
        self.path = Path(path)
        self._pending: list[PlateEvent] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.is_file() and self.path.stat().st_size > 0
            self._file: TextIO = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise SinkError(
                f"{name}: cannot open {self.path} for appending: {exc.strerror or exc}",
                "choose a writable path for the sink",
            ) from None
        self._opened(existed)

    def _opened(self, existed: bool) -> None:
        """Called once the file is open; `existed` is True if it already held data."""
        return None

    @abstractmethod
    def _write(self, event: PlateEvent) -> None:
        """Write one event to `self._file` (raise OSError on failure)."""

    def publish(self, event: PlateEvent) -> None:
        """Append the event (and any earlier one that failed to write)."""
        self._pending.append(event)
        self._write_pending()

    def poll(self) -> None:
        """Retry writes that failed."""
        if self._pending:
            self._write_pending()

    def flush(self, timeout_s: float) -> int:
        """Retry failed writes once; return how many events are still unwritten."""
        self._write_pending()
        return len(self._pending)

    def close(self) -> None:
        """Close the file; events that could not be written are logged."""
        self._write_pending()
        if self._pending:
            logger.error(
                "%s: %d event(s) could not be written to %s: %s",
                self.name,
                len(self._pending),
                self.path,
                [e.event_id for e in self._pending],
            )
        self._file.close()

    def _write_pending(self) -> None:
        while self._pending:
            event = self._pending[0]
            try:
                self._write(event)
                self._file.flush()
            except OSError as exc:
                logger.warning(
                    "%s: cannot write %s (%s); %d event(s) waiting",
                    self.name,
                    self.path,
                    exc.strerror or exc,
                    len(self._pending),
                )
                return
            self._pending.pop(0)
