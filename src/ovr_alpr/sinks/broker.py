"""Delivery bookkeeping shared by the broker sinks: track each event until acknowledged, spool, re-send.

Kafka and MQTT only differ in how a message is handed to the client; see `BrokerSink`'s hooks.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SinkError
from ..events.model import PlateEvent
from .base import BaseSink
from .spool import Spool

logger = logging.getLogger(__name__)

_SERVE_SLICE_S = 0.05


@dataclass
class DeliveryStats:
    """Counters of one broker sink since it was created (events, not bytes).

    Attributes:
        published: events given to `publish`.
        delivered: acknowledgements received (live and re-sent events).
        failed: sends that failed or were not acknowledged in time (the event went to the spool).
        spooled: events written to the spool.
        resent: spooled events delivered (their segment removed).
        dropped: spool records that could not be parsed or spooled events that could not be written.
    """

    published: int = 0
    delivered: int = 0
    failed: int = 0
    spooled: int = 0
    resent: int = 0
    dropped: int = 0


@dataclass
class _InFlight:
    record: str
    key: str
    deadline: float
    drain_id: int | None  # None for a live event; else the spool segment drain it belongs to
    drain_index: int = -1


@dataclass
class _Drain:
    drain_id: int
    path: Path
    records: list[str]
    keys: list[str]
    unsent: deque[int]
    undelivered: set[int]
    pending: set[int] = field(default_factory=set)
    failed: bool = False


def _record_key(record: str) -> str | None:
    try:
        data = json.loads(record)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("camera_id"), str) or "event_id" not in data:
        return None
    return data["camera_id"]


class BrokerSink(BaseSink, ABC):
    """A sink that publishes to a broker and never loses an event.

    Every sent event is tracked until the client confirms it. A failed or unconfirmed event goes to the
    on-disk `Spool`; while the spool holds anything (or the broker is known down), new events are
    appended to it too, so they do not overtake the backlog (a send that fails is re-queued at the
    end, so order is kept only roughly; consumers should sort by `captured_at`). The spool is re-sent
    oldest segment first: one probe event while the broker is not known to be up, the rest once it is.
    Delivery is at least once: an event given up on (timeout, flush deadline, client restart) may
    still arrive and then arrive again when re-sent; consumers de-duplicate by `event_id`.

    Client callbacks may run on any thread: they only call the `_report_*` methods, which queue the
    outcome; all bookkeeping runs on the caller's thread in `publish`, `poll` and `flush`.

    Subclasses implement `_send`, `_serve` and `_close_client`, and may override `_discard_pending`,
    `_reset_client` and `_token_for`.

    Args:
        name: sink name (used in logs).
        spool_dir: folder of this sink's spool.
        ack_timeout_s: an event not confirmed within this many seconds is treated as failed.
        retry_min_s: first wait before re-sending the spool after a failure.
        retry_max_s: longest wait between re-send attempts (the wait doubles after each failure).
        close_timeout_s: how long `close` waits for unconfirmed events before spooling them.
        max_inflight: events handed to the client at once when re-sending the spool.
    """

    #: Whether to send a probe while the broker is known down (clients that report reconnects say no).
    probe_when_down: bool = True

    def __init__(
        self,
        name: str,
        spool_dir: str | Path,
        *,
        ack_timeout_s: float = 30.0,
        retry_min_s: float = 1.0,
        retry_max_s: float = 30.0,
        close_timeout_s: float = 1.0,
        max_inflight: int = 1000,
    ) -> None:
        self.name = name
        self.stats = DeliveryStats()
        self._spool = Spool(spool_dir)
        self._ack_timeout_s = ack_timeout_s
        self._retry_min_s = retry_min_s
        self._retry_max_s = max(retry_min_s, retry_max_s)
        self._close_timeout_s = close_timeout_s
        self._max_inflight = max(1, max_inflight)
        self._reports: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wakeup = threading.Event()
        self._inflight: dict[int, _InFlight] = {}
        self._tokens = itertools.count(1)
        self._drain_ids = itertools.count(1)
        self._drain: _Drain | None = None
        self._broker_up: bool | None = None
        self._next_retry = 0.0
        self._retry_delay = retry_min_s
        self._closed = False
        self._client_generation = 0
        self._interrupted = threading.Event()

    # ------------------------------------------------------------ hooks for subclasses

    @abstractmethod
    def _send(self, token: int, record: str, key: str) -> bool:
        """Hand one message to the client without blocking; False if the client refused it at once."""

    @abstractmethod
    def _serve(self, timeout_s: float) -> None:
        """Let the client run its callbacks, waiting at most `timeout_s` for one."""

    @abstractmethod
    def _close_client(self) -> None:
        """Stop the client; anything it still holds has already been spooled."""

    def _discard_pending(self) -> None:
        """Drop messages the client still holds (they were spooled); a best effort against duplicates."""
        return None

    def _reset_client(self) -> None:
        """Replace a client that reported itself unusable (called after its messages were spooled)."""
        return None

    def _token_for(self, ref: Any) -> int | None:
        """Map the reference a client callback reported to the token given to `_send`."""
        return ref

    # ------------------------------------------------------------ thread-safe reports from callbacks

    def _report_delivery(self, ref: Any, error: str | None) -> None:
        self._reports.put(("delivery", ref, error))
        self._wakeup.set()

    def _report_broker(self, up: bool, reason: str = "") -> None:
        self._reports.put(("broker", up, reason))
        self._wakeup.set()

    def _report_client_unusable(self, reason: str) -> None:
        # Tagged with the client generation, so a second report about the same client restarts it once.
        self._reports.put(("reset", reason, self._client_generation))
        self._wakeup.set()

    # ------------------------------------------------------------ the Sink interface

    def publish(self, event: PlateEvent) -> None:
        """Send the event, or append it to the spool when the broker is down or a backlog waits."""
        if self._closed:
            raise RuntimeError(f"sink {self.name} is closed")
        self.stats.published += 1
        self._process_reports()
        record = event.to_json()
        if self._broker_up is False or self._drain is not None or self._spool.count:
            self._spool_record(record)
        else:
            self._send_tracked(record, event.camera_id, None)

    def poll(self) -> None:
        """Serve client callbacks, expire unconfirmed events and re-send the spool when it is time."""
        if self._closed:
            return
        self._serve(0)
        self._step()

    def flush(self, timeout_s: float) -> int:
        """Deliver the in-flight events and the spool for up to `timeout_s`; return how many are left.

        This is the drain call (end of a run, shutdown): events still unconfirmed at the deadline are
        moved to the spool and re-sent later, so call `poll`, not `flush`, once per frame.
        """
        if self._closed:
            return self._spool.count
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            self._step()
            if not self._inflight and self._drain is None and not self._spool.count:
                return 0
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._interrupted.is_set():
                break
            self._serve(min(remaining, _SERVE_SLICE_S))
        self._abandon_inflight("flush interrupted" if self._interrupted.is_set() else "flush timed out")
        left = self._spool.count
        if left:
            logger.warning(
                "%s: %d event(s) undelivered after %.1f s, kept in %s",
                self.name,
                left,
                timeout_s,
                self.spool_dir,
            )
        return left

    def interrupt(self) -> None:
        """End `flush` now and from now on (unconfirmed events are spooled); safe from a signal handler."""
        self._interrupted.set()
        self._wakeup.set()

    def close(self) -> None:
        """Flush briefly, spool what is still unconfirmed, stop the client and release the spool."""
        if self._closed:
            return
        try:
            self.flush(self._close_timeout_s)
        finally:
            self._closed = True
            try:
                self._close_client()
            finally:
                left = self._spool.count
                self._spool.close()
                if left:
                    logger.warning(
                        "%s: %d undelivered event(s) in %s are re-sent on the next run",
                        self.name,
                        left,
                        self.spool_dir,
                    )

    # ------------------------------------------------------------ state

    @property
    def spool_dir(self) -> Path:
        """The folder where this sink keeps undelivered events."""
        return self._spool.directory

    @property
    def spooled(self) -> int:
        """Events on disk waiting to be re-sent."""
        return self._spool.count

    @property
    def inflight(self) -> int:
        """Events handed to the client and not yet confirmed."""
        return len(self._inflight)

    @property
    def broker_up(self) -> bool | None:
        """Whether the broker is reachable, as last observed (None = not known yet)."""
        return self._broker_up

    # ------------------------------------------------------------ bookkeeping (caller's thread only)

    def _step(self) -> None:
        self._process_reports()
        self._expire()
        self._pump()

    def _process_reports(self) -> None:
        while True:
            try:
                report = self._reports.get_nowait()
            except queue.Empty:
                return
            kind = report[0]
            if kind == "delivery":
                token = self._token_for(report[1])
                if token is not None:
                    if report[2] is None:
                        self._on_delivered(token)
                    else:
                        self._on_failed(token, report[2])
            elif kind == "broker":
                self._set_broker_up(report[1], report[2])
            elif kind == "reset" and report[2] == self._client_generation:
                self._client_generation += 1
                logger.warning("%s: client unusable (%s); restarting it", self.name, report[1])
                self._abandon_inflight("client restarted")
                self._reset_client()

    def _set_broker_up(self, up: bool, reason: str) -> None:
        if up and self._broker_up is not True:
            logger.info("%s: broker reachable%s", self.name, f" ({reason})" if reason else "")
            self._next_retry = 0.0
            self._retry_delay = self._retry_min_s
        elif not up and self._broker_up is not False:
            logger.warning(
                "%s: broker unreachable (%s); spooling events to %s", self.name, reason, self.spool_dir
            )
        self._broker_up = up

    def _send_tracked(self, record: str, key: str, drain_index: int | None) -> None:
        token = next(self._tokens)
        drain_id = self._drain.drain_id if drain_index is not None and self._drain is not None else None
        self._inflight[token] = _InFlight(
            record=record,
            key=key,
            deadline=time.monotonic() + self._ack_timeout_s,
            drain_id=drain_id,
            drain_index=-1 if drain_index is None else drain_index,
        )
        if drain_id is not None and self._drain is not None:
            self._drain.pending.add(drain_index)  # type: ignore[arg-type]
        if not self._send(token, record, key):
            self._on_failed(token, "client refused the message")

    def _on_delivered(self, token: int) -> None:
        item = self._inflight.pop(token, None)
        if item is None:
            return  # already given up on and spooled; the re-send will be a harmless duplicate
        self.stats.delivered += 1
        if self._broker_up is not True:
            self._set_broker_up(True, "message acknowledged")
        drain = self._drain
        if item.drain_id is not None and drain is not None and drain.drain_id == item.drain_id:
            drain.pending.discard(item.drain_index)
            drain.undelivered.discard(item.drain_index)

    def _on_failed(self, token: int, reason: str) -> None:
        item = self._inflight.pop(token, None)
        if item is None:
            return
        self.stats.failed += 1
        logger.debug("%s: delivery failed: %s", self.name, reason)
        drain = self._drain
        if item.drain_id is None:
            self._spool_record(item.record)
        elif drain is not None and drain.drain_id == item.drain_id:
            # The record is still in its segment; the segment is rewritten once nothing is pending.
            drain.pending.discard(item.drain_index)
            drain.failed = True
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        now = time.monotonic()
        if self._next_retry <= now:
            self._next_retry = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self._retry_max_s)

    def _expire(self) -> None:
        if not self._inflight:
            return
        now = time.monotonic()
        expired = []
        # Deadlines grow with insertion order, so stop at the first one still running.
        for token, item in self._inflight.items():
            if item.deadline > now:
                break
            expired.append(token)
        for token in expired:
            self._on_failed(token, f"not acknowledged within {self._ack_timeout_s:g} s")

    def _spool_record(self, record: str) -> None:
        try:
            self._spool.append(record)
        except SinkError as exc:
            self.stats.dropped += 1
            logger.error("%s: EVENT LOST, cannot spool it (%s): %s", self.name, exc.one_line(), record)
            return
        self.stats.spooled += 1

    def _pump(self) -> None:
        """Re-send the spool, one segment at a time, oldest first."""
        for _ in range(16):  # bounded work per call; the rest waits for the next poll
            now = time.monotonic()
            if self._drain is None:
                if now < self._next_retry or (self._broker_up is False and not self.probe_when_down):
                    return
                if not self._start_drain():
                    return
                continue
            drain = self._drain
            if not drain.pending and not drain.undelivered:
                self._spool.remove(drain.path)
                self.stats.resent += len(drain.records)
                logger.info(
                    "%s: re-sent %d spooled event(s) from %s", self.name, len(drain.records), drain.path.name
                )
                self._drain = None
                self._retry_delay = self._retry_min_s
                continue
            if drain.failed:
                if not drain.pending:
                    self._finish_drain()
                return
            if not drain.unsent:
                return
            if self._broker_up is True:
                room = self._max_inflight - len(drain.pending)
                for _ in range(min(room, len(drain.unsent))):
                    index = drain.unsent.popleft()
                    self._send_tracked(drain.records[index], drain.keys[index], index)
                    if drain.failed:
                        break
            elif not drain.pending and now >= self._next_retry:
                index = drain.unsent.popleft()
                logger.debug(
                    "%s: probing the broker with spooled event %d of %s", self.name, index, drain.path.name
                )
                self._send_tracked(drain.records[index], drain.keys[index], index)
            return

    def _start_drain(self) -> bool:
        path = self._spool.oldest()
        if path is None:
            return False
        read = self._spool.read(path)
        records: list[str] = []
        keys: list[str] = []
        for record in read.records:
            key = _record_key(record)
            if key is None:
                self.stats.dropped += 1
                logger.error(
                    "%s: dropping unreadable spool record in %s: %.200s", self.name, path.name, record
                )
                continue
            records.append(record)
            keys.append(key)
        if not records:
            self._spool.remove(path)
            return True
        if len(records) != len(read.records) or read.torn:
            self._spool.rewrite(path, records)
        self._drain = _Drain(
            drain_id=next(self._drain_ids),
            path=path,
            records=records,
            keys=keys,
            unsent=deque(range(len(records))),
            undelivered=set(range(len(records))),
        )
        return True

    def _finish_drain(self) -> None:
        """Keep the undelivered records of the segment being re-sent, in order, and stop re-sending it."""
        drain = self._drain
        if drain is None:
            return
        self._drain = None
        keep = [drain.records[i] for i in sorted(drain.undelivered)]
        delivered = len(drain.records) - len(keep)
        self.stats.resent += delivered
        try:
            self._spool.rewrite(drain.path, keep)
        except OSError as exc:
            # The old segment is intact (the rewrite is atomic): its delivered events will be sent twice.
            logger.warning(
                "%s: cannot rewrite %s (%s); some events may be re-sent twice", self.name, drain.path, exc
            )

    def _abandon_inflight(self, reason: str) -> None:
        """Move every unconfirmed event to the spool and tell the client to drop its copies."""
        live = [item.record for item in self._inflight.values() if item.drain_id is None]
        had_any = bool(self._inflight)
        self._inflight.clear()
        for record in live:
            self._spool_record(record)
        if self._drain is not None:
            self._finish_drain()
        if had_any:
            self._discard_pending()
        if live:
            logger.info("%s: %d unconfirmed event(s) moved to the spool (%s)", self.name, len(live), reason)
