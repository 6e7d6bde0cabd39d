"""Where alerts go besides the page: webhooks (HTTP POST with retry) and MQTT, with Home Assistant
discovery (each camera a sensor with its last plate, each watchlist a binary sensor that fires on a hit)."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from ..store import CameraStatus, Watchlist
from .metrics import ServeMetrics

logger = logging.getLogger(__name__)

_SLUG = re.compile(r"[^a-z0-9_]+")


def slug(text: str) -> str:
    return _SLUG.sub("_", text.lower()).strip("_") or "x"


class WebhookNotifier:
    """POSTs each alert as JSON to every URL from a worker thread, retrying with a doubling delay.

    Args:
        urls: webhook URLs.
        retries: further attempts after the first failed one (then the alert is logged as lost).
        backoff_s: first wait between attempts.
    """

    def __init__(
        self,
        urls: list[str],
        metrics: ServeMetrics,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.urls = list(urls)
        self.metrics = metrics
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="webhooks", daemon=True)
        if self.urls:
            self._worker.start()

    def send(self, alert: dict[str, Any]) -> None:
        body = json.dumps(alert).encode("utf-8")
        for url in self.urls:
            self._queue.put((url, body))

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            url, body = item
            delay = self.backoff_s
            for attempt in range(self.retries + 1):
                error = self._post(url, body)
                if error is None:
                    self.metrics.webhook_deliveries.labels("ok").inc()
                    break
                self.metrics.webhook_deliveries.labels("retry" if attempt < self.retries else "failed").inc()
                if attempt == self.retries:
                    logger.error(
                        "webhook %s: alert not delivered after %d attempts (%s)", url, attempt + 1, error
                    )
                    break
                logger.warning("webhook %s: %s; retrying in %.1f s", url, error, delay)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 60.0)

    def _post(self, url: str, body: bytes) -> str | None:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            return str(getattr(exc, "reason", exc))

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout=2)


class MqttPublisher:
    """Alerts and Home Assistant entities over MQTT (paho, QoS 1, reconnecting in its own thread).

    Topics (prefix `topic`, default `ovr-alpr`): `<prefix>/alerts` (each alert, JSON),
    `<prefix>/camera/<camera>/last_plate` (retained state) and `.../attributes`,
    `<prefix>/watchlist/<name>/state` (`ON` on a hit; Home Assistant turns it off after `off_delay_s`).
    Discovery configs go, retained, to `<ha_prefix>/sensor/...` and `<ha_prefix>/binary_sensor/...`.
    """

    def __init__(
        self,
        address: str,
        metrics: ServeMetrics,
        topic: str = "ovr-alpr",
        ha_discovery: bool = True,
        ha_prefix: str = "homeassistant",
        off_delay_s: int = 30,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        host, _, port = address.removeprefix("mqtt://").partition(":")
        self.metrics = metrics
        self.topic = topic.rstrip("/")
        self.ha_discovery = ha_discovery
        self.ha_prefix = ha_prefix.rstrip("/")
        self.off_delay_s = off_delay_s
        self._announced: set[str] = set()
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"ovr-alpr-serve-{int(time.time())}"
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.will_set(f"{self.topic}/status", "offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.connect_async(host, int(port or 1883), keepalive=30)
        self._client.loop_start()

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            return
        client.publish(f"{self.topic}/status", "online", qos=1, retain=True)
        with self._lock:
            # discovery is retained, but a broker without persistence forgets it: announce again
            self._announced.clear()

    def _publish(self, topic: str, payload: Any, retain: bool = False, kind: str = "state") -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self._client.publish(topic, data, qos=1, retain=retain)
        self.metrics.mqtt_messages.labels(kind).inc()

    def _device(self, key: str, name: str) -> dict[str, Any]:
        return {
            "identifiers": [f"ovr_alpr_{key}"],
            "name": name,
            "manufacturer": "OVR-ALPR",
            "model": "ovr-alpr serve",
        }

    def announce_camera(self, camera_id: str) -> None:
        key = f"camera:{camera_id}"
        with self._lock:
            if not self.ha_discovery or key in self._announced:
                return
            self._announced.add(key)
        cam = slug(camera_id)
        base = f"{self.topic}/camera/{camera_id}"
        self._publish(
            f"{self.ha_prefix}/sensor/ovr_alpr_{cam}/last_plate/config",
            {
                "name": "Last plate",
                "unique_id": f"ovr_alpr_{cam}_last_plate",
                "object_id": f"ovr_alpr_{cam}_last_plate",
                "state_topic": f"{base}/last_plate",
                "json_attributes_topic": f"{base}/attributes",
                "availability_topic": f"{self.topic}/status",
                "icon": "mdi:car",
                "device": self._device(f"camera_{cam}", f"OVR-ALPR camera {camera_id}"),
            },
            retain=True,
            kind="discovery",
        )

    def announce_watchlist(self, watchlist: Watchlist) -> None:
        key = f"watchlist:{watchlist.name}"
        with self._lock:
            if not self.ha_discovery or key in self._announced:
                return
            self._announced.add(key)
        name = slug(watchlist.name)
        self._publish(
            f"{self.ha_prefix}/binary_sensor/ovr_alpr_watchlist_{name}/config",
            {
                "name": f"Watchlist {watchlist.name}",
                "unique_id": f"ovr_alpr_watchlist_{name}",
                "object_id": f"ovr_alpr_watchlist_{name}",
                "state_topic": f"{self.topic}/watchlist/{watchlist.name}/state",
                "json_attributes_topic": f"{self.topic}/watchlist/{watchlist.name}/attributes",
                "availability_topic": f"{self.topic}/status",
                "payload_on": "ON",
                "payload_off": "OFF",
                "off_delay": self.off_delay_s,
                "device_class": "problem" if watchlist.label == "deny" else "presence",
                "device": self._device("service", "OVR-ALPR watchlists"),
            },
            retain=True,
            kind="discovery",
        )

    def forget_watchlist(self, name: str) -> None:
        with self._lock:
            self._announced.discard(f"watchlist:{name}")
        if self.ha_discovery:
            # an empty retained config removes the entity from Home Assistant
            self._publish(
                f"{self.ha_prefix}/binary_sensor/ovr_alpr_watchlist_{slug(name)}/config",
                "",
                True,
                "discovery",
            )

    def event(self, event: dict[str, Any]) -> None:
        camera_id = event["camera_id"]
        self.announce_camera(camera_id)
        base = f"{self.topic}/camera/{camera_id}"
        self._publish(f"{base}/last_plate", event["plate"]["normalized_text"], retain=True)
        self._publish(
            f"{base}/attributes",
            {
                "event_id": event["event_id"],
                "captured_at": event["captured_at"],
                "confidence": event["plate"]["confidence"],
                "plate_url": event["images"].get("plate_url"),
            },
            retain=True,
        )

    def camera_status(self, status: CameraStatus) -> None:
        self.announce_camera(status.camera_id)

    def alert(self, alert: dict[str, Any], watchlist: Watchlist | None) -> None:
        if watchlist is not None:
            self.announce_watchlist(watchlist)
        self._publish(f"{self.topic}/alerts", alert, kind="alert")
        base = f"{self.topic}/watchlist/{alert['watchlist']}"
        self._publish(f"{base}/attributes", alert)
        self._publish(f"{base}/state", "ON")

    def close(self) -> None:
        self._client.publish(f"{self.topic}/status", "offline", qos=1, retain=True)
        self._client.disconnect()
        self._client.loop_stop()
