"""A run whose file sink cannot write: other sinks get every event, the spool keeps the rest."""

from __future__ import annotations

import json

from ovr_alpr.cli import main
from ovr_alpr.config import CameraConfig
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.sinks import Spool


def test_pipeline_spools_what_a_full_file_sink_cannot_write(tmp_path, clip, fake_models):
    good = tmp_path / "good.jsonl"
    cfg = AppConfig(
        cameras=[CameraConfig(id="cam0", source=str(clip))],
        output_dir=str(tmp_path / "out"),
        sinks=[{"type": "jsonl", "path": "/dev/full"}, {"type": "jsonl", "path": str(good)}],
        drain_timeout_s=0,
    )
    result = Pipeline(cfg).run()
    stats = result.stats
    assert stats["events"] == 2
    assert [json.loads(x)["event_id"] for x in good.read_text().splitlines()] == [
        e.event_id for e in result.events
    ]
    assert stats["undelivered"] == 2 and stats["lost"] == 0 and stats["spool_depth"] == 2
    assert stats["sinks"]["jsonl-dev-full"]["spooled"] == 2
    with Spool(tmp_path / "out" / "spool" / "jsonl-dev-full") as spool:
        assert spool.count == 2


def test_cli_exit_message_names_the_spool(tmp_path, clip, fake_models, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--source",
            str(clip),
            "-o",
            str(out),
            "--sink",
            "jsonl:/dev/full",
            "--quiet",
            "--drain-timeout",
            "0",
            "--log-level",
            "WARNING",
        ]
    )
    err = capsys.readouterr().err
    assert code == 5, err
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and "2 event(s) not delivered" in line[0]
    assert str(out / "spool" / "jsonl-dev-full") in line[0]
