"""The `Sink` interface: where events go. Delivery failures are spooled and retried, never dropped."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable
from urllib.parse import urlparse

from ..config import SinkConfig
from ..errors import ConfigError
from ..events.model import PlateEvent
from ..registry import Registry, registry


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


SINKS: Registry[type] = registry("sink")


def sink_name(config: SinkConfig) -> str:
    """A stable, file-name-safe name for a sink, used in logs and as its spool folder name.

    Example:
        >>> from ovr_alpr.sinks.kafka import KafkaSinkConfig
        >>> sink_name(KafkaSinkConfig(bootstrap_servers="127.0.0.1:9092", topic="alpr.events"))
        'kafka-127.0.0.1-9092-alpr.events'
    """
    safe = re.sub(r"[^A-Za-z0-9._]+", "-", config.target()).strip("-.") or "default"
    return f"{config.type}-{safe}"


def broker_url_parts(spec: str) -> tuple[str, int | None, str]:
    """(host, port or None, topic) of `SCHEME://HOST:PORT/TOPIC`; ConfigError when host or port is bad."""
    url = urlparse(spec)
    if not url.hostname:
        raise ConfigError(f"sink {spec!r} has no host", f"write it as {url.scheme}://HOST:PORT/TOPIC")
    try:
        port = url.port
    except ValueError:
        raise ConfigError(f"sink {spec!r} has an invalid port", "use a number 1-65535") from None
    return url.hostname, port, url.path.lstrip("/")


def parse_sink_spec(spec: str) -> SinkConfig:
    """`jsonl:PATH`, `csv:PATH`, `kafka://HOST:PORT/TOPIC`, ... -> the section of the sink that takes it."""
    for name in SINKS.names():
        config = SINKS.config_class(name).from_spec(spec)
        if config is not None:
            return config
    raise ConfigError(
        f"cannot parse sink {spec!r}",
        "use jsonl:PATH, csv:PATH, kafka://HOST:PORT/TOPIC or mqtt://HOST:PORT/TOPIC",
    )
