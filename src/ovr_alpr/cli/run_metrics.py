"""Prometheus `/metrics` for `ovr-alpr run --metrics-port N` (names `alpr_*`).

Read from the pipeline's own counters when scraped (`Pipeline.stats()`, the sinks' delivery stats), so the
pipeline needs no metrics code on its hot path.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError

logger = logging.getLogger(__name__)


class PipelineCollector:
    """A prometheus-client collector over a running pipeline (anything with `stats()` and `sinks`)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def describe(self) -> list:
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        try:
            stats = self.pipeline.stats()
        except RuntimeError:  # a sample window changed size while read; the next scrape gets it
            logger.debug("pipeline stats changed while read", exc_info=True)
            return
        counters = {
            "frames_processed": ("alpr_frames_processed", "Frames run through the pipeline"),
            "ocr_calls": ("alpr_ocr_calls", "OCR calls made"),
            "ocr_calls_saved": ("alpr_ocr_calls_saved", "OCR calls saved by reading once per track"),
            "events": ("alpr_events_published", "Events published to the sinks"),
            "duplicates_suppressed": ("alpr_events_duplicates_suppressed", "Reads dropped as duplicates"),
            "tracks": ("alpr_tracks", "Plate tracks started"),
        }
        for key, (name, doc) in counters.items():
            if key in stats:
                yield CounterMetricFamily(name, doc, value=stats[key])
        yield GaugeMetricFamily(
            "alpr_fps", "Frames processed per second since the start", value=stats.get("fps", 0.0)
        )

        latency = GaugeMetricFamily(
            "alpr_stage_latency_seconds", "Stage latency over the recent window", labels=["stage", "quantile"]
        )
        calls = CounterMetricFamily("alpr_stage_calls", "Times each stage ran", labels=["stage"])
        for stage, figures in (stats.get("stages") or {}).items():
            latency.add_metric([stage, "0.5"], figures["p50_ms"] / 1000.0)
            latency.add_metric([stage, "0.95"], figures["p95_ms"] / 1000.0)
            calls.add_metric([stage], figures["count"])
        yield latency
        yield calls

        per_camera = {
            "frames_read": CounterMetricFamily("alpr_source_frames_read", "Frames read", labels=["camera"]),
            "dropped_frames": CounterMetricFamily(
                "alpr_source_dropped_frames", "Live frames dropped for a newer one", labels=["camera"]
            ),
            "corrupt_frames": CounterMetricFamily(
                "alpr_source_corrupt_frames", "Unreadable frames skipped", labels=["camera"]
            ),
            "reconnects": CounterMetricFamily("alpr_source_reconnects", "Reconnections", labels=["camera"]),
            "input_fps": GaugeMetricFamily(
                "alpr_source_input_fps", "Frames read per second", labels=["camera"]
            ),
        }
        up = GaugeMetricFamily("alpr_source_up", "1 while the source delivers frames", labels=["camera"])
        for camera, source in (stats.get("sources") or {}).items():
            for key, family in per_camera.items():
                if source.get(key) is not None:
                    family.add_metric([camera], source[key])
            # a file or folder is up while it is read; a live source while it holds a connection
            up.add_metric([camera], 1.0 if source.get("connected") or not source.get("is_live") else 0.0)
        yield from per_camera.values()
        yield up

        delivered = CounterMetricFamily(
            "alpr_sink_delivered", "Events confirmed by each sink", labels=["sink"]
        )
        failed = CounterMetricFamily(
            "alpr_sink_failed", "Sends that failed (the event was spooled)", labels=["sink"]
        )
        spool = GaugeMetricFamily(
            "alpr_sink_spool_depth", "Events waiting in each sink's spool", labels=["sink"]
        )
        for sink in getattr(self.pipeline, "sinks", []):
            delivery = getattr(sink, "stats", None)
            if delivery is not None:
                delivered.add_metric([sink.name], delivery.delivered)
                failed.add_metric([sink.name], delivery.failed)
            depth = getattr(sink, "spooled", None)
            if depth is None and getattr(sink, "_spool", None) is not None:
                depth = sink._spool.count
            if depth is not None:
                spool.add_metric([sink.name], depth)
        yield from (delivered, failed, spool)


def serve_metrics(pipeline: Any, port: int, host: str = "127.0.0.1") -> Any:
    """Start the `/metrics` HTTP server (a daemon thread) for `pipeline`; return its registry.

    Raises:
        ConfigError: prometheus-client is missing or the port cannot be bound.
    """
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise ConfigError("--metrics-port needs prometheus-client", 'pip install "ovr-alpr[serve]"') from None
    registry = CollectorRegistry()
    registry.register(PipelineCollector(pipeline))
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror}", "choose a free port"
        ) from None
    logger.info("metrics on http://%s:%d/metrics", host, port)
    return registry
