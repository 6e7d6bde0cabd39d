"""Shared plumbing of the file sinks: append whole lines, spool what cannot be written, re-send it later."""

from __future__ import annotations

import errno
import logging
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path

from ..errors import SinkError
from ..events.model import PlateEvent
from .base import BaseSink
from .broker import DeliveryStats
from .spool import Spool

logger = logging.getLogger(__name__)


class FileSink(BaseSink, ABC):
    """Appends events to one local file, one whole line (or CSV row) per event.

    Each event is written with one unbuffered `write` call; if the disk refuses part of it (full,
    quota, I/O error), the file is cut back to where the event began, so it never holds a torn or
    repeated line. An event that could not be written goes to the same on-disk `Spool` as the broker
    sinks use (created only when needed) and is written later: on `poll` after a back-off, on `flush`,
    and by the next run if this one ends first. While the spool holds anything, new events queue
    behind it. Only if the spool cannot be written either (same full disk) is an event held in memory,
    and it is lost if the run ends before the disk frees (an error is logged for each).

    Args:
        name: sink name (used in logs and as the spool folder's name).
        path: output file; its folder is created.
        spool_dir: where unwritten events wait; default `out/spool/<name>`.
        retry_min_s: first wait before retrying after a failed write (doubles up to `retry_max_s`).
        retry_max_s: longest wait between retries.

    Raises:
        SinkError: the folder cannot be created, the file cannot be opened for appending, or the spool
            left by an earlier run cannot be opened.
    """

    def __init__(
        self,
        name: str,
        path: str | Path,
        spool_dir: str | Path | None = None,
        *,
        retry_min_s: float = 1.0,
        retry_max_s: float = 30.0,
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.spool_dir = Path(spool_dir) if spool_dir else Path("out") / "spool" / name
        self.stats = DeliveryStats()
        self._spool: Spool | None = None
        self._memory: list[str] = []  # records neither written nor spooled (the spool's disk is full too)
        self._skip: dict[Path, int] = {}  # segment -> records already written whose rewrite failed
        self._retry_min_s = retry_min_s
        self._retry_max_s = max(retry_min_s, retry_max_s)
        self._retry_delay = retry_min_s
        self._next_retry = 0.0
        self._failing = False
        self._torn = False
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.is_file() and self.path.stat().st_size > 0
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SinkError(
                f"{name}: cannot open {self.path} for appending: {exc.strerror or exc}",
                "choose a writable path for the sink",
            ) from None
        self._opened(existed)
        if any(self.spool_dir.glob("*.jsonl")):
            self._open_spool()
            if self._spool is not None and self._spool.count:
                logger.info(
                    "%s: writing %d event(s) kept in %s by an earlier run",
                    self.name,
                    self._spool.count,
                    self.spool_dir,
                )
                self._resend()

    # ------------------------------------------------------------ for subclasses

    def _opened(self, existed: bool) -> None:
        """Called once the file is open; `existed` is True if it already held data."""
        return None

    @abstractmethod
    def _format(self, event: PlateEvent) -> str:
        """The text for one event: whole lines, ending with a newline."""

    def _prefix(self) -> str:
        """Text written before the next event (a CSV header); cleared once a write succeeds."""
        return ""

    def _written(self) -> None:
        """Called after a write succeeded (the prefix, if any, is in the file now)."""
        return None

    # ------------------------------------------------------------ the Sink interface

    @property
    def spooled(self) -> int:
        """Events not yet in the file (spooled on disk or, if that failed, held in memory)."""
        spooled = self._spool.count - sum(self._skip.values()) if self._spool is not None else 0
        return spooled + len(self._memory)

    def publish(self, event: PlateEvent) -> None:
        """Append the event; if that fails, or older events still wait, keep it in the spool."""
        if self._closed:
            raise RuntimeError(f"sink {self.name} is closed")
        self.stats.published += 1
        record = event.to_json()
        if self.spooled:
            self._keep(record)
            self.poll()
            return
        try:
            self._write_record(record, event)
        except OSError as exc:
            self._on_write_error(exc)
            self._keep(record)

    def poll(self) -> None:
        """Write what waits in the spool, once its back-off has passed."""
        if self.spooled and time.monotonic() >= self._next_retry:
            self._resend()

    def flush(self, timeout_s: float) -> int:
        """Try once to write what waits; return how many events are still not in the file."""
        if self.spooled and not self._closed:
            self._resend()
        return self.spooled

    def close(self) -> None:
        """Write what waits if possible, then close; the spool keeps the rest for the next run."""
        if self._closed:
            return
        self.flush(0)
        self._closed = True
        try:
            os.close(self._fd)
        except OSError as exc:
            logger.warning("%s: closing %s: %s", self.name, self.path, exc.strerror or exc)
        if self._memory:
            self.stats.dropped += len(self._memory)
            logger.error(
                "%s: EVENT LOST: %d event(s) could be neither written to %s nor spooled: %s",
                self.name,
                len(self._memory),
                self.path,
                ",".join(_event_id(r) for r in self._memory),
            )
            self._memory.clear()
        if self._spool is not None:
            self._spool.close()
        if self._spool is not None and self._spool.count:
            logger.warning(
                "%s: %d event(s) not written to %s are kept in %s and written by the next run",
                self.name,
                self._spool.count,
                self.path,
                self.spool_dir,
            )

    # ------------------------------------------------------------ writing

    def _write_record(self, record: str, event: PlateEvent | None = None) -> None:
        """Append one event as whole lines, or raise OSError leaving the file as it was."""
        if event is None:
            event = PlateEvent.from_json(record)
        text = self._prefix() + self._format(event)
        data = text.encode("utf-8")
        if self._torn:
            data = b"\n" + data  # end the fragment a failed cut left, so this line stays whole
        try:
            start = os.lseek(self._fd, 0, os.SEEK_END)
        except OSError:
            start = None  # not seekable (a pipe, /dev/full): nothing to cut back
        done = 0
        try:
            while done < len(data):
                n = os.write(self._fd, data[done:])
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
        except OSError:
            if done:
                self._cut_back(start)
            raise
        self._torn = False
        self._written()
        self.stats.delivered += 1
        if self._failing:
            self._failing = False
            self._retry_delay = self._retry_min_s
            logger.info("%s: %s is writable again", self.name, self.path)

    def _cut_back(self, start: int | None) -> None:
        if start is not None:
            try:
                os.ftruncate(self._fd, start)
                return
            except OSError:
                pass
        self._torn = True
        logger.warning("%s: a write to %s failed half-way and could not be undone", self.name, self.path)

    def _on_write_error(self, exc: OSError) -> None:
        self.stats.failed += 1
        if not self._failing:
            self._failing = True
            logger.warning(
                "%s: cannot write %s (%s); keeping events in %s and retrying",
                self.name,
                self.path,
                exc.strerror or exc,
                self.spool_dir,
            )
        now = time.monotonic()
        self._next_retry = now + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self._retry_max_s)

    # ------------------------------------------------------------ spool

    def _open_spool(self) -> None:
        try:
            self._spool = Spool(self.spool_dir)
        except SinkError as exc:
            logger.error("%s: %s", self.name, exc.one_line())

    def _keep(self, record: str) -> None:
        if self._spool is None:
            self._open_spool()
        if self._spool is not None:
            try:
                self._spool.append(record)
                self.stats.spooled += 1
                return
            except SinkError as exc:
                logger.error("%s: %s; holding the event in memory", self.name, exc.one_line())
        self._memory.append(record)

    def _resend(self) -> None:
        """Write the spool, oldest first, then what is held in memory; stop at the first failure."""
        spool = self._spool
        while spool is not None and (path := spool.oldest()) is not None:
            read = spool.read(path)
            records = read.records
            done = self._skip.get(path, 0)
            failed = False
            for record in records[done:]:
                try:
                    self._write_record(record)
                except OSError as exc:
                    self._on_write_error(exc)
                    failed = True
                    break
                except ValueError:
                    self.stats.dropped += 1
                    logger.error(
                        "%s: dropping unreadable spool record in %s: %.200s", self.name, path, record
                    )
                done += 1
                self.stats.resent += 1
            try:
                if done >= len(records):
                    spool.remove(path)
                elif done:
                    spool.rewrite(path, records[done:])
                self._skip.pop(path, None)
            except OSError as exc:
                # The segment is intact; remember how much of it is in the file so it is not written twice.
                self._skip[path] = done
                logger.warning("%s: cannot update spool %s (%s)", self.name, path, exc.strerror or exc)
                if not failed:
                    self._on_write_error(exc)
                return
            if failed:
                return
        while self._memory:
            try:
                self._write_record(self._memory[0])
            except OSError as exc:
                self._on_write_error(exc)
                return
            self._memory.pop(0)
            self.stats.resent += 1


def _event_id(record: str) -> str:
    try:
        return PlateEvent.from_json(record).event_id
    except ValueError:
        return "?"
