"""Exit codes: Ctrl-C during start-up is 130 with a line; a closed stdout stops printing, not delivering."""

from __future__ import annotations

import json
import subprocess

from fault_helpers import cli_env, cli_with_fake_models

import ovr_alpr.pipeline.pipeline as pipeline_module
from ovr_alpr.cli import main


def test_ctrl_c_while_loading_models_exits_130_with_a_line(tmp_path, clip, monkeypatch, capsys):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline_module, "build_finder", interrupted)
    code = main(["run", "--source", str(clip), "-o", str(tmp_path), "--log-level", "WARNING"])
    err = capsys.readouterr().err
    assert code == 130
    assert "interrupted" in err and "Traceback" not in err


def test_closed_stdout_pipe_still_delivers_every_event(tmp_path, clip):
    """`ovr-alpr run ... | head -0`: stdout is closed before the first event is printed."""
    events = tmp_path / "events.jsonl"
    args = ["run", "--source", str(clip), "-o", str(tmp_path / "out"), "--sink", f"jsonl:{events}"]
    proc = subprocess.Popen(
        cli_with_fake_models([*args, "--log-level", "WARNING"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    proc.stdout.close()  # the reader is gone before anything is printed
    _, err = proc.communicate(timeout=120)
    err = err.decode(errors="replace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert len([json.loads(x) for x in events.read_text().splitlines()]) == 2
