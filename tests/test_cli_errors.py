"""Bad input gives one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.cli import main


def _err(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_source(capsys, tmp_path):
    assert main(["run", "--source", str(tmp_path / "nope.mp4"), "-o", str(tmp_path)]) != 0
    line = _err(capsys)
    assert "nope.mp4" in line and "SourceError" in line


def test_no_source(capsys, tmp_path):
    assert main(["run", "-o", str(tmp_path)]) != 0
    assert "no source" in _err(capsys)


def test_invalid_config_names_the_key(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("plate_detector:\n  model:\n    backend: tensorrtx\n")
    assert main(["run", "--source", "x.mp4", "--config", str(cfg)]) != 0
    line = _err(capsys)
    assert "plate_detector.model.backend" in line and "onnxruntime" in line


def test_unknown_config_key_and_bad_yaml(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ocr:\n  max_atempts: 3\n")
    assert main(["run", "--source", "x.mp4", "--config", str(cfg)]) != 0
    assert "ocr.max_atempts: unknown key" in _err(capsys)
    cfg.write_text("ocr: [unclosed\n")
    assert main(["run", "--source", "x.mp4", "--config", str(cfg)]) != 0
    assert "not valid YAML" in _err(capsys)


def test_bad_sink_spec(capsys, tmp_path):
    assert main(["run", "--source", "x.mp4", "--sink", "ftp://host/x"]) != 0
    assert "cannot parse sink" in _err(capsys)


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all"])
def test_wrong_model_file(capsys, tmp_path, content):
    import cv2

    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
    model = tmp_path / "plate.onnx"
    model.write_bytes(content)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"plate_detector:\n  model:\n    path: {model}\n")
    assert main(["run", "--source", str(images), "--config", str(cfg), "-o", str(tmp_path / "o")]) != 0
    line = _err(capsys)
    assert "ModelError" in line and "plate.onnx" in line


def test_missing_model_file(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"plate_detector:\n  model:\n    path: {tmp_path / 'gone.onnx'}\n")
    (tmp_path / "imgs").mkdir()
    import cv2

    cv2.imwrite(str(tmp_path / "imgs" / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
    assert main(["run", "--source", str(tmp_path / "imgs"), "--config", str(cfg), "-o", str(tmp_path)]) != 0
    assert "not found" in _err(capsys)


def test_unknown_option_is_a_usage_error_not_a_traceback(capsys):
    assert main(["eval", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--bogus" in err
