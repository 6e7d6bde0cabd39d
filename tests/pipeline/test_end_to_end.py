"""The real job on a generated clip, through the CLI: embedded models, exact plates, one event per vehicle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ovr_alpr.cli import main
from ovr_alpr.synth.clip import make_clip


@pytest.fixture(scope="module")
def demo_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "demo.mp4"
    return path, make_clip(path, vehicles=2, size=(1280, 720), seconds=6, fps=25, seed=11)


def test_run_reads_every_plate_once(tmp_path, demo_clip, capsys):
    clip, manifest = demo_clip
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--source",
            str(clip),
            "--output-dir",
            str(out),
            "--frame-skip",
            "1",
            "--sink",
            f"jsonl:{out}/events.jsonl",
            "--sink",
            f"csv:{out}/events.csv",
            "--stats-json",
            str(out / "stats.json"),
            "--camera-id",
            "gate-1",
            "--site",
            "lot-a",
            "--log-level",
            "WARNING",
        ]
    )
    assert code == 0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert sorted(e["plate"]["normalized_text"] for e in events) == sorted(
        v.plate_text for v in manifest.vehicles
    )
    assert len(events) == len(manifest.vehicles)
    for e in events:
        assert e["camera_id"] == "gate-1" and e["node"]["site"] == "lot-a"
        assert e["captured_at"].endswith("Z") and e["latency_ms"] > 0
        assert Path(e["images"]["plate_url"]).is_file()
    rows = list(csv.DictReader((out / "events.csv").open()))
    assert len(rows) == len(events)
    stats = json.loads((out / "stats.json").read_text())
    for stage in ("decode", "plate_detect", "track", "ocr", "events", "publish"):
        assert stats["stages"][stage]["count"] > 0
    assert stats["ocr_calls"] < stats["plate_observations"]  # once per track, not per frame
    printed = capsys.readouterr().out
    assert printed.count("plate=") == len(events)
