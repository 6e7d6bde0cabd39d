"""`EventService`: the one place events enter the service (API, Kafka): store, match watchlists, alert,
and tell the live page, MQTT / Home Assistant and the metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..events.model import PlateEvent
from ..store import Alert, CameraStatus, EventStore, StoredEvent, Watchlist, normalize_plate
from .hub import LiveHub
from .metrics import ServeMetrics
from .notify import MqttPublisher, WebhookNotifier
from .settings import ServeSettings
from .watch import WatchMatcher

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    received: int
    new: int
    alerts: list[Alert]


def crop_url(relative: str) -> str:
    return "/api/crops/" + quote(relative)


def event_json(stored: StoredEvent) -> dict[str, Any]:
    """An event as the API shows it: the event's fields, crop URLs served by this API, and its alerts."""
    data = stored.event.to_dict()
    urls = {kind: crop_url(path) for kind, path in stored.crops.items()}
    data["images"] = {f"{kind}_url": urls.get(kind) for kind in ("plate", "vehicle", "frame")}
    data["alerts"] = [a.to_dict() for a in stored.alerts]
    if stored.distance is not None:
        data["distance"] = stored.distance
    return data


class EventService:
    """Store, live hub, watchlists, notifiers and metrics, shared by the API routes and the Kafka consumer."""

    def __init__(self, settings: ServeSettings, store: EventStore | None = None) -> None:
        self.settings = settings
        self.store = store or EventStore(
            settings.db_target, crops_dir=settings.crops_dir, output_dir=settings.output_dir
        )
        self.metrics = ServeMetrics()
        self.metrics.watch_store(self.store.cameras, self.store.count)
        self.hub = LiveHub()
        self.matcher = WatchMatcher(self.store.watchlists())
        self.webhooks = WebhookNotifier(settings.webhooks, self.metrics, retries=settings.webhook_retries)
        self.mqtt: MqttPublisher | None = None
        if settings.mqtt:
            self.mqtt = MqttPublisher(
                settings.mqtt,
                self.metrics,
                topic=settings.mqtt_topic,
                ha_discovery=settings.ha_discovery,
                ha_prefix=settings.ha_prefix,
                off_delay_s=settings.ha_off_delay_s,
            )
            for wl in self.store.watchlists():
                self.mqtt.announce_watchlist(wl)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.kafka: Any = None

    # ------------------------------------------------------------ events in

    def ingest(
        self,
        events: Sequence[PlateEvent],
        crops: Mapping[str, Mapping[str, bytes | Path]] | None = None,
        source: str = "api",
    ) -> IngestResult:
        """Store events (upsert), raise alerts for new ones, notify. Raises ValueError for invalid input."""
        if not events:
            return IngestResult(0, 0, [])
        started = time.perf_counter()
        try:
            new_ids = set(self.store.add(events, crops))
        except ValueError:
            self.metrics.events_rejected.labels(source).inc(len(events))
            raise
        self.metrics.ingest_seconds.labels(source).observe(time.perf_counter() - started)
        self.metrics.events_ingested.labels(source).inc(len(new_ids))
        self.metrics.events_duplicate.labels(source).inc(len(events) - len(new_ids))
        alerts: list[Alert] = []
        fresh = [e for e in dict((e.event_id, e) for e in events).values() if e.event_id in new_ids]
        for ev in fresh:
            plate = normalize_plate(ev.plate.normalized_text or ev.plate.text)
            for hit in self.matcher.match(plate):
                alerts.append(
                    Alert(
                        event_id=ev.event_id,
                        watchlist=hit.watchlist,
                        label=hit.label,
                        pattern=hit.pattern,
                        plate=plate,
                        camera_id=ev.camera_id,
                        distance=hit.distance,
                        captured_at=ev.captured_at,
                        created_at=datetime.now(timezone.utc),
                    )
                )
        self.store.add_alerts(alerts)
        if fresh:
            self._announce(fresh, alerts)
        return IngestResult(len(events), len(new_ids), alerts)

    def _announce(self, events: list[PlateEvent], alerts: list[Alert]) -> None:
        watchlists = {wl.name: wl for wl in self.store.watchlists()} if alerts else {}
        stored = self.store.get_many([ev.event_id for ev in events])
        for ev in events:
            if ev.event_id not in stored:  # deleted meanwhile
                continue
            data = event_json(stored[ev.event_id])
            self.hub.publish("plate", data)
            if self.mqtt is not None:
                self.mqtt.event(data)
        for alert in alerts:
            data = alert.to_dict()
            self.metrics.alerts.labels(alert.watchlist, alert.label).inc()
            self.hub.publish("alert", data)
            self.webhooks.send(data)
            if self.mqtt is not None:
                self.mqtt.alert(data, watchlists.get(alert.watchlist))
            logger.info(
                "alert: %s on %s (watchlist %s, %s)",
                alert.plate,
                alert.camera_id,
                alert.watchlist,
                alert.label,
            )

    def import_jsonl(self, path: Path, batch: int = 500) -> int:
        """Store the events of a JSONL file a run wrote (with their local crop files); return how many."""
        from ..errors import ConfigError
        from ..sinks.db import local_crops

        if not path.is_file():
            raise ConfigError(f"{path} not found", "give the JSONL file a run wrote (--sink jsonl:PATH)")
        count = 0
        chunk: list[PlateEvent] = []

        def store() -> None:
            self.ingest(chunk, {e.event_id: local_crops(e) for e in chunk}, source="import")

        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    chunk.append(PlateEvent.from_json(line))
                if len(chunk) >= batch:
                    store()
                    count += len(chunk)
                    chunk = []
        if chunk:
            store()
            count += len(chunk)
        return count

    def update_camera(self, status: CameraStatus) -> None:
        self.store.update_camera_status(status)
        if self.mqtt is not None:
            self.mqtt.camera_status(status)
        current = next((c for c in self.store.cameras() if c.camera_id == status.camera_id), status)
        self.hub.publish("camera", current.to_dict())

    # ------------------------------------------------------------ watchlists

    def save_watchlist(self, watchlist: Watchlist) -> Watchlist:
        saved = self.store.save_watchlist(watchlist)
        self.matcher.load(self.store.watchlists())
        if self.mqtt is not None:
            self.mqtt.announce_watchlist(saved)
        return saved

    def delete_watchlist(self, name: str) -> bool:
        deleted = self.store.delete_watchlist(name)
        self.matcher.load(self.store.watchlists())
        if deleted and self.mqtt is not None:
            self.mqtt.forget_watchlist(name)
        return deleted

    # ------------------------------------------------------------ background work

    def start(self) -> None:
        """Start retention and (if configured) the Kafka consumer; the fuzzy index warms up meanwhile."""
        self._spawn("plate-index", self.store.plate_index)
        if self.settings.retention_days or self.settings.retention_max_bytes:
            self._spawn("retention", self._retention_loop)
        if self.settings.kafka:
            from .kafka import KafkaIngest

            self.kafka = KafkaIngest(
                self.settings.kafka, self.settings.kafka_group, self, **self.settings.kafka_options
            )
            self.kafka.start()

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def run_retention(self) -> int:
        s = self.settings
        result = self.store.apply_retention(
            max_age_s=s.retention_days * 86400 if s.retention_days else None, max_bytes=s.retention_max_bytes
        )
        self.metrics.retention_deleted.inc(result.events_deleted)
        return result.events_deleted

    def _retention_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_retention()
            except Exception:
                logger.exception("retention failed")
            self._stop.wait(self.settings.retention_interval_s)

    def close(self) -> None:
        self._stop.set()
        if self.kafka is not None:
            self.kafka.stop()
        self.webhooks.close()
        if self.mqtt is not None:
            self.mqtt.close()
        self.store.close()
