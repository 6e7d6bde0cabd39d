"""`ovr-alpr models`, `export` and `validate` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from ovr_alpr.cli import main
from ovr_alpr.evaluation.datasets import load_dataset
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.runtime.convert import PRECISION_KEY, get_metadata, make_tiny_model, save
from ovr_alpr.tools.inventory import COLUMNS, format_table, models_table

OPENALPR = Path(__file__).resolve().parents[3] / "shared" / "data" / "openalpr"
needs_openalpr = pytest.mark.skipif(not OPENALPR.is_dir(), reason=f"{OPENALPR} (shared data) is not present")


def test_models_table_for_the_default_config(tmp_path):
    rows = models_table(AppConfig(cache_dir=str(tmp_path)))
    assert [r["role"] for r in rows] == ["plate", "ocr", "ocr second opinion"]
    for row in rows:
        assert set(COLUMNS) <= set(row)
        assert row["backend"] == "onnxruntime"
        assert row["provider"] == "CPUExecutionProvider"
        assert len(row["sha256"]) == 12
    plate, ocr, second = rows
    assert second["file"].endswith("plate_reader_blur.onnx") and second["input_size"] == "64x128"
    off = AppConfig.model_validate({"cache_dir": str(tmp_path), "ocr": {"second_opinion": None}})
    assert [r["role"] for r in models_table(off)] == ["plate", "ocr"]
    # run cut at its head on each frame's own aspect (model.letterbox: rect, the default)
    assert plate["precision"] == "fp32" and plate["input_size"] == "512 long side (rect)"  # our detector
    assert plate["engine_cache"].startswith("will derive fp16->fp32")
    assert plate["file"].endswith("plate_detector.onnx")
    square = AppConfig.model_validate(
        {"cache_dir": str(tmp_path), "plate_detector": {"model": {"letterbox": "square"}}}
    )
    assert models_table(square)[0]["input_size"] == "512x512"
    platedet = AppConfig.model_validate(
        {"cache_dir": str(tmp_path), "plate_detector": {"type": "platedet", "model": {"letterbox": "square"}}}
    )
    assert models_table(platedet)[0]["input_size"] == "640x640"
    assert models_table(platedet)[0]["file"].endswith("platedet.onnx")
    assert ocr["input_size"] == "64x128"  # the shipped reader, NHWC
    text = format_table(rows)
    assert "plate" in text and "ocr" in text


def test_models_cli_json_lists_a_configured_vehicle_model(tmp_path, capsys):
    model = save(make_tiny_model(), tmp_path / "veh.onnx")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"cache_dir: {tmp_path / 'cache'}\nvehicle_detector:\n  model:\n    path: {model}\n")
    assert main(["models", "--config", str(cfg), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["role"] for r in rows] == ["plate", "vehicle", "ocr", "ocr second opinion"]
    assert rows[1]["file"] == str(model) and rows[1]["engine_cache"] == "uses source"


def test_export_input_to_fp16_writes_a_tagged_file(tmp_path, capsys):
    model = save(make_tiny_model(), tmp_path / "m.onnx")
    out = tmp_path / "m16.onnx"
    assert main(["export", "--input", str(model), "--to", "fp16", "-o", str(out)]) == 0
    assert get_metadata(onnx.load(str(out)))[PRECISION_KEY] == "fp16"


def test_export_rejects_wrong_combinations(tmp_path, capsys):
    model = save(make_tiny_model(), tmp_path / "m.onnx")
    assert main(["export", "--input", str(model), "--to", "onnx"]) != 0
    assert main(["export", "--input", str(model), "--to", "int8", "-o", str(tmp_path / "q.onnx")]) != 0
    assert "calibration" in capsys.readouterr().err


def test_yolo_layout_dataset_is_read(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((100, 200, 3), np.uint8))
    (tmp_path / "labels" / "a.txt").write_text("2 0.5 0.5 0.5 0.2\n")
    [sample] = load_dataset(tmp_path)
    np.testing.assert_allclose(sample.boxes[0], [50, 40, 150, 60])
    assert sample.class_ids.tolist() == [2]


@needs_openalpr
def test_validate_plate_writes_the_json_contract(tmp_path, capsys):
    out = tmp_path / "v.json"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"cache_dir: {tmp_path / 'cache'}\n")
    code = main(
        [
            "validate",
            "--model",
            "plate",
            "--precisions",
            "fp32,fp16",
            "--dataset",
            str(OPENALPR),
            "--limit",
            "3",
            "--config",
            str(cfg),
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    report = json.loads(out.read_text())
    assert report["model"] == "plate"
    assert set(report["results"]) == {"fp32", "fp16"}
    for res in report["results"].values():
        assert 0.0 <= res["map50"] <= 1.0 and 0.0 <= res["recall"] <= 1.0 and res["ms"] > 0
    assert code == (0 if report["passed"] else 1)
    assert "map50" in capsys.readouterr().out


@needs_openalpr
def test_validate_ocr_reads_label_crops(tmp_path):
    from ovr_alpr.tools.validate import validate

    report = validate(
        AppConfig(cache_dir=str(tmp_path)), "ocr", ["fp32"], OPENALPR / "eu", limit=3, progress=False
    )
    res = report["results"]["fp32"]
    assert 0.0 <= res["exact"] <= 1.0 and res["reads"] == 3
    assert res["read_ms"] > 0
    from ovr_alpr.tools.validate import format_report

    assert "read ms/crop" in format_report(report, 1.0)
    # each crop's read is kept, and its count of exact reads is the exact match reported
    rows = report["reads"]["fp32"]
    assert len(rows) == 3 and sum(r["exact"] for r in rows) == round(res["exact"] * 3)
    assert all(Path(r["image"]).is_file() and r["truth"] for r in rows)


@needs_openalpr
def test_validate_ocr_writes_each_crops_read_with_reads(tmp_path, capsys):
    import csv

    out, cfg = tmp_path / "reads.csv", tmp_path / "cfg.yaml"
    cfg.write_text(f"cache_dir: {tmp_path / 'cache'}\n")
    args = ["validate", "--model", "ocr", "--precisions", "fp32,fp16", "--dataset", str(OPENALPR / "us")]
    main([*args, "--limit", "4", "--config", str(cfg), "--reads", str(out), "--no-progress"])
    assert "reads: " in capsys.readouterr().out
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["precision"] for r in rows] == ["fp32"] * 4 + ["fp16"] * 4
    assert {r["truth"] for r in rows[:4]} == {r["truth"] for r in rows[4:]}
    assert all(r["exact"] == str(r["read"] == r["truth"]) for r in rows)
    # a detector reads no text: a one-line error before any model is loaded
    code = main(["validate", "--model", "plate", "--dataset", str(OPENALPR), "--reads", str(out)])
    assert code != 0 and "--reads needs an OCR validation" in capsys.readouterr().err


def test_validate_ocr_read_time_is_the_whole_read(monkeypatch):
    """`read_ms` times reader.read as a whole (a second opinion's calls inside it included), per crop."""
    from types import SimpleNamespace

    from ovr_alpr.labels import LabelledImage
    from ovr_alpr.tools import validate as v

    clock = {"t": 0.0}
    monkeypatch.setattr(v.time, "perf_counter", lambda: clock["t"])

    class Reader:
        def __init__(self):
            self.n = 0

        def read(self, crop):
            self.n += 1  # the second crop is unsure and asks a second model: 3 ms more
            clock["t"] += 0.001 if self.n == 1 else 0.004
            return SimpleNamespace(text="AB123")

    image = np.zeros((50, 100, 3), np.uint8)
    box = np.array([10.0, 10.0, 90.0, 40.0])
    sample = LabelledImage(Path("x.jpg"), np.stack([box, box]), ["AB123", "AB124"])
    out = v._run_ocr(Reader(), [image], [sample])
    assert out["reads"] == 2 and out["exact"] == 0.5
    assert out["read_ms"] == pytest.approx(2.5)


@needs_openalpr
def test_validate_ocr_loads_the_second_opinion_as_the_pipeline_does(tmp_path):
    from ovr_alpr.errors import ModelError
    from ovr_alpr.tools.validate import validate

    missing = tmp_path / "missing.onnx"
    cfg = AppConfig.model_validate(
        {"cache_dir": str(tmp_path), "ocr": {"second_opinion": {"path": str(missing)}}}
    )
    with pytest.raises(ModelError, match=r"missing\.onnx"):
        validate(cfg, "ocr", ["fp32"], OPENALPR / "eu", limit=3, progress=False)


def test_models_table_loaded_shows_the_readers_image_size(tmp_path):
    cfg = AppConfig.model_validate({"cache_dir": str(tmp_path), "ocr": {"model": {"threads": 1}}})
    rows = {r["role"]: r for r in models_table(cfg, load=True)}
    assert rows["ocr"]["input_size"] == "64x128"  # NHWC: height x width, not 128 x 3
    assert rows["ocr second opinion"]["file"].endswith("plate_reader_blur.onnx")
    assert rows["ocr second opinion"]["input_size"] == "64x128"
