"""Webhook sink (httpx): one HTTP POST per event, JSON or multipart with its images; undelivered events are
spooled and re-sent with back-off, like the broker sinks'.

A 2xx answer is a delivery. A connection error, a timeout, 5xx, 401/403/404/408/425/429 mean "try again
later" (the receiver is down, restarting or misconfigured): the event waits in the spool. Any other 4xx
means the receiver will never take this event; it is written to `<spool>/rejected.jsonl` (kept, not re-sent)
so it neither blocks the events behind it nor disappears.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import httpx
from pydantic import Field, field_validator

from ..config import SinkConfig
from ..errors import ConfigError
from .base import SINKS, masked, sink_name
from .broker import BrokerSink

logger = logging.getLogger(__name__)

#: Answers that mean "not now": the event is kept and re-sent.
RETRY_STATUSES = frozenset({401, 403, 404, 408, 425, 429})
REJECTED_FILE = "rejected.jsonl"


class WebhookSinkConfig(SinkConfig):
    """`webhook:https://HOST/PATH`: POST each event as JSON (or multipart with its plate/vehicle images)."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(description="http:// or https:// URL the events are POSTed to")
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers", repr=False)
    token: str | None = Field(default=None, repr=False, description="sent as `Authorization: <scheme> TOKEN`")
    auth_scheme: str = Field(default="Bearer", description="`Bearer` or `Token` (Plate Recognizer style)")
    timeout_s: float = Field(default=10.0, gt=0, description="connect + read timeout of one POST")
    multipart: bool = Field(
        default=False,
        description="send multipart/form-data: field `event` (the JSON) plus `plate_image`, `vehicle_image` "
        "and `frame_image` files when the event has them",
    )
    concurrency: int = Field(default=2, ge=1, le=32, description="POSTs in flight at once")
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = urlparse(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"webhook url {masked(value)!r} must be http(s)://HOST[:PORT]/PATH")
        try:
            url.port  # noqa: B018  (raises on a bad port)
        except ValueError:
            raise ValueError(f"webhook url {masked(value)!r} has an invalid port") from None
        return value

    def target(self) -> str:
        # Host, port and path only: a query string or user-info may hold a secret.
        url = urlparse(self.url)
        return f"{url.hostname}-{url.port or ''}{url.path}"

    @classmethod
    def from_spec(cls, spec: str) -> WebhookSinkConfig | None:
        """`webhook:http(s)://HOST[:PORT]/PATH`."""
        kind, sep, url = spec.partition(":")
        if kind != "webhook" or not sep:
            return None
        try:
            return cls(url=url)
        except ValueError as exc:
            raise ConfigError(
                f"cannot parse sink {masked(spec)!r}", "write it as webhook:https://HOST[:PORT]/PATH"
            ) from exc


