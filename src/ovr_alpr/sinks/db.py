"""Event-store sink (`db:out/events.db`, `db:postgresql://...`): events and their crops go into `store`.

Writes happen on the pipeline's thread (an SQLite upsert takes about a millisecond). If the database is
unreachable (PostgreSQL down), events wait in the on-disk spool and are written once it is back.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..config import SinkConfig
from ..errors import OvrAlprError, SinkError, first_line
from ..events.model import PlateEvent
from .base import SINKS, BaseSink, sink_name
from .spool import Spool

logger = logging.getLogger(__name__)

_URL_KINDS = {"plate_url": "plate", "vehicle_url": "vehicle", "frame_url": "frame"}


def local_crops(event: PlateEvent) -> dict[str, Path]:
    """The event's crops that are files on this machine: kind -> path."""
    crops: dict[str, Path] = {}
    for attr, kind in _URL_KINDS.items():
        url = getattr(event.images, attr)
        if url and "://" not in url:
            path = Path(url)
            if path.is_file():
                crops[kind] = path
    return crops


class DbSinkConfig(SinkConfig):
    """`db:PATH` or `db:postgresql://...`: the event store (`ovr_alpr.store`)."""

    type: Literal["db"] = "db"
    url: str = Field(description="SQLite file path or postgresql://USER:PASS@HOST:PORT/DB")
    crops_dir: str | None = Field(default=None, description="default: crops/ next to the SQLite file")

    def target(self) -> str:
        return re.sub(r"//[^/@]*@", "//", self.url)  # no credentials in names and messages

    @classmethod
    def from_spec(cls, spec: str) -> DbSinkConfig | None:
        return cls(url=spec[3:]) if spec.startswith("db:") and len(spec) > 3 else None


@SINKS.register("db", config=DbSinkConfig)
class DbSink(BaseSink):
    """Upserts each event (by `event_id`) into the event store, with its local crop files.

    Args:
        config: database path or URL, crop folder.
        name: sink name; default from `sink_name(config)`.
        spool_dir: where events wait while the database cannot be written.
        retry_max_s: longest wait between attempts to reach the database.

    Raises:
        SinkError: the SQLite file cannot be opened, or the spool folder cannot be used.
    """

    def __init__(
        self,
        config: DbSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        retry_max_s: float = 30.0,
        **_: Any,
    ) -> None:
        self.name = name or sink_name(config)
        self.config = config
        spool_path = Path(spool_dir or config.spool_dir or Path("out") / "spool" / self.name)
        # crops for a PostgreSQL store default to OUT/crops, where the pipeline saves them (no copy)
        self._output_dir = spool_path.parent.parent
        self._spool = Spool(spool_path)
        self.spool_dir = spool_path
        self._retry_max_s = retry_max_s
        self._retry_delay = 1.0
        self._next_try = 0.0
        self.store: Any = None
        self.written = 0
        self._open()
        if self.store is None and not config.url.startswith(("postgresql://", "postgres://")):
            self._spool.close()
            raise SinkError(
                f"{self.name}: cannot open the event store {config.url}", "choose a writable path"
            )

    def _open(self) -> bool:
        if self.store is not None:
            return True
        try:
            from ..store import EventStore
        except ImportError as exc:
            raise SinkError(
                f"{self.name}: the event store needs SQLAlchemy ({exc.name} missing)",
                'pip install "ovr-alpr[serve]"',
            ) from None
        try:
            self.store = EventStore(
                self.config.url, crops_dir=self.config.crops_dir, output_dir=self._output_dir
            )
        except OvrAlprError as exc:
            logger.warning("%s: %s; events are spooled", self.name, exc.one_line())
            return False
        return True

    @property
    def spooled(self) -> int:
        """Events waiting in the spool for the database."""
        return self._spool.count

    def publish(self, event: PlateEvent) -> None:
        """Write the event now, or spool it when the database is unreachable or a backlog waits."""
        if self._spool.count or not self._write([event]):
            self._append(event)

    def poll(self) -> None:
        """Write the spooled events once the database is reachable again."""
        if self._spool.count and time.monotonic() >= self._next_try:
            self._drain()

    def flush(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self._spool.count:
            self._drain()
            if not self._spool.count or time.monotonic() >= deadline:
                break
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        return self._spool.count

    def close(self) -> None:
        try:
            self.flush(1.0)
        finally:
            if self._spool.count:
                logger.warning(
                    "%s: %d event(s) wait in %s for the next run",
                    self.name,
                    self._spool.count,
                    self._spool.directory,
                )
            self._spool.close()
            if self.store is not None:
                self.store.close()

    # ------------------------------------------------------------ internals

    def _write(self, events: list[PlateEvent]) -> bool:
        if not self._open():
            self._backoff()
            return False
        try:
            self.store.add(events, crops={e.event_id: local_crops(e) for e in events})
        except ValueError as exc:
            # An event the store refuses (bad id, not an image) would be refused forever: log it loudly.
            logger.error("%s: EVENT NOT STORED (%s): %s", self.name, exc, [e.event_id for e in events])
            return True
        except Exception as exc:
            logger.warning("%s: cannot write the event store (%s); spooling", self.name, first_line(exc))
            self._backoff()
            return False
        self.written += len(events)
        self._retry_delay = 1.0
        return True

    def _append(self, event: PlateEvent) -> None:
        try:
            self._spool.append(event.to_json())
        except SinkError as exc:
            logger.error(
                "%s: EVENT LOST, cannot spool it (%s): %s", self.name, exc.one_line(), event.to_json()
            )

    def _drain(self) -> None:
        while self._spool.count:
            path = self._spool.oldest()
            if path is None:
                return
            records = self._spool.read(path).records
            events = []
            for record in records:
                try:
                    events.append(PlateEvent.from_json(record))
                except ValueError:
                    logger.error("%s: dropping unreadable spool record: %.200s", self.name, record)
            if events and not self._write(events):
                return
            self._spool.remove(path)

    def _backoff(self) -> None:
        self._next_try = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self._retry_max_s)
