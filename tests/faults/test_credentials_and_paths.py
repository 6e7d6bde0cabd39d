"""MQTT URL credentials are used and never shown; relative paths in a config start at the config's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovr_alpr.cli import main
from ovr_alpr.errors import ConfigError
from ovr_alpr.pipeline.config import load_config, parse_sink_spec


def test_mqtt_url_credentials_are_parsed_and_hidden():
    config = parse_sink_spec("mqtt://alice:s%40cr3t@broker.local:8883/alpr/gate")
    assert (config.username, config.password, config.host, config.port, config.topic) == (
        "alice",
        "s@cr3t",
        "broker.local",
        8883,
        "alpr/gate",
    )
    assert "cr3t" not in repr(config) and "cr3t" not in str(config)


@pytest.mark.parametrize(
    "spec", ["mqtt://bob:hunter2@host:99999/x", "kafka://bob:hunter2@host:9092/x", "mqtt://bob:hunter2@:1/x"]
)
def test_errors_about_a_sink_url_never_show_its_password(spec):
    with pytest.raises(ConfigError) as err:
        parse_sink_spec(spec)
    assert "hunter2" not in err.value.one_line() and "bob" in err.value.one_line()


def test_cli_error_about_a_sink_url_masks_the_password(capsys):
    assert main(["run", "--source", "x.mp4", "--sink", "mqtt://bob:hunter2@host:notaport/x"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "bob:***@host" in err


def test_relative_paths_in_a_config_start_at_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "plate.onnx").write_bytes(b"x")
    config = folder / "alpr.yaml"
    config.write_text(
        "cameras:\n"
        "  - {id: a, source: clips/gate.mp4}\n"
        "  - {id: b, source: '0'}\n"
        "  - {id: c, source: 'rtsp://cam/x'}\n"
        "  - {id: d, source: /abs/x.mp4}\n"
        "sinks:\n  - {type: jsonl, path: out/events.jsonl}\n"
        "output_dir: out\n"
        "plate_detector:\n  model: {path: plate.onnx}\n"
        "vehicle_detector:\n  model: {path: yolo11n.pt}\n"
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("site/alpr.yaml"))
    assert [c.source for c in cfg.cameras] == [
        str(folder / "clips/gate.mp4"),
        "0",
        "rtsp://cam/x",
        "/abs/x.mp4",
    ]
    assert cfg.sinks[0].path == str(folder / "out/events.jsonl") and cfg.output_dir == str(folder / "out")
    assert cfg.plate_detector.model.path == str(folder / "plate.onnx")
    assert cfg.vehicle_detector.model.path == "yolo11n.pt"  # a download name stays a name
    # command-line values are relative to where the command runs
    assert load_config(config, {"output_dir": "here"}).output_dir == "here"
