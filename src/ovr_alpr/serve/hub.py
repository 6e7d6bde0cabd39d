"""Fan-out of live messages (events, alerts, camera status) to the page's server-sent-event streams."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)


class LiveHub:
    """Publish from any thread; each SSE client reads its own bounded queue on the event loop.

    A client too slow to keep up loses the oldest messages, never blocks the publisher.
    """

    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._clients: set[asyncio.Queue[str]] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def clients(self) -> int:
        return len(self._clients)

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        with self._lock:
            self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._clients.discard(queue)

    def publish(self, kind: str, data: Any) -> None:
        """Send `data` (JSON-able) as an SSE message of type `kind` to every client."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        message = f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        try:
            loop.call_soon_threadsafe(self._deliver, message)
        except RuntimeError:  # loop shutting down
            return

    def _deliver(self, message: str) -> None:
        with self._lock:
            clients = list(self._clients)
        for queue in clients:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)
