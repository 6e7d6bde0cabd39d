"""Output sinks: where finished events go (JSONL, CSV, Kafka, MQTT, webhook), built from the `sinks` list.

Broker and webhook sinks keep undelivered events in an on-disk spool (`out/spool/<sink name>`), re-sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..config import SinkConfig
from ..errors import OvrAlprError, SinkError
from ..events.model import PlateEvent
from . import csv, db, http, jsonl, kafka, mqtt, webhook  # noqa: F401  (each registers itself in SINKS)
from .base import SINKS, Sink, parse_sink_spec, sink_name
from .broker import BrokerSink, DeliveryStats
from .csv import CsvSink
from .jsonl import JsonlSink
from .kafka import KafkaSink
from .mqtt import MqttSink
from .spool import Spool
from .webhook import WebhookSink

logger = logging.getLogger(__name__)

__all__ = [
    "SINKS",
    "BrokerSink",
    "CsvSink",
    "DeliveryStats",
    "JsonlSink",
    "KafkaSink",
    "MqttSink",
    "Sink",
    "SinkSet",
    "Spool",
    "WebhookSink",
    "build_sinks",
    "parse_sink_spec",
    "sink_name",
]


def build_sinks(configs: Iterable[SinkConfig], output_dir: str | Path) -> list[Sink]:
    """Create one sink per config, in order.

    A broker sink's spool defaults to `output_dir/spool/<sink name>`. An unreachable broker is not an
    error (its events are spooled and re-sent); an unusable setting is.

    Raises:
        SinkError: a sink cannot be set up (path not writable, invalid producer setting, two sinks with
            the same name). Sinks built before the failing one are closed again.
    """
    sinks: list[Sink] = []
    seen: set[str] = set()
    try:
        for config in configs:
            name = sink_name(config)
            if name in seen:
                raise SinkError(f"sink {name} is configured twice", "remove the duplicate entry from sinks")
            seen.add(name)
            spool_dir = Path(config.spool_dir) if config.spool_dir else Path(output_dir) / "spool" / name
            sink_cls = SINKS.get(config.type)
            sinks.append(sink_cls(config, name=name, spool_dir=spool_dir))
            logger.info("sink %s ready", name)
    except OvrAlprError:
        for sink in sinks:
            sink.close()
        raise
    return sinks


class SinkSet:
    """Fans every call out to several sinks; one failing sink does not keep events from the others.

    Example:
        >>> sinks = SinkSet(build_sinks(config.sinks, Path(config.output_dir)))   # doctest: +SKIP
        >>> sinks.publish(event); sinks.poll()                                     # doctest: +SKIP
        >>> undelivered = sinks.flush(config.drain_timeout_s); sinks.close()       # doctest: +SKIP
    """

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def __len__(self) -> int:
        return len(self.sinks)

    def __iter__(self) -> Iterator[Sink]:
        return iter(self.sinks)

    def publish(self, event: PlateEvent, accept: Callable[[str], bool] | None = None) -> None:
        """Give the event to every sink (whose name `accept` takes, when given)."""
        for sink in self.sinks:
            if accept is not None and not accept(sink.name):
                continue
            try:
                sink.publish(event)
            except Exception:
                # A sink must not raise from publish; if one does (a bug), the others still get the event.
                logger.exception("sink %s failed to take event %s", sink.name, event.event_id)

    def poll(self) -> None:
        """Let every sink serve callbacks and retry."""
        for sink in self.sinks:
            try:
                sink.poll()
            except Exception:
                logger.exception("sink %s failed in poll", sink.name)

    def flush(self, timeout_s: float) -> int:
        """Flush all sinks at once for up to `timeout_s`; return the total still undelivered."""
        if len(self.sinks) <= 1:
            return sum(sink.flush(timeout_s) for sink in self.sinks)
        # In parallel, so a sink whose broker is down does not use up the others' time.
        with ThreadPoolExecutor(max_workers=len(self.sinks), thread_name_prefix="sink-flush") as pool:
            return sum(pool.map(lambda sink: sink.flush(timeout_s), self.sinks))

    def interrupt(self) -> None:
        """Cut every sink's `flush` short (second Ctrl-C / SIGTERM); safe from a signal handler."""
        for sink in self.sinks:
            sink.interrupt()

    def close(self) -> None:
        """Close every sink (each spools what it could not deliver)."""
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                logger.exception("sink %s failed to close", sink.name)

    def __enter__(self) -> SinkSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
