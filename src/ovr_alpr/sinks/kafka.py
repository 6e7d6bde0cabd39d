"""Kafka sink (confluent-kafka): idempotent, acks=all, keyed by camera; undelivered events are spooled."""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, Producer
from pydantic import Field

from ..config import SinkConfig
from ..errors import ConfigError, SinkError
from .base import SINKS, broker_url_parts, masked, sink_name
from .broker import BrokerSink

logger = logging.getLogger(__name__)

#: librdkafka settings used unless `KafkaSinkConfig.extra` overrides them.
DEFAULT_PRODUCER_SETTINGS: dict[str, Any] = {
    "client.id": "ovr-alpr",
    "acks": "all",
    "enable.idempotence": True,
    # An unconfirmed event comes back (to the spool) after this long; librdkafka retries until then.
    "message.timeout.ms": 15000,
    "linger.ms": 5,
    # Notice a restarted broker within seconds, not librdkafka's default 10 s back-off.
    "reconnect.backoff.ms": 200,
    "reconnect.backoff.max.ms": 2000,
    "socket.keepalive.enable": True,
    "log.connection.close": False,
}


class _LibrdkafkaLog:
    """Receives librdkafka's log lines (confluent-kafka calls `.log(level, msg, *args)`), one level down.

    librdkafka logs every failed reconnect as an error; the sink already warns once when the broker
    becomes unreachable, so its lines are details: ERROR and above become INFO, the rest DEBUG.
    """

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def log(self, level: int, msg: str, *args: object) -> None:
        self._logger.log(logging.INFO if level >= logging.ERROR else logging.DEBUG, msg, *args)


_TOPIC_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")
_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
_UNREACHABLE = (KafkaError._MSG_TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)


class KafkaSinkConfig(SinkConfig):
    """`kafka://HOST:PORT/TOPIC`: acks=all, idempotent producer; key = camera id."""

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str
    topic: str = "alpr.events"
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    extra: dict[str, Any] = Field(default_factory=dict, description="more librdkafka producer settings")

    def target(self) -> str:
        return f"{self.bootstrap_servers}-{self.topic}"

    @classmethod
    def from_spec(cls, spec: str) -> KafkaSinkConfig | None:
        if not spec.startswith("kafka://"):
            return None
        host, port, topic, url = broker_url_parts(spec)
        if url.username is not None:
            raise ConfigError(
                f"sink {masked(spec)!r}: credentials in a kafka URL are not supported",
                "set sasl.username / sasl.password under the sink's extra: in the config file",
            )
        return cls(bootstrap_servers=f"{host}:{port or 9092}", **({"topic": topic} if topic else {}))


@SINKS.register("kafka", config=KafkaSinkConfig)
class KafkaSink(BrokerSink):
    """Publishes each event as JSON to `config.topic`, key = camera id, and confirms every delivery.

    Args:
        config: bootstrap servers, topic, compression and extra librdkafka settings
            (`message.timeout.ms` there sets how long an event may stay unconfirmed before it is spooled).
        name: sink name; default from `sink_name(config)`.
        spool_dir: where undelivered events wait; default `config.spool_dir` or `out/spool/<name>`.
        **delivery: `BrokerSink` tuning (`retry_min_s`, `retry_max_s`, `close_timeout_s`, `max_inflight`).

    Raises:
        SinkError: a producer setting is invalid, or the spool folder cannot be used.
    """

    def __init__(
        self,
        config: KafkaSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        **delivery: Any,
    ) -> None:
        name = name or sink_name(config)
        if not _TOPIC_RE.fullmatch(config.topic):
            raise SinkError(
                f"kafka sink {name}: invalid topic {config.topic!r}",
                "use 1-249 characters from a-z A-Z 0-9 . _ -",
            )
        self.config = config
        self.topic = config.topic
        self._settings: dict[str, Any] = {
            **DEFAULT_PRODUCER_SETTINGS,
            "bootstrap.servers": config.bootstrap_servers,
            "compression.type": config.compression,
            **config.extra,
        }
        try:
            timeout_ms = float(self._settings["message.timeout.ms"])
        except (TypeError, ValueError):
            raise SinkError(
                f"kafka sink {name}: message.timeout.ms must be a number, got "
                f"{self._settings['message.timeout.ms']!r}",
                "set sinks[].extra.message.timeout.ms in milliseconds",
            ) from None
        if str(self._settings.get("acks")) not in ("all", "-1"):
            logger.warning(
                "%s: acks=%s can lose events the broker accepted; acks=all is safer",
                name,
                self._settings.get("acks"),
            )
        # librdkafka reports the timeout itself; the margin only catches a report that never comes.
        delivery.setdefault("ack_timeout_s", timeout_ms / 1000.0 + 5.0)
        self._producer = self._make_producer(name)
        super().__init__(
            name, Path(spool_dir or config.spool_dir or Path("out") / "spool" / name), **delivery
        )

    def _make_producer(self, name: str) -> Producer:
        settings = {
            **self._settings,
            "error_cb": self._on_error,
            "logger": _LibrdkafkaLog(f"{__name__}.librdkafka"),
        }
        try:
            return Producer(settings)
        except (KafkaException, ValueError, TypeError) as exc:
            raise SinkError(
                f"kafka sink {name}: invalid producer setting: {exc}",
                "fix sinks[].extra (librdkafka property names and values)",
            ) from None

    # ------------------------------------------------------------ client callbacks (librdkafka poll)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._report_client_unusable(error.str())
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._report_broker(False, error.str())
        else:
            logger.debug("%s: %s", self.name, error.str())

    def _on_delivery(self, token: int, error: KafkaError | None, _message: object) -> None:
        if error is None:
            self._report_delivery(token, None)
            return
        code = error.code()
        self._report_delivery(token, error.str())
        if code in _PURGED:
            return
        if error.fatal():
            self._report_client_unusable(error.str())
        elif code in _UNREACHABLE:
            self._report_broker(False, error.str())

    # ------------------------------------------------------------ BrokerSink hooks

    def _send(self, token: int, record: str, key: str) -> bool:
        try:
            self._producer.produce(
                self.topic,
                value=record.encode("utf-8"),
                key=key.encode("utf-8"),
                on_delivery=functools.partial(self._on_delivery, token),
            )
        except BufferError:
            logger.debug("%s: producer queue full", self.name)
            return False
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is not None and error.fatal():
                self._report_client_unusable(error.str())
            logger.debug("%s: produce failed: %s", self.name, exc)
            return False
        return True

    def _serve(self, timeout_s: float) -> None:
        try:
            self._producer.poll(timeout_s)
        # confluent-kafka raises a fatal producer error from poll(), sometimes as a SystemError because the
        # error is still pending while it calls the delivery callbacks.
        except (KafkaException, SystemError) as exc:
            self._report_client_unusable(str(exc))

    def _discard_pending(self) -> None:
        try:
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.poll(0)
        except (KafkaException, SystemError) as exc:
            logger.debug("%s: purge after giving up on messages failed: %s", self.name, exc)

    def _reset_client(self) -> None:
        # A fatal idempotence error (e.g. a broker that lost the producer id) makes the producer unusable;
        # its unconfirmed messages are already spooled, so a fresh producer simply re-sends them.
        self._producer = self._make_producer(self.name)
        self._broker_up = None

    def _close_client(self) -> None:
        self._discard_pending()
        # Dropping the last reference destroys the producer and closes its broker connections now.
        del self._producer
