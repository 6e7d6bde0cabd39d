"""The `Sink` interface: where events go. Delivery failures are spooled and retried, never dropped."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from ..config import (
    CsvSinkConfig,
    DbSinkConfig,
    HttpSinkConfig,
    JsonlSinkConfig,
    KafkaSinkConfig,
    MqttSinkConfig,
)
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

#: Any one sink configuration (the members of `config.SinkConfig`).
SinkConfigType = (
    JsonlSinkConfig | CsvSinkConfig | KafkaSinkConfig | MqttSinkConfig | DbSinkConfig | HttpSinkConfig
)


def sink_name(config: SinkConfigType) -> str:
    """A stable, file-name-safe name for a sink, used in logs and as its spool folder name.

    Example:
        >>> sink_name(KafkaSinkConfig(bootstrap_servers="127.0.0.1:9092", topic="alpr.events"))
        'kafka-127.0.0.1-9092-alpr.events'
    """
    if isinstance(config, KafkaSinkConfig):
        target = f"{config.bootstrap_servers}-{config.topic}"
    elif isinstance(config, MqttSinkConfig):
        target = f"{config.host}-{config.port}-{config.topic}"
    elif isinstance(config, (DbSinkConfig, HttpSinkConfig)):
        # no credentials in a folder name
        target = re.sub(r"//[^/@]*@", "//", config.url)
    else:
        target = config.path
    safe = re.sub(r"[^A-Za-z0-9._]+", "-", target).strip("-.") or "default"
    return f"{config.type}-{safe}"
