"""MQTT sink against a real broker (mosquitto): QoS 1 delivery, and no event lost across broker restarts."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ovr_alpr.sinks import MqttSink, build_sinks
from ovr_alpr.sinks.mqtt import MqttSinkConfig

pytestmark = pytest.mark.integration

TOPIC = "alpr/events"


class Subscriber:
    """Subscribes (again after every reconnect) and collects what arrives: event id -> (qos, event)."""

    def __init__(self, port: int) -> None:
        self.received: dict[str, tuple[int, dict]] = {}
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ovr-alpr-test-sub")
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_disconnect = lambda *_: self.subscribed.clear()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(10), "test subscriber could not subscribe"

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        event = json.loads(message.payload)
        with self._lock:
            self.received[event["event_id"]] = (message.qos, event)

    def wait_for(self, ids: set[str], timeout_s: float = 15.0) -> set[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if ids <= self.received.keys():
                    break
            time.sleep(0.02)
        with self._lock:
            return set(self.received) & ids

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(mosquitto):
    sub = Subscriber(mosquitto.port)
    yield sub
    sub.close()


def _config(port: int, **kw) -> MqttSinkConfig:
    return MqttSinkConfig(host="127.0.0.1", port=port, topic=TOPIC, **kw)


def _sink(port: int, spool_dir: Path) -> MqttSink:
    return MqttSink(
        _config(port),
        spool_dir=spool_dir,
        reconnect_max_s=1,
        ack_timeout_s=10.0,
        retry_min_s=0.2,
        retry_max_s=1.0,
    )


def _wait_state(sink: MqttSink, up: bool, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while sink.broker_up is not up:
        assert time.monotonic() < deadline, f"the sink never saw the broker {'up' if up else 'down'}"
        sink.poll()
        time.sleep(0.02)


def test_events_delivered_with_qos1(mosquitto, subscriber, tmp_path: Path, events) -> None:
    sink = _sink(mosquitto.port, tmp_path / "spool")
    _wait_state(sink, True)
    sent = events(10)
    for event in sent:
        sink.publish(event)
        sink.poll()
    assert sink.flush(10.0) == 0
    assert sink.stats.delivered == 10 and sink.spooled == 0
    sink.close()
    ids = {e.event_id for e in sent}
    assert subscriber.wait_for(ids) == ids
    for event in sent:
        qos, body = subscriber.received[event.event_id]
        assert qos == 1 and body == event.to_dict()


def test_no_event_lost_across_broker_restart(mosquitto, tmp_path: Path, events) -> None:
    sink = _sink(mosquitto.port, tmp_path / "spool")
    _wait_state(sink, True)
    for event in events(3):
        sink.publish(event)
    assert sink.flush(10.0) == 0

    mosquitto.stop()
    _wait_state(sink, False)
    during = events(6, start=10)
    for event in during:
        sink.publish(event)
        sink.poll()
    assert sink.flush(0.3) == len(during)
    assert list((tmp_path / "spool").glob("*.jsonl")), "undelivered events must be on disk"

    mosquitto.start()  # same port, no persisted sessions
    subscriber = Subscriber(mosquitto.port)  # subscribed before the sink re-sends its spool
    try:
        t0 = time.monotonic()
        assert sink.flush(30.0) == 0
        recovery_s = time.monotonic() - t0
        sink.close()
        ids = {e.event_id for e in during}
        assert subscriber.wait_for(ids) == ids, "events published while the broker was down were lost"
    finally:
        subscriber.close()
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    assert recovery_s < 20


def test_next_run_resends_previous_runs_spool(mosquitto, tmp_path: Path, events) -> None:
    mosquitto.stop()
    config = _config(mosquitto.port)
    (first_run,) = build_sinks([config], tmp_path / "out")  # broker unreachable: not an error
    sent = events(5)
    for event in sent:
        first_run.publish(event)
    assert first_run.flush(0.3) == 5
    first_run.close()
    spool_dir = tmp_path / "out" / "spool" / f"mqtt-127.0.0.1-{mosquitto.port}-alpr-events"
    assert sum(len(p.read_text().splitlines()) for p in spool_dir.glob("*.jsonl")) == 5

    mosquitto.start()
    subscriber = Subscriber(mosquitto.port)
    try:
        (next_run,) = build_sinks([config], tmp_path / "out")
        assert next_run.flush(30.0) == 0
        next_run.close()
        ids = {e.event_id for e in sent}
        assert subscriber.wait_for(ids) == ids
    finally:
        subscriber.close()
    assert not list(spool_dir.glob("*.jsonl"))
