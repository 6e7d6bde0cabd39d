"""`ovr-alpr gpucheck --device cpu`: a dry run of every GPU path on tiny inputs finishes with exit code 0."""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import pytest
import typer
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from ovr_alpr.cli import gpucheck
from ovr_alpr.runtime.convert import save
from ovr_alpr.synth.plates import render_plate

pytest.importorskip("torch", reason="the torch paths need torch (the [torch] extra)")
pytest.importorskip("ultralytics", reason="the .pt path needs ultralytics (the [torch] extra)")


def tiny_detector() -> onnx.ModelProto:
    """A YOLOv8-shaped detector (1x3x32x32 -> 1x5x1024: box + one class score) with random weights."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (5, 3, 1, 1)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 5, 1024], np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["c"], name="conv"),
        helper.make_node("Sigmoid", ["c"], ["s"], name="sigmoid"),
        helper.make_node("Reshape", ["s", "shape"], ["output0"], name="reshape"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, 1024])],
        [w, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def tiny_reader() -> onnx.ModelProto:
    """A PP-OCR-shaped CTC reader (Nx3x48xW -> Nx(W/8)x38 softmax over blank, 0-9A-Z, space)."""
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.1, (len(chars) + 2, 3, 48, 8)).astype(np.float32), "w")
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=[48, 8], name="conv"),
        helper.make_node("Squeeze", ["c", "axes"], ["s"], name="squeeze"),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1], name="transpose"),
        helper.make_node("Softmax", ["t"], ["softmax"], axis=2, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-reader",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 48, "W"])],
        [helper.make_tensor_value_info("softmax", TensorProto.FLOAT, ["N", "T", len(chars) + 2])],
        [w, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"character": "\n".join(chars)})
    return model


def one_plate_dataset(folder):
    """One openalpr-labelled image: a rendered plate on a grey background."""
    folder.mkdir()
    plate = cv2.resize(render_plate("AB123CD", np.random.default_rng(0)), (120, 26))
    scene = np.full((240, 320, 3), 90, np.uint8)
    scene[100:126, 100:220] = plate
    cv2.imwrite(str(folder / "car.jpg"), scene)
    (folder / "car.txt").write_text("car.jpg\t100\t100\t120\t26\tAB123CD\n")
    return folder


def test_gpucheck_dry_run_on_cpu_reports_every_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing to find beside the working folder
    detector = save(tiny_detector(), tmp_path / "det.onnx")
    app = typer.Typer()
    gpucheck.register(app)
    args = ["--device", "cpu", "--dataset", str(one_plate_dataset(tmp_path / "data"))]
    reader = save(tiny_reader(), tmp_path / "ocr.onnx")
    args += [
        "--plate-model",
        str(detector),
        "--vehicle",
        str(detector),
        "--ocr-model",
        str(reader),
        "--ocr-type",
        "ppocr",
    ]
    args += ["--limit", "1", "--runs", "1"]
    args += ["--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "gpucheck.json").read_text())
    status = {
        name: "skipped" if "skipped" in res else "error" if "error" in res else "ok"
        for name, res in results.items()
        if name != "environment"
    }
    assert len(status) == 8 and "error" not in status.values(), status
    assert [name for name, s in status.items() if s == "ok"][:6] == [
        "torch-cuda accuracy plate fp32/fp16",
        "torch-cuda accuracy ocr fp32/fp16",
        "torch-cuda accuracy vehicle fp32/fp16",
        "torch-cuda latency plate fp32",
        "torch-cuda latency plate fp16",
        "ultralytics .pt on cuda (untrained yolov8n, latency)",
    ]
    assert results["torch-cuda accuracy ocr fp32/fp16"]["fp32"]["backend"] == "torch"
    assert results["torch-cuda latency plate fp32"]["provider"] == "torch-cpu"
