"""A few training steps on rendered plates: loss is finite, checkpoints resume, the ONNX export matches."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ovr_alpr.train.reader import TrainOptions, train  # noqa: E402


def test_train_resume_and_export(tmp_path):
    opts = TrainOptions(
        out_dir=tmp_path / "run",
        synthetic=48,
        steps=4,
        batch=8,
        eval_every=2,
        threads=1,
        workers=1,
        width_mult=0.5,
        command="pytest",
    )
    first = train(TrainOptions(**{**opts.__dict__, "steps": 6, "stop_at": 4}))  # as if interrupted
    assert first["steps"] == 4
    assert all(np.isfinite(h["loss"]) for h in first["history"])
    # resume continues from the checkpoint instead of starting again
    resumed = train(TrainOptions(**{**opts.__dict__, "steps": 6, "resume": True}))
    assert resumed["steps"] == 6 and [h["step"] for h in resumed["history"]] == [2, 4, 6]
    onnx_path = tmp_path / "run" / "reader.onnx"
    assert onnx_path.is_file() and (tmp_path / "run" / "MODEL_CARD.md").is_file()
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert json.loads(meta["plate_config"])["max_plate_slots"] == 10

    from ovr_alpr.ocr import build_reader
    from ovr_alpr.pipeline.config import AppConfig

    cfg = AppConfig.model_validate({"ocr": {"type": "ovr", "model": {"path": str(onnx_path)}}})
    reader = build_reader(cfg.ocr)
    read = reader.read(np.zeros((40, 160, 3), np.uint8))
    assert len(read.char_confidences) == len(read.text)
