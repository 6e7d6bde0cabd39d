"""`model.backend: openvino`: ONNX Runtime's OpenVINO provider, with the CUDA/TensorRT fallback rules.

This machine's onnxruntime has no OpenVINO provider, so the tests check the fallback (a warning, the CPU
provider, the same outputs as the default backend); the provider itself was measured in a venv with
`onnxruntime-openvino` (`docs/measurements.md`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ovr_alpr.config import ModelConfig
from ovr_alpr.runtime.backends import load_backend
from ovr_alpr.runtime.backends.base import backend_candidates
from ovr_alpr.runtime.backends.openvino import OPENVINO_EP, OpenVinoBackend, openvino_providers

READER = Path(__file__).resolve().parents[2] / "src" / "ovr_alpr" / "assets" / "plate_reader.onnx"


def test_provider_choice():
    assert openvino_providers([OPENVINO_EP, "CPUExecutionProvider"]) == [OPENVINO_EP, "CPUExecutionProvider"]
    assert openvino_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_config_word_and_fallback_order():
    cfg = ModelConfig(backend="openvino")
    assert backend_candidates(cfg, Path("m.onnx")) == ["openvino", "onnxruntime"]


def test_without_the_provider_it_warns_and_reads_like_the_default(tmp_path, caplog):
    x = np.random.default_rng(0).integers(0, 256, (2, 64, 128, 3), dtype=np.uint8)
    default = load_backend(ModelConfig(path=str(READER)), "ocr", cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        ov = load_backend(ModelConfig(path=str(READER), backend="openvino"), "ocr", cache_dir=tmp_path)
    assert isinstance(ov, OpenVinoBackend) and ov.name == "openvino" and ov.precision == "fp32"
    if OPENVINO_EP in ort.get_available_providers():
        assert ov.provider == OPENVINO_EP
    else:
        assert ov.provider == "CPUExecutionProvider"
        assert "no OpenVINO provider" in caplog.text and "[openvino]" in caplog.text
    np.testing.assert_allclose(ov(x)[0], default(x)[0], atol=1e-4)


def test_plate_detector_keeps_its_square_input_on_openvino(tmp_path):
    """OpenVINO compiles per input shape, so the rect (any-size) cut is not made for it."""
    from ovr_alpr.runtime.zoo import default_model_path

    ov = load_backend(
        ModelConfig(backend="openvino"),
        "plate",
        default_model_path("plate"),
        warmup=False,
        cache_dir=tmp_path,
    )
    assert ov.input_shape == (1, 3, 640, 640) and "ovr_alpr_head" not in ov.metadata