@SINKS.register("webhook", config=WebhookSinkConfig)
class WebhookSink(BrokerSink):
    """POSTs each event to `config.url`; a 2xx answer confirms it.

    POSTs run on a small thread pool (`config.concurrency`); `publish` never waits for the network. While
    the receiver is down, events go to the spool; it is probed with the oldest spooled event after a
    doubling back-off (`retry_min_s` .. `retry_max_s`) and re-sent in order once one POST succeeds.
    Delivery is at least once (a POST that timed out may still have arrived): receivers de-duplicate by
    `event_id`, which is also sent as the `Idempotency-Key` header.

    Args:
        config: URL, headers, token, timeout, multipart.
        name: sink name; default from `sink_name(config)`.
        spool_dir: where undelivered events wait; default `config.spool_dir` or `out/spool/<name>`.
        transport: an httpx transport (tests); default the network.
        **delivery: `BrokerSink` tuning (`retry_min_s`, `retry_max_s`, `close_timeout_s`, ...).
    """

    def __init__(
        self,
        config: WebhookSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
        **delivery: Any,
    ) -> None:
        name = name or sink_name(config)
        # Few events queue behind the pool, so an event's deadline is about its own POST's timeout.
        delivery.setdefault("max_inflight", 4 * config.concurrency)
        delivery.setdefault("ack_timeout_s", config.timeout_s * 5 + 5)
        super().__init__(
            name, Path(spool_dir or config.spool_dir or Path("out") / "spool" / name), **delivery
        )
        self.config = config
        headers = {"User-Agent": "ovr-alpr", **config.headers}
        if config.token:
            headers["Authorization"] = f"{config.auth_scheme} {config.token}"
        self._client = httpx.Client(
            headers=headers,
            timeout=config.timeout_s,
            verify=config.verify_tls,
            transport=transport,
            follow_redirects=False,
        )
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix=f"{name}-post")
        self._generation = 0  # bumped by _discard_pending: queued POSTs of an older generation are skipped
        self._lock = threading.Lock()
        self._rejected_path = self.spool_dir / REJECTED_FILE
        self.rejected = 0

    # ------------------------------------------------------------ BrokerSink hooks

    def _send(self, token: int, record: str, key: str) -> bool:
        try:
            self._pool.submit(self._post, token, record, self._generation)
        except RuntimeError:  # the pool is shut down (closing)
            return False
        return True

    def _serve(self, timeout_s: float) -> None:
        if timeout_s > 0 and self._wakeup.wait(timeout_s):
            self._wakeup.clear()

    def _discard_pending(self) -> None:
        with self._lock:
            self._generation += 1

    def _close_client(self) -> None:
        self._discard_pending()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # ------------------------------------------------------------ the POST (pool threads)

    def _post(self, token: int, record: str, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # given up on and spooled already
        try:
            response = self._client.post(self.config.url, **self._request(record))
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._report_broker(False, f"POST {masked(self.config.url)} failed: {reason}")
            self._report_delivery(token, reason)
            return
        except Exception as exc:  # a bug must not leave the event in flight until its deadline
            logger.exception("%s: unexpected error posting an event", self.name)
            self._report_delivery(token, f"unexpected error: {exc}")
            return
        status = response.status_code
        if 200 <= status < 300:
            self._report_delivery(token, None)
        elif status >= 500 or status in RETRY_STATUSES:
            self._report_broker(False, f"{masked(self.config.url)} answered HTTP {status}")
            self._report_delivery(token, f"HTTP {status}")
        else:
            self._keep_rejected(record, status, response.text[:200])
            self._report_delivery(token, None)  # handled: kept aside, not re-sent

    def _request(self, record: str) -> dict[str, Any]:
        event = json.loads(record)
        headers = {"Idempotency-Key": str(event.get("event_id", ""))}
        if not self.config.multipart:
            return {
                "content": record.encode("utf-8"),
                "headers": {**headers, "Content-Type": "application/json"},
            }
        # The event is a part of its own (no file name), so the body is multipart even without images.
        files: dict[str, tuple[str | None, bytes, str]] = {
            "event": (None, record.encode("utf-8"), "application/json")
        }
        images = event.get("images") or {}
        for field, key in (
            ("plate_image", "plate_url"),
            ("vehicle_image", "vehicle_url"),
            ("frame_image", "frame_url"),
        ):
            path = images.get(key)
            if not path:
                continue
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                logger.debug("%s: image %s not attached: %s", self.name, path, exc)
                continue
            files[field] = (
                Path(path).name,
                data,
                mimetypes.guess_type(path)[0] or "application/octet-stream",
            )
        return {"files": files, "headers": headers}

    def _keep_rejected(self, record: str, status: int, body: str) -> None:
        with self._lock:
            self.rejected += 1
            try:
                with open(self._rejected_path, "a", encoding="utf-8") as handle:
                    handle.write(record + "\n")
            except OSError as exc:
                logger.error(
                    "%s: EVENT LOST, receiver rejected it (HTTP %d) and it cannot be kept: %s: %s",
                    self.name,
                    status,
                    exc,
                    record,
                )
                return
        logger.error(
            "%s: receiver rejected an event with HTTP %d (%s); kept in %s, not re-sent",
            self.name,
            status,
            body.strip().replace("\n", " "),
            self._rejected_path,
        )
