"""The `Sink` interface: where events go. Delivery failures are spooled and retried, never dropped."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..events.model import PlateEvent
from ..registry import Registry


@runtime_checkable
class Sink(Protocol):
    """Receives finished events.

    `publish` must not block the pipeline for long and must not lose the event: if the destination is
    unreachable, the event is kept (on disk for broker sinks) and re-sent later.
    """

    name: str

    def publish(self, event: PlateEvent) -> None: ...

    def poll(self) -> None:
        """Give the sink a chance to retry / serve callbacks; called once per processed frame."""

    def flush(self, timeout_s: float) -> int:
        """Try to deliver everything pending for up to `timeout_s`; return how many are still undelivered."""

    def close(self) -> None: ...


SINKS: Registry[type] = Registry("sink")
