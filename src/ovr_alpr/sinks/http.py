"""HTTP sink (`http://HOST:PORT`): POSTs each event, with its crops, to an `ovr-alpr serve` API.

Built on `BrokerSink`, so an event the service did not confirm (down, restarting, timeout) waits in the
on-disk spool and is re-sent; the service upserts by `event_id`, so a re-sent event is stored once.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field

from ..config import SinkConfig
from ..errors import ConfigError
from .base import SINKS, sink_name
from .broker import BrokerSink
from .db import local_crops

logger = logging.getLogger(__name__)

TOKEN_ENV = "OVR_ALPR_API_TOKEN"


class HttpSinkConfig(SinkConfig):
    """`http://HOST:PORT`: `POST /api/events` of an `ovr-alpr serve`; spooled while it is down."""

    type: Literal["http"] = "http"
    url: str = Field(description="the service's base URL, e.g. http://127.0.0.1:8080")
    token: str | None = Field(default=None, description=f"API token; default env {TOKEN_ENV}")
    timeout_s: float = Field(default=10.0, gt=0)

    def target(self) -> str:
        return re.sub(r"//[^/@]*@", "//", self.url)

    @classmethod
    def from_spec(cls, spec: str) -> HttpSinkConfig | None:
        if not spec.startswith(("http://", "https://")):
            return None
        if not urlparse(spec).hostname:
            raise ConfigError(f"sink {spec!r} has no host", "write it as http://HOST:PORT")
        return cls(url=spec)


@SINKS.register("http", config=HttpSinkConfig)
class HttpSink(BrokerSink):
    """Sends events one by one from a worker thread to `<url>/api/events`.

    A 2xx answer confirms the event. No answer or a 5xx marks the service down (the event is spooled
    and re-sent); a 4xx other than 401/403/429 means the service refuses this event for good, which is
    logged as an error and not retried.

    Args:
        config: base URL, token, timeout.
        name: sink name; default from `sink_name(config)`.
        spool_dir: where undelivered events wait.
        **delivery: `BrokerSink` tuning (`ack_timeout_s`, `retry_min_s`, ...).
    """

    def __init__(
        self,
        config: HttpSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        **delivery: Any,
    ) -> None:
        name = name or sink_name(config)
        super().__init__(
            name, Path(spool_dir or config.spool_dir or Path("out") / "spool" / name), **delivery
        )
        self.config = config
        base = config.url.rstrip("/")
        self.endpoint = base if base.endswith("/api/events") else f"{base}/api/events"
        self._token = config.token or os.environ.get(TOKEN_ENV)
        self._queue: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name=f"{name}-http", daemon=True)
        self._worker.start()

    def _body(self, record: str) -> bytes:
        data = json.loads(record)
        from ..events.model import PlateEvent

        crops = {}
        for kind, path in local_crops(PlateEvent.model_validate(data)).items():
            try:
                crops[kind] = base64.b64encode(path.read_bytes()).decode("ascii")
            except OSError:
                continue
        if crops:
            data["crops"] = crops
        return json.dumps(data).encode("utf-8")

    def _post(self, record: str) -> str | None:
        """POST one record; None when confirmed, else why not."""
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self.endpoint, data=self._body(record), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                response.read()
            self._report_broker(True, f"{self.endpoint} answered")
            return None
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            if exc.code in (401, 403, 429) or exc.code >= 500:
                if exc.code >= 500:
                    self._report_broker(False, f"HTTP {exc.code}")
                return f"HTTP {exc.code}: {detail}"
            logger.error(
                "%s: the service refused an event for good (HTTP %d: %s): %.300s",
                self.name,
                exc.code,
                detail,
                record,
            )
            return None
        except (OSError, ValueError) as exc:
            self._report_broker(False, str(getattr(exc, "reason", exc)))
            return f"no answer: {getattr(exc, 'reason', exc)}"

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            token, record = item
            self._report_delivery(token, self._post(record))

    # ------------------------------------------------------------ BrokerSink hooks

    def _send(self, token: int, record: str, key: str) -> bool:
        self._queue.put((token, record))
        return True

    def _serve(self, timeout_s: float) -> None:
        if timeout_s > 0 and self._wakeup.wait(timeout_s):
            self._wakeup.clear()

    def _discard_pending(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            return

    def _close_client(self) -> None:
        self._discard_pending()
        self._queue.put(None)
        self._worker.join(timeout=self.config.timeout_s + 1)
