"""Durable on-disk spool: events a sink could not deliver wait here, across restarts, until re-sent.

Append-only JSONL segment files, fsynced on every append; a segment is removed or rewritten atomically
once (part of) it is delivered, so a crash at any point loses nothing (it may re-send a few events).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import SinkError

logger = logging.getLogger(__name__)

_SEGMENT_RE = re.compile(r"^(\d{12})\.jsonl$")
_LOCK_NAME = ".lock"


@dataclass(frozen=True)
class SegmentRead:
    """The records of one segment as read back.

    Attributes:
        path: the segment file.
        records: the complete lines, oldest first, without their newline.
        torn: lines skipped because the writer died mid-line (or the line is not UTF-8).
    """

    path: Path
    records: list[str]
    torn: int


def _fsync_dir(path: Path) -> None:
    # A new or removed file name is only durable once its directory entry is synced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Append-only, fsynced queue of text records (one event JSON per line) in one folder.

    Not thread-safe: one sink owns it and calls it from one thread. Two spools on the same folder (in
    this or another process) are refused, since both would re-send the same events.

    Args:
        directory: the folder (created if missing).
        segment_max_records: records per segment file before a new one is started.

    Raises:
        SinkError: the folder cannot be created or written, or another spool holds it.

    Example:
        >>> spool = Spool(tmp_path / "spool")        # doctest: +SKIP
        >>> spool.append('{"event_id": "a1"}')       # doctest: +SKIP
        >>> spool.read(spool.oldest()).records       # doctest: +SKIP
        ['{"event_id": "a1"}']
    """

    def __init__(self, directory: str | Path, segment_max_records: int = 1000) -> None:
        self.directory = Path(directory)
        self.segment_max_records = max(1, segment_max_records)
        self.torn_lines = 0
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_file: BinaryIO | None = open(self.directory / _LOCK_NAME, "ab")  # noqa: SIM115
        except OSError as exc:
            raise SinkError(
                f"cannot create spool folder {self.directory}: {exc.strerror or exc}",
                "set the sink's spool_dir (or output_dir) to a writable folder",
            ) from None
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise SinkError(
                f"spool folder {self.directory} is in use by another sink or process",
                "give each sink its own spool_dir, or stop the other ovr-alpr instance",
            ) from None
        # Segment sequence number -> record count; every segment found at start is sealed.
        self._counts: dict[int, int] = {}
        for path in self.directory.iterdir():
            match = _SEGMENT_RE.match(path.name)
            if match:
                self._counts[int(match.group(1))] = self._count_lines(path)
            elif path.name.endswith(".tmp"):
                # A rewrite that died before its rename: the original segment is still complete.
                path.unlink()
        self._active_seq: int | None = None
        self._active: BinaryIO | None = None
        if self._counts:
            logger.info(
                "spool %s holds %d undelivered event(s) from an earlier run", self.directory, self.count
            )

    # ------------------------------------------------------------ writing

    def append(self, record: str) -> None:
        """Append one record (a line without newline) and fsync it.

        Raises:
            SinkError: the disk refused the write (full, read-only); the record is not stored.
        """
        if "\n" in record:
            raise ValueError("a spool record must be one line")
        data = record.encode("utf-8") + b"\n"
        if self._active is None or self._counts.get(self._active_seq or -1, 0) >= self.segment_max_records:
            self._open_new_segment()
        assert self._active is not None and self._active_seq is not None
        start = self._active.tell()
        done = 0
        try:
            while done < len(data):
                # unbuffered: a failed write leaves nothing behind in a buffer to be written again later
                n = self._active.write(data[done:])
                if not n:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
            os.fsync(self._active.fileno())
        except OSError as exc:
            if done:
                # Cut the torn line off; if that fails too, `read` skips it.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._active.fileno(), start)
            # Never append after a failed write.
            self.seal()
            raise SinkError(
                f"cannot write spool {self.directory}: {exc.strerror or exc}",
                "free disk space in the spool folder",
            ) from None
        self._counts[self._active_seq] += 1

    def seal(self) -> None:
        """Close the segment being appended to; the next append starts a new one."""
        if self._active is not None:
            with contextlib.suppress(OSError):
                self._active.close()
        self._active = None
        self._active_seq = None

    def _open_new_segment(self) -> None:
        self.seal()
        seq = max(self._counts, default=0) + 1
        path = self._segment_path(seq)
        try:
            self._active = open(path, "ab", buffering=0)  # noqa: SIM115
            _fsync_dir(self.directory)
        except OSError as exc:
            raise SinkError(
                f"cannot write spool {self.directory}: {exc.strerror or exc}",
                "check the spool folder's permissions",
            ) from None
        self._active_seq = seq
        self._counts[seq] = 0

    # ------------------------------------------------------------ reading and removing

    @property
    def count(self) -> int:
        """Records currently stored (undelivered events)."""
        return sum(self._counts.values())

    def segments(self) -> list[Path]:
        """All segment files, oldest first (including the one being appended to)."""
        return [self._segment_path(seq) for seq in sorted(self._counts)]

    def oldest(self) -> Path | None:
        """The oldest segment (sealing the active one if it is the oldest); None when nothing is stored."""
        for seq in sorted(self._counts):
            if seq == self._active_seq:
                # The active segment is always the newest one.
                if self._counts[seq] == 0:
                    return None
                self.seal()
            return self._segment_path(seq)
        return None

    def read(self, path: Path) -> SegmentRead:
        """Read a sealed segment; a torn (unterminated or undecodable) line is skipped and counted."""
        data = path.read_bytes()
        lines = data.split(b"\n")
        # A complete file ends with a newline, so the last chunk is empty unless the writer died mid-line.
        tail = lines.pop()
        records: list[str] = []
        torn = 1 if tail else 0
        for line in lines:
            if not line:
                continue
            try:
                records.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                torn += 1
        if torn:
            self.torn_lines += torn
            logger.warning(
                "spool segment %s: skipped %d torn line(s) left by an interrupted write", path, torn
            )
        seq = self._seq(path)
        if seq is not None and seq != self._active_seq:
            self._counts[seq] = len(records)
        return SegmentRead(path=path, records=records, torn=torn)

    def remove(self, path: Path) -> None:
        """Delete a sealed segment whose records were all delivered."""
        seq = self._seq(path)
        if seq == self._active_seq:
            self.seal()
        path.unlink(missing_ok=True)
        _fsync_dir(self.directory)
        if seq is not None:
            self._counts.pop(seq, None)

    def rewrite(self, path: Path, records: list[str]) -> None:
        """Atomically replace a sealed segment by the records still undelivered (removes it if none)."""
        if not records:
            self.remove(path)
            return
        seq = self._seq(path)
        if seq == self._active_seq:
            self.seal()
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write("".join(r + "\n" for r in records).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        if seq is not None:
            self._counts[seq] = len(records)

    def close(self) -> None:
        """Close the active segment and release the folder lock. Stored records stay on disk."""
        self.seal()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------ helpers

    def _segment_path(self, seq: int) -> Path:
        return self.directory / f"{seq:012d}.jsonl"

    @staticmethod
    def _seq(path: Path) -> int | None:
        match = _SEGMENT_RE.match(path.name)
        return int(match.group(1)) if match else None

    @staticmethod
    def _count_lines(path: Path) -> int:
        # Complete lines only; a torn tail is not counted (and is skipped when read).
        return path.read_bytes().count(b"\n")

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
