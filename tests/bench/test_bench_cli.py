"""`ovr-alpr bench` on a tiny generated clip, and its parts on hand-made inputs (no timed assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ovr_alpr.bench.clips import standard_clip
from ovr_alpr.bench.report import add_ratios, table_lines
from ovr_alpr.bench.runs import DetectionRecorder, ResourceMeter, parse_compare
from ovr_alpr.cli import main
from ovr_alpr.errors import ConfigError
from ovr_alpr.synth.clip import ClipManifest, VehicleTruth, make_clip


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "tiny.mp4"
    make_clip(path, vehicles=1, size=(640, 360), seconds=2.0, fps=10, seed=5)
    return path


def test_bench_compare_stock_default_json_contract(tiny_clip: Path, tmp_path: Path, capsys):
    out_json, chart = tmp_path / "bench.json", tmp_path / "bench.png"
    code = main(
        [
            "bench",
            "--source",
            str(tiny_clip),
            "--compare",
            "stock,default",
            "--frames",
            "3",
            "--json",
            str(out_json),
            "--chart",
            str(chart),
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    runs = report["runs"]
    assert list(runs) == ["decode_only", "stock", "default"]
    assert runs["decode_only"]["fps"] > 0
    for name in ("stock", "default"):
        assert "error" not in runs[name], runs[name]
        assert runs[name]["fps"] > 0
        assert runs[name]["frames"] == 3
        assert {"decode", "plate_detect"} <= set(runs[name]["stages"])
        assert {"p50_ms", "p95_ms"} <= set(runs[name]["stages"]["decode"])
        assert runs[name]["cpu_percent"] >= 0 and runs[name]["peak_rss_mb"] > 0
        assert "ocr_calls_per_vehicle" in runs[name]
    assert "track" in runs["default"]["stages"]
    by_size = runs["default"]["detection_recall_by_size"]  # scored against the clip's manifest
    assert list(by_size) == ["small", "medium", "closeup"]
    labels = sum(b["labels"] for b in by_size.values())  # 0 when no plate is wholly in view in 3 frames
    assert (
        runs["default"]["detection_recall"] is None
        if labels == 0
        else 0 <= runs["default"]["detection_recall"] <= 1
    )
    assert report["baseline"] == "stock" and runs["default"]["fps_vs_stock"] > 0
    assert report["clip"]["vehicles"] is not None  # the manifest beside the clip was found
    assert chart.stat().st_size > 0
    out = capsys.readouterr().out
    assert "decode_only" in out and "x stock" in out


def test_bench_missing_source_is_a_one_line_error(tmp_path: Path, capsys):
    assert main(["bench", "--source", str(tmp_path / "none.mp4"), "--compare", "default"]) == 3  # SourceError
    assert capsys.readouterr().err.startswith("error: SourceError")


def test_detection_recorder_scores_boxes_by_plate_size():
    manifest = ClipManifest(
        "",
        1280,
        720,
        25.0,
        2,
        0,
        (
            VehicleTruth("AB123", "eu", 0, 0, 1, {0: (100, 100, 140, 112), 1: (100, 100, 400, 160)}),
            VehicleTruth("CD456", "eu", 1, 0, 1, {0: (600, 300, 750, 330)}),
        ),
    )
    recorder = DetectionRecorder(manifest)
    recorder.score(0, np.array([[600, 300, 750, 330]], np.float32), np.array([0.9], np.float32))
    recorder.score(1, np.array([[100, 100, 400, 160]], np.float32), np.array([0.9], np.float32))
    figures = recorder.figures()
    assert figures["detection_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert {k: (b["detected"], b["labels"]) for k, b in figures["detection_recall_by_size"].items()} == {
        "small": (0, 1),
        "medium": (1, 1),
        "closeup": (1, 1),
    }
    runs = {"default": {"fps": 10.0, "stages": {}, **figures}}
    lines = table_lines(runs, None)
    assert "det rec" in lines[0] and "66.7" in lines[2] and "0/100/100" in lines[2]


def test_parse_compare_always_adds_decode_only_first():
    assert [s.name for s in parse_compare("default,stock")] == ["decode_only", "default", "stock"]
    assert [s.name for s in parse_compare("skip1,decode_only,skip1")] == ["decode_only", "skip1"]
    with pytest.raises(ConfigError, match="fp64"):
        parse_compare("stock,fp64")


def test_standard_clip_is_generated_once_and_cached(tmp_path: Path, monkeypatch):
    import ovr_alpr.bench.clips as clips

    monkeypatch.setattr(clips, "CLIP_SECONDS", 2.0)  # keep the test fast; the naming includes the length
    path, manifest = standard_clip(tmp_path, "720p", vehicles=1)
    assert path.is_file() and manifest.width_px == 1280 and len(manifest.vehicles) == 1
    stamp = path.stat().st_mtime_ns
    again, _ = standard_clip(tmp_path, "720p", vehicles=1)
    assert again == path and path.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="4k"):
        standard_clip(tmp_path, "4k")


def test_ratios_and_table_show_errors_and_missing_stages():
    runs = {
        "decode_only": {"fps": 200.0, "stages": {"decode": {"p50_ms": 4.0}}},
        "stock": {"fps": 2.0, "stages": {"decode": {"p50_ms": 5.0}, "ocr": {"p50_ms": 300.0}}},
        "default": {
            "fps": 5.0,
            "stages": {"decode": {"p50_ms": 5.0}, "track": {"p50_ms": 0.2}},
            "ocr_calls_per_vehicle": 3.0,
        },
        "int8": {"error": "ModelError: int8 model not built"},
    }
    assert add_ratios(runs) == "stock"
    assert runs["default"]["fps_vs_stock"] == 2.5
    text = "\n".join(table_lines(runs, "stock"))
    assert "error: ModelError" in text and "2.50" in text and "track p50" in text


def test_resource_meter_measures_a_block():
    meter = ResourceMeter(interval_s=0.01)
    with meter.measure():
        sum(i * i for i in range(200_000))
    assert meter.peak_rss > 0 and meter.cpu_percent >= 0
