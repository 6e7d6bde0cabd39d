"""The Ultralytics `.pt` path on CPU, with an untrained model built from a yaml (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.config import ModelConfig
from ovr_alpr.errors import ModelError


@pytest.fixture(scope="module")
def untrained_pt(tmp_path_factory):
    pytest.importorskip("torch", reason="the [torch] extra (torch, ultralytics) is not installed")
    ultralytics = pytest.importorskip(
        "ultralytics", reason="the [torch] extra (ultralytics) is not installed"
    )
    path = tmp_path_factory.mktemp("ul") / "yolov8n-untrained.pt"
    ultralytics.YOLO("yolov8n.yaml", task="detect").save(str(path))
    return path


def test_pt_model_runs_on_cpu_like_an_onnx_export(untrained_pt, tmp_path):
    from ovr_alpr.detect.yolo import YoloDetector
    from ovr_alpr.runtime.backends import load_backend

    backend = load_backend(ModelConfig(path=str(untrained_pt), input_size=320), "vehicle", cache_dir=tmp_path)
    assert backend.name == "ultralytics"
    assert backend.provider == "torch-cpu"
    assert backend.precision == "fp32"
    assert backend.input_shape == (1, 3, 320, 320)
    assert backend.class_names is not None and len(backend.class_names) == 80
    out = backend(np.zeros((1, 3, 320, 320), np.float32))
    assert out[0].shape == (1, 84, 2100)  # [N, 4 + 80 classes, anchors], as the ONNX export
    detections = YoloDetector(backend, conf_threshold=0.99)(np.zeros((240, 320, 3), np.uint8))
    assert detections.xyxy.shape[1] == 4


def test_pt_to_onnx_export(untrained_pt, tmp_path):
    import onnxruntime as ort

    from ovr_alpr.tools.export import export_pt_to_onnx

    out = export_pt_to_onnx(untrained_pt, tmp_path / "y.onnx", imgsz=320)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 320, 320]
    assert session.get_outputs()[0].shape == [1, 84, 2100]


def test_unknown_name_offline_is_one_line_model_error(untrained_pt, monkeypatch, tmp_path):
    """A name Ultralytics would download: offline the error says where to put the file."""
    from ovr_alpr.runtime.backends import ultralytics as ul

    def no_network(*args, **kwargs):
        raise ConnectionError("Download failure for yolo11n.pt. Environment may be offline.")

    monkeypatch.chdir(tmp_path)
    import ultralytics

    monkeypatch.setattr(ultralytics, "YOLO", no_network)
    with pytest.raises(ModelError) as err:
        ul.load_yolo(tmp_path.joinpath("yolo11n.pt").relative_to(tmp_path), "vehicle")
    line = err.value.one_line()
    assert "\n" not in line
    assert "yolo11n.pt" in line and str(tmp_path / "yolo11n.pt") in line
