"""The `Sink` interface: where events go. Delivery failures are spooled and retried, never dropped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import ParseResult, urlparse

from ..config import SinkConfig
from ..errors import ConfigError
from ..events.model import PlateEvent
from ..registry import Registry, registry


@runtime_checkable
class Sink(Protocol):
    """Receives finished events.

    `publish` must not block the pipeline for long and must not lose the event: if the destination is
    unreachable, the event is kept (in the on-disk spool) and re-sent later. `BaseSink` gives the optional
    parts (no spool, no stats, nothing to interrupt) to sinks that need none.
    """

    name: str
    spool_dir: Path | None
    stats: Any

    @property
    def spooled(self) -> int:
        """Events waiting in this sink's spool (or memory) for a retry."""

    def publish(self, event: PlateEvent) -> None: ...

    def poll(self) -> None:
        """Give the sink a chance to retry / serve callbacks; called once per processed frame."""

    def flush(self, timeout_s: float) -> int:
        """Try to deliver everything pending for up to `timeout_s`; return how many are still undelivered."""

    def interrupt(self) -> None:
        """Cut a running `flush` short (second Ctrl-C / SIGTERM); safe from a signal handler."""

    def close(self) -> None: ...


class BaseSink:
    """Defaults for the optional parts of `Sink`: a sink with no spool, no delivery stats, no retries."""

    name: str = "sink"
    spool_dir: Path | None = None
    stats: Any = None

    @property
    def spooled(self) -> int:
        return 0

    def poll(self) -> None:
        """Nothing to retry."""

    def flush(self, timeout_s: float) -> int:
        return 0

    def interrupt(self) -> None:
        """Nothing to cut short."""

    def close(self) -> None:
        """Nothing to release."""


SINKS: Registry[type] = registry("sink")


def sink_name(config: SinkConfig) -> str:
    """A stable, file-name-safe name for a sink (its `name`, else from its target), used in logs and as its
    spool folder name.

    Example:
        >>> from ovr_alpr.sinks.kafka import KafkaSinkConfig
        >>> sink_name(KafkaSinkConfig(bootstrap_servers="127.0.0.1:9092", topic="alpr.events"))
        'kafka-127.0.0.1-9092-alpr.events'
    """
    if config.name:
        return config.name
    safe = re.sub(r"[^A-Za-z0-9._]+", "-", config.target()).strip("-.") or "default"
    return f"{config.type}-{safe}"


def masked(spec: str) -> str:
    """A sink URL as it may be printed: `mqtt://user:secret@host/x` -> `mqtt://user:***@host/x`."""
    head, sep, rest = spec.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return spec
    userinfo, _, hostpart = rest.partition("@")
    user = userinfo.split(":", 1)[0]
    return f"{head}://{user}{':***' if ':' in userinfo else ''}@{hostpart}"


def broker_url_parts(spec: str) -> tuple[str, int | None, str, ParseResult]:
    """(host, port or None, topic, parsed URL) of `SCHEME://HOST:PORT/TOPIC`; ConfigError when host or port
    is bad (the message masks a password)."""
    url = urlparse(spec)
    shown = masked(spec)
    if not url.hostname:
        raise ConfigError(f"sink {shown!r} has no host", f"write it as {url.scheme}://HOST:PORT/TOPIC")
    try:
        port = url.port
    except ValueError:
        raise ConfigError(f"sink {shown!r} has an invalid port", "use a number 1-65535") from None
    return url.hostname, port, url.path.lstrip("/"), url


def parse_sink_spec(spec: str) -> SinkConfig:
    """`jsonl:PATH`, `csv:PATH`, `kafka://HOST:PORT/TOPIC`, ... -> the section of the sink that takes it."""
    for name in SINKS.names():
        config = SINKS.config_class(name).from_spec(spec)
        if config is not None:
            return config
    raise ConfigError(
        f"cannot parse sink {masked(spec)!r}",
        "use jsonl:PATH, csv:PATH, kafka://HOST:PORT/TOPIC, mqtt://HOST:PORT/TOPIC or webhook:https://HOST/PATH",
    )
