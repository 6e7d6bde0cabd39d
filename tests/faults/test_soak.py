"""`bench --soak`: RSS first/max/last, open tracks and spool depth over a looped run; stats expose both."""

from __future__ import annotations

import json

from ovr_alpr.cli import main
from ovr_alpr.config import CameraConfig
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig


def test_bench_soak_reports_memory_tracks_and_spool(tmp_path, clip, fake_models, capsys):
    out = tmp_path / "soak.json"
    assert main(["bench", "--source", str(clip), "--soak", "0.04", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RSS MiB first" in printed and "open tracks" in printed
    report = json.loads(out.read_text())
    assert report["frames"] > 0 and report["undelivered"] == 0
    assert 0 < report["rss_mib"]["first"] <= report["rss_mib"]["max"]
    assert report["open_tracks"]["last"] == 0  # every track's state dropped at the end
    assert report["spool_depth"] == {"max": 0, "last": 0}
    assert len(report["samples"]) >= 2


def test_stats_expose_open_tracks_and_spool_depth(tmp_path, clip, fake_models, caplog):
    cfg = AppConfig(cameras=[CameraConfig(source=str(clip))], output_dir=str(tmp_path), stats_interval_s=0.01)
    with caplog.at_level("INFO", logger="ovr_alpr.pipeline"):
        stats = Pipeline(cfg, sinks=[]).run().stats
    assert stats["open_tracks"] == 0 and stats["spool_depth"] == 0 and "sinks" in stats
    assert any("open tracks" in r.getMessage() and "spool" in r.getMessage() for r in caplog.records)
