"""MQTT alerts and Home Assistant discovery against the real mosquitto: each camera a sensor with its last
plate, each watchlist a binary sensor that turns on on a hit."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ovr_alpr.serve.settings import ServeSettings
from service_fixtures import AUTH, TOKEN, plate_event, wait_until

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self, port: int) -> None:
        self.messages: dict[str, list[tuple[bytes, bool]]] = {}
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ha-test")
        self.client.on_connect = lambda c, *_: c.subscribe([("homeassistant/#", 1), ("ovr-alpr/#", 1)])
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_message(self, _c, _u, message) -> None:
        with self._lock:
            self.messages.setdefault(message.topic, []).append((message.payload, bool(message.retain)))

    def last(self, topic: str):
        with self._lock:
            got = self.messages.get(topic)
            return got[-1][0] if got else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_discovery_states_and_alerts(mosquitto, tmp_path, live_server) -> None:
    recorder = Recorder(mosquitto.port)
    try:
        settings = ServeSettings(db=str(tmp_path / "e.db"), token=TOKEN, mqtt=mosquitto.address)
        server = live_server(settings)
        import httpx

        body = {"label": "deny", "tolerance": 1, "entries": [{"pattern": "AB123CD"}]}
        assert httpx.put(f"{server.url}/api/watchlists/stolen", json=body, headers=AUTH).status_code == 200
        binary = "homeassistant/binary_sensor/ovr_alpr_watchlist_stolen/config"
        assert wait_until(lambda: recorder.last(binary) is not None, 10)
        config = json.loads(recorder.last(binary))
        assert config["state_topic"] == "ovr-alpr/watchlist/stolen/state" and config["payload_on"] == "ON"
        assert config["unique_id"] == "ovr_alpr_watchlist_stolen" and config["off_delay"] == 30

        event = plate_event("AB123CO", camera_id="Gate 1")
        assert httpx.post(f"{server.url}/api/events", json=event.to_dict(), headers=AUTH).status_code == 422
        event = plate_event("AB123CO", camera_id="gate-1")
        assert httpx.post(f"{server.url}/api/events", json=event.to_dict(), headers=AUTH).status_code == 201

        sensor = "homeassistant/sensor/ovr_alpr_gate_1/last_plate/config"
        assert wait_until(lambda: recorder.last("ovr-alpr/watchlist/stolen/state") == b"ON", 10)
        config = json.loads(recorder.last(sensor))
        assert config["state_topic"] == "ovr-alpr/camera/gate-1/last_plate"
        assert config["device"]["identifiers"] == ["ovr_alpr_camera_gate_1"]
        assert recorder.last("ovr-alpr/camera/gate-1/last_plate") == b"AB123CO"
        alert = json.loads(recorder.last("ovr-alpr/alerts"))
        assert (alert["event_id"], alert["watchlist"], alert["distance"]) == (event.event_id, "stolen", 1)
        assert recorder.last("ovr-alpr/status") == b"online"
        # discovery configs are retained, so Home Assistant finds them after its own restart
        late = Recorder.__new__(Recorder)
        late.messages, late._lock, late.subscribed = {}, threading.Lock(), threading.Event()
        late.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ha-late")
        late.client.on_connect = lambda c, *_: c.subscribe("homeassistant/#", 1)
        late.client.on_subscribe = lambda *_: late.subscribed.set()
        late.client.on_message = late._on_message
        late.client.connect("127.0.0.1", mosquitto.port)
        late.client.loop_start()
        try:
            assert wait_until(lambda: late.last(sensor) is not None and late.last(binary) is not None, 10)
        finally:
            late.close()
    finally:
        recorder.close()
