"""Kafka sink against a real broker (tansu): keyed delivery, and no event lost across broker restarts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from ovr_alpr.sinks import KafkaSink, build_sinks
from ovr_alpr.sinks.kafka import KafkaSinkConfig

pytestmark = pytest.mark.integration

TOPIC = "alpr.events"
# Short timeouts so a test notices an unreachable broker in seconds.
FAST = {"message.timeout.ms": 3000, "reconnect.backoff.max.ms": 500}


def _config(address: str, **kw) -> KafkaSinkConfig:
    return KafkaSinkConfig(bootstrap_servers=address, topic=TOPIC, extra=dict(FAST), **kw)


def _sink(address: str, spool_dir: Path) -> KafkaSink:
    return KafkaSink(_config(address), spool_dir=spool_dir, retry_min_s=0.2, retry_max_s=1.0)


def consume(address: str, want: set[str], timeout_s: float = 15.0) -> dict[str, tuple[bytes, dict]]:
    """Read the topic from the start until every wanted event id is seen; return id -> (key, event)."""
    import json

    consumer = Consumer(
        {"bootstrap.servers": address, "group.id": "ovr-alpr-test", "enable.auto.commit": False}
    )
    seen: dict[str, tuple[bytes, dict]] = {}
    try:
        topic = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC]
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in topic.partitions])
        deadline = time.monotonic() + timeout_s
        while not want <= seen.keys() and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            event = json.loads(message.value())
            seen[event["event_id"]] = (message.key(), event)
    finally:
        consumer.close()
    return seen


def _wait_down(sink: KafkaSink, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while sink.broker_up is not False:
        assert time.monotonic() < deadline, "the sink never noticed the broker was down"
        sink.poll()
        time.sleep(0.02)


def test_events_delivered_keyed_by_camera(tansu, tmp_path: Path, events) -> None:
    sink = _sink(tansu.address, tmp_path / "spool")
    sent = events(5, camera_id="gate-north") + events(5, camera_id="gate-south", start=5)
    for event in sent:
        sink.publish(event)
        sink.poll()
    assert sink.flush(10.0) == 0
    assert sink.stats.delivered == 10 and sink.spooled == 0
    sink.close()
    got = consume(tansu.address, {e.event_id for e in sent})
    assert set(got) == {e.event_id for e in sent}
    for event in sent:
        key, body = got[event.event_id]
        assert key == event.camera_id.encode()
        assert body == event.to_dict()


def test_no_event_lost_across_broker_restart(tansu, tmp_path: Path, events) -> None:
    sink = _sink(tansu.address, tmp_path / "spool")
    before = events(3)
    for event in before:
        sink.publish(event)
    assert sink.flush(10.0) == 0

    tansu.stop()
    during = events(4, start=10)  # published right away: in flight or spooled
    for event in during:
        sink.publish(event)
    _wait_down(sink)
    during += events(4, start=20)  # the sink knows the broker is down: straight to the spool
    for event in during[4:]:
        sink.publish(event)
    undelivered = sink.flush(0.5)
    assert undelivered == len(during)
    assert list((tmp_path / "spool").glob("*.jsonl")), "undelivered events must be on disk"

    tansu.start()  # same port, empty in-memory storage
    t0 = time.monotonic()
    assert sink.flush(30.0) == 0
    recovery_s = time.monotonic() - t0
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    sink.close()
    got = consume(tansu.address, {e.event_id for e in during})
    assert {e.event_id for e in during} <= set(got), "events published while the broker was down were lost"
    assert all(got[e.event_id][0] == e.camera_id.encode() for e in during)
    assert recovery_s < 20


def test_sink_started_without_broker_delivers_once_it_starts(tansu, tmp_path: Path, events) -> None:
    tansu.stop()
    sink = _sink(tansu.address, tmp_path / "spool")  # not an error
    sent = events(5)
    for event in sent:
        sink.publish(event)
    _wait_down(sink)
    assert sink.flush(0.3) == 5
    tansu.start()
    assert sink.flush(30.0) == 0
    sink.close()
    assert {e.event_id for e in sent} <= set(consume(tansu.address, {e.event_id for e in sent}))


def test_next_run_resends_previous_runs_spool(tansu, tmp_path: Path, events) -> None:
    tansu.stop()
    config = _config(tansu.address)
    (first_run,) = build_sinks([config], tmp_path / "out")
    sent = events(6)
    for event in sent:
        first_run.publish(event)
    first_run.close()  # the process ends while the broker is down
    spool_dir = tmp_path / "out" / "spool" / f"kafka-127.0.0.1-{tansu.port}-{TOPIC}"
    assert sum(len(p.read_text().splitlines()) for p in spool_dir.glob("*.jsonl")) == 6

    tansu.start()
    (next_run,) = build_sinks([config], tmp_path / "out")
    assert next_run.flush(30.0) == 0
    next_run.close()
    assert not list(spool_dir.glob("*.jsonl"))
    assert {e.event_id for e in sent} <= set(consume(tansu.address, {e.event_id for e in sent}))


def test_publish_does_not_block_while_broker_down(tansu, tmp_path: Path, events) -> None:
    tansu.stop()
    sink = _sink(tansu.address, tmp_path / "spool")
    batch = events(200)
    t0 = time.monotonic()
    for event in batch:
        sink.publish(event)
        sink.poll()
    per_event_ms = (time.monotonic() - t0) * 1000 / len(batch)
    assert sink.flush(0.2) == 200
    sink.close()
    assert per_event_ms < 50
