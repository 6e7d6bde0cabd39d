"""A live camera that is down at start is retried with back-off while the healthy cameras run."""

from __future__ import annotations

import socket
import time

import pytest

from ovr_alpr.cli import main
from ovr_alpr.config import CameraConfig
from ovr_alpr.errors import SourceError
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_dead_camera_does_not_stop_the_healthy_one(tmp_path, clip, fake_models, scheme):
    dead_url = f"{scheme}://user:secret@127.0.0.1:{_closed_port()}/stream"
    cfg = AppConfig(
        cameras=[CameraConfig(id="dead", source=dead_url), CameraConfig(id="gate", source=str(clip))],
        output_dir=str(tmp_path),
        sinks=[{"type": "jsonl", "path": str(tmp_path / "events.jsonl")}],
    )
    t0 = time.monotonic()
    pipeline = Pipeline(cfg)
    assert time.monotonic() - t0 < 5
    result = pipeline.run(max_frames=60)  # the clip's frames; the dead camera gives none
    assert time.monotonic() - t0 < 30
    assert result.stats["events"] == 2 and {e.camera_id for e in result.events} == {"gate"}
    dead = result.stats["sources"]["dead"]
    assert not dead["connected"] and dead["reconnect_attempts"] >= 1 and dead["frames_read"] == 0


def test_fail_fast_keeps_the_exit_3(tmp_path, clip, fake_models, capsys):
    port = _closed_port()
    cfg = AppConfig(
        cameras=[CameraConfig(id="dead", source=f"rtsp://127.0.0.1:{port}/x")],
        output_dir=str(tmp_path),
        fail_fast=True,
    )
    with pytest.raises(SourceError):
        Pipeline(cfg)
    code = main(
        ["run", "--source", f"rtsp://u:topsecret@127.0.0.1:{port}/x", "--fail-fast", "-o", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err and "topsecret" not in err
    assert len([x for x in err.splitlines() if x.startswith("error:")]) == 1
