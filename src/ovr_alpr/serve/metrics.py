"""Prometheus metrics of the event service (`alpr_*`), in a registry of their own per app."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServeMetrics:
    """Counters, gauges and histograms of `serve`; camera gauges are read from the store at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_ingested = Counter(
            "alpr_events_ingested", "Events stored, by how they arrived", ["source"], registry=r
        )
        self.events_duplicate = Counter(
            "alpr_events_duplicate",
            "Events received again (same event_id), stored once",
            ["source"],
            registry=r,
        )
        self.events_rejected = Counter(
            "alpr_events_rejected", "Events refused (invalid), by how they arrived", ["source"], registry=r
        )
        self.alerts = Counter("alpr_alerts", "Watchlist hits", ["watchlist", "label"], registry=r)
        self.webhook_deliveries = Counter(
            "alpr_webhook_deliveries", "Webhook POSTs by result", ["result"], registry=r
        )
        self.mqtt_messages = Counter("alpr_mqtt_messages", "MQTT messages published", ["kind"], registry=r)
        self.ingest_seconds = Histogram(
            "alpr_ingest_seconds",
            "Time to store a batch of events",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.search_seconds = Histogram(
            "alpr_search_seconds",
            "Time to answer an event search",
            ["match"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter("alpr_http_requests", "API requests", ["method", "status"], registry=r)
        self.sse_clients = Gauge("alpr_sse_clients", "Open live-event streams", registry=r)
        self.kafka_consumed = Counter("alpr_kafka_messages_consumed", "Kafka messages consumed", registry=r)
        self.kafka_lag_commits = Counter(
            "alpr_kafka_commits", "Kafka offset commits after inserts", registry=r
        )
        self.retention_deleted = Counter(
            "alpr_retention_deleted_events", "Events removed by retention", registry=r
        )

    def watch_store(self, cameras: Callable[[], list], count: Callable[[], int]) -> None:
        """Expose per-camera status and the stored event count, read when scraped."""
        self.registry.register(_StoreCollector(cameras, count))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector:
    def __init__(self, cameras: Callable[[], list], count: Callable[[], int]) -> None:
        self._cameras = cameras
        self._count = count

    def describe(self) -> list:
        return []

    def collect(self):
        stored = GaugeMetricFamily("alpr_store_events", "Events in the store")
        stored.add_metric([], self._count())
        yield stored
        fps = GaugeMetricFamily(
            "alpr_camera_fps", "Processed frames per second (as last posted)", labels=["camera"]
        )
        dropped = GaugeMetricFamily(
            "alpr_camera_dropped_frames", "Frames dropped by the source", labels=["camera"]
        )
        frames = GaugeMetricFamily("alpr_camera_frames", "Frames processed", labels=["camera"])
        up = GaugeMetricFamily("alpr_camera_source_up", "1 if the camera's source is up", labels=["camera"])
        last = GaugeMetricFamily(
            "alpr_camera_last_event_timestamp_seconds", "Time of the camera's newest event", labels=["camera"]
        )
        for cam in self._cameras():
            if cam.fps is not None:
                fps.add_metric([cam.camera_id], cam.fps)
            if cam.dropped_frames is not None:
                dropped.add_metric([cam.camera_id], cam.dropped_frames)
            if cam.frames is not None:
                frames.add_metric([cam.camera_id], cam.frames)
            if cam.source_up is not None:
                up.add_metric([cam.camera_id], 1.0 if cam.source_up else 0.0)
            if cam.last_event_at is not None:
                last.add_metric([cam.camera_id], cam.last_event_at.timestamp())
        yield from (fps, dropped, frames, up, last)
