"""Kafka ingest against the real tansu broker: a consumer group stores every event once, commits offsets
only after the insert, and a restarted consumer neither skips nor duplicates."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ovr_alpr.serve.service import EventService
from ovr_alpr.serve.settings import ServeSettings
from service_fixtures import minutes, plate_event, wait_until

pytestmark = pytest.mark.integration

TOPIC = "alpr.events"
GROUP = "ovr-alpr-serve-test"


def produce(address: str, payloads: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": address})
    for payload in payloads:
        producer.produce(TOPIC, payload, key=b"gate-1")
    assert producer.flush(15) == 0


def committed(address: str) -> int:
    consumer = Consumer({"bootstrap.servers": address, "group.id": GROUP})
    try:
        partitions = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        parts = consumer.committed([TopicPartition(TOPIC, p) for p in partitions], timeout=10)
        return sum(max(p.offset, 0) for p in parts)
    finally:
        consumer.close()


def test_consumer_group_stores_each_event_once(tansu, tmp_path) -> None:
    events = [plate_event(f"AB{i:03d}CD", at=minutes(i)) for i in range(20)]
    # at-least-once upstream: five events published twice, plus one message that is not an event
    produce(tansu.address, [e.to_json().encode() for e in events + events[:5]] + [b"not json"])
    settings = ServeSettings(
        db=str(tmp_path / "e.db"),
        kafka=f"{tansu.address}/{TOPIC}",
        kafka_group=GROUP,
        kafka_options={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
    )
    service = EventService(settings)
    try:
        service.start()
        assert wait_until(lambda: service.kafka.consumed >= 26, 30), service.kafka.consumed
        assert wait_until(lambda: service.store.count() == 20, 10)
        assert service.kafka.invalid == 1
        assert wait_until(lambda: service.metrics.kafka_lag_commits._value.get() >= 1, 5)
    finally:
        service.close()
    assert committed(tansu.address) == 26  # every message consumed, committed after its insert

    # a restarted service starts after the committed offset: only the new events are read
    later = [plate_event(f"XY{i:03d}ZZ", at=minutes(30 + i)) for i in range(3)]
    produce(tansu.address, [e.to_json().encode() for e in later])
    service = EventService(settings)
    try:
        service.start()
        assert wait_until(lambda: service.store.count() == 23, 30)
        assert wait_until(lambda: service.kafka.consumed == 3, 5) and service.kafka.consumed == 3
    finally:
        service.close()
