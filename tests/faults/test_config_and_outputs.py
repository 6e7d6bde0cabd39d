"""Bad ROIs, non-UTF-8 configs, unwritable report paths and broken eval data: one line, before the work."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

import ovr_alpr.evaluation.runner as runner_module
from ovr_alpr.cli import main
from ovr_alpr.config import CameraConfig
from ovr_alpr.errors import ConfigError
from ovr_alpr.evaluation.runner import evaluate
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("roi", [(100, 10, 50, 80), (10, 80, 100, 20), (-5, 0, 10, 10), (5, 5, 5, 9)])
def test_inverted_roi_is_a_config_error(roi):
    with pytest.raises(ValidationError, match="roi"):
        CameraConfig(roi=roi)


def test_roi_outside_the_frame_is_a_config_error_not_a_crash(tmp_path, clip, fake_models, capsys):
    cfg = AppConfig(
        cameras=[CameraConfig(source=str(clip), roi=(500, 400, 900, 700))], output_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match="outside its 224x128 frames"):
        Pipeline(cfg, sinks=[]).run()
    config = tmp_path / "c.yaml"
    config.write_text(f"cameras:\n  - source: {clip}\n    roi: [500, 400, 900, 700]\n")
    assert main(["run", "--config", str(config), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    assert "roi" in _error_line(capsys)


def test_roi_partly_outside_is_clipped(tmp_path, clip, fake_models):
    cfg = AppConfig(cameras=[CameraConfig(source=str(clip), roi=(0, 0, 900, 700))], output_dir=str(tmp_path))
    assert Pipeline(cfg, sinks=[]).run().stats["events"] == 2


def test_non_utf8_config_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_bytes("cameras:\n  - id: caf\xe9\n".encode("latin-1"))
    assert main(["run", "--config", str(config), "--source", "x.mp4"]) == 2
    line = _error_line(capsys)
    assert "not UTF-8" in line and "0xe9" in line


@pytest.mark.parametrize("bad", ["dir", "under_a_file"])
def test_stats_json_to_an_unwritable_path_fails_before_the_run(tmp_path, clip, fake_models, capsys, bad):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = tmp_path if bad == "dir" else blocker / "stats.json"
    code = main(["run", "--source", str(clip), "-o", str(tmp_path / "o"), "--stats-json", str(target)])
    assert code == 2
    assert "--stats-json" in _error_line(capsys)
    assert fake_models["detectors"] == []  # failed before the models were even built


@pytest.mark.parametrize("option", ["--json", "--chart"])
def test_bench_outputs_checked_before_the_runs(tmp_path, capsys, monkeypatch, option):
    import ovr_alpr.bench.runs as runs

    monkeypatch.setattr(runs, "run_one", lambda *a, **k: pytest.fail("ran before checking the output"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["bench", "--source", str(blocker), option, str(blocker / "out")]) == 2
    assert option in _error_line(capsys)


def test_eval_json_checked_before_the_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["eval", "--dataset", str(tmp_path), "--json", str(blocker / "x.json")]) == 2
    assert "--json" in _error_line(capsys)


def test_max_frames_zero_is_rejected(tmp_path, capsys):
    assert main(["run", "--source", "x.mp4", "--max-frames", "0"]) == 2
    err = capsys.readouterr().err
    assert "--max-frames" in err and "Traceback" not in err


class _NoReads:
    def __init__(self, cfg) -> None:
        from ovr_alpr.timing import StageTimer

        self.timer = StageTimer()

    def read(self, image):
        return []


def test_eval_skips_undecodable_images_and_names_bad_label_lines(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(runner_module, "Alpr", _NoReads)
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), np.zeros((40, 80, 3), np.uint8))
        (tmp_path / f"{name}.txt").write_text(f"{name}.jpg\t1\t2\t30\t10\tAB123\n")
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0 a truncated jpeg")
    (tmp_path / "c.txt").write_text("c.jpg\t1\t2\t30\t10\tCD456\n")
    (tmp_path / "b.txt").write_text("b.jpg\t1\t2\t30\t10\tAB123\nb.jpg 1 two 3\nshort line\n")
    with caplog.at_level(logging.WARNING):
        result = evaluate(tmp_path, AppConfig(), progress=False)
    assert result.tally.images == 2 and [p.rsplit("/", 1)[-1] for p in result.skipped_images] == ["c.jpg"]
    assert result.to_dict()["skipped_images"] == result.skipped_images
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{tmp_path / 'b.txt'}:2:" in m for m in messages)
    assert any(f"{tmp_path / 'b.txt'}:3:" in m for m in messages)
    assert any("c.jpg" in m and "skipped" in m for m in messages)
