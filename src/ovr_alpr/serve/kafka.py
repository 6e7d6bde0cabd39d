"""Kafka ingest: a consumer group reads `PlateEvent` JSON from a topic into the store.

Offsets are committed only after the batch is stored, so a crash re-reads (never skips) events; the
store upserts by `event_id`, so re-read events are not stored twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ..events.model import PlateEvent

if TYPE_CHECKING:
    from .service import EventService

logger = logging.getLogger(__name__)


def parse_kafka_target(target: str) -> tuple[str, str]:
    """`HOST:PORT/TOPIC` (optionally `kafka://`) -> (bootstrap servers, topic)."""
    address, _, topic = target.removeprefix("kafka://").partition("/")
    return address, topic


class KafkaIngest:
    """Consumes `topic` in consumer group `group` on a thread of its own; `stop()` ends it.

    Args:
        target: `HOST:PORT/TOPIC`.
        group: consumer group id (several `serve` processes in one group share the partitions).
        service: where events go (`EventService.ingest`, source `kafka`).
        batch: messages read before one store write and one commit.
    """

    def __init__(
        self, target: str, group: str, service: EventService, batch: int = 500, **extra: Any
    ) -> None:
        self.bootstrap, self.topic = parse_kafka_target(target)
        self.group = group
        self.service = service
        self.batch = batch
        self.extra = extra
        self.consumed = 0
        self.stored = 0
        self.invalid = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-ingest", daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)

    def _consumer(self) -> Any:
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
                # a member that died is noticed (and its partitions handed on) within seconds
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000,
                **self.extra,
            }
        )
        consumer.subscribe([self.topic], on_assign=lambda *_: self.ready.set())
        return consumer

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            consumer = None
            try:
                consumer = self._consumer()
                logger.info("kafka: consuming %s from %s as group %s", self.topic, self.bootstrap, self.group)
                while not self._stop.is_set():
                    self._step(consumer)
                    delay = 1.0
            except Exception as exc:
                # Uncommitted messages are delivered again to the next consumer: nothing is skipped.
                logger.warning("kafka: %s; reconnecting in %.0f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                if consumer is not None:
                    try:
                        consumer.close()
                    except Exception:  # closing a broken consumer may fail too
                        logger.debug("kafka: close failed", exc_info=True)

    def _step(self, consumer: Any) -> None:
        messages = consumer.consume(num_messages=self.batch, timeout=0.5)
        if not messages:
            return
        events: list[PlateEvent] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise RuntimeError(f"consumer error: {error}")
                logger.debug("kafka: %s", error)
                continue
            self.consumed += 1
            try:
                events.append(PlateEvent.from_json(message.value()))
            except ValueError as exc:
                self.invalid += 1
                logger.error(
                    "kafka: skipping a message that is not an event (%s): %.200r", exc, message.value()
                )
        self.service.metrics.kafka_consumed.inc(len(messages))
        if events:
            started = time.perf_counter()
            try:
                self.service.ingest(events, source="kafka")
            except ValueError as exc:
                # One bad event must not block the partition: store the others one by one.
                logger.error("kafka: batch refused (%s); storing events one by one", exc)
                for ev in events:
                    try:
                        self.service.ingest([ev], source="kafka")
                    except ValueError as one:
                        self.invalid += 1
                        logger.error("kafka: event %s not stored: %s", ev.event_id, one)
            self.stored += len(events)
            logger.debug(
                "kafka: stored %d event(s) in %.1f ms", len(events), (time.perf_counter() - started) * 1e3
            )
        consumer.commit(asynchronous=False)
        self.service.metrics.kafka_lag_commits.inc()
