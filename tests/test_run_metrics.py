"""`run --metrics-port`: the pipeline's counters, stage latencies, sources and sinks as Prometheus metrics."""

from __future__ import annotations

import urllib.request
from types import SimpleNamespace

from ovr_alpr.cli import main
from ovr_alpr.cli.run_metrics import serve_metrics
from ovr_alpr.sinks.broker import DeliveryStats
from service_fixtures import free_port


class FakePipeline:
    def __init__(self) -> None:
        sink = SimpleNamespace(
            name="kafka-x", stats=DeliveryStats(published=5, delivered=4, failed=1), spooled=1
        )
        self.sinks = [sink, SimpleNamespace(name="jsonl-y")]

    def stats(self) -> dict:
        return {
            "frames_processed": 120,
            "fps": 9.5,
            "ocr_calls": 6,
            "ocr_calls_saved": 40,
            "events": 3,
            "stages": {"plate_detect": {"p50_ms": 50.0, "p95_ms": 80.0, "mean_ms": 55.0, "count": 120}},
            "sources": {
                "gate-1": {
                    "is_live": True,
                    "connected": False,
                    "frames_read": 130,
                    "dropped_frames": 10,
                    "input_fps": 12.0,
                },
                "file-cam": {"is_live": False, "connected": False, "frames_read": 50, "dropped_frames": 0},
            },
        }


def test_metrics_endpoint_reads_the_pipeline() -> None:
    port = free_port()
    serve_metrics(FakePipeline(), port)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in (
        "alpr_frames_processed_total 120.0",
        "alpr_fps 9.5",
        "alpr_ocr_calls_total 6.0",
        "alpr_events_published_total 3.0",
        'alpr_stage_latency_seconds{quantile="0.95",stage="plate_detect"} 0.08',
        'alpr_source_dropped_frames_total{camera="gate-1"} 10.0',
        'alpr_source_up{camera="gate-1"} 0.0',
        'alpr_source_up{camera="file-cam"} 1.0',
        'alpr_sink_delivered_total{sink="kafka-x"} 4.0',
        'alpr_sink_spool_depth{sink="kafka-x"} 1.0',
    ):
        assert line in text, line


def test_run_has_the_option(capsys) -> None:
    assert main(["run", "--help"]) == 0
    assert "--metrics-port" in capsys.readouterr().out
