"""`load_backend`: backend choice, precision resolution into the cache, warm-up and fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ovr_alpr.config import ModelConfig
from ovr_alpr.errors import ModelError
from ovr_alpr.runtime.backends import load_backend
from ovr_alpr.runtime.backends.base import BACKENDS, InferenceBackend, backend_candidates
from ovr_alpr.runtime.convert import make_tiny_model, save
from ovr_alpr.runtime.engine_cache import engine_cache_key


@pytest.fixture
def tiny_path(tmp_path) -> Path:
    return save(make_tiny_model(), tmp_path / "tiny.onnx")


def test_onnx_on_cpu_loads_warms_up_and_describes(tiny_path, tmp_path):
    backend = load_backend(ModelConfig(path=str(tiny_path), threads=1), "plate", cache_dir=tmp_path / "c")
    assert backend.name == "onnxruntime"
    assert backend.provider == "CPUExecutionProvider"
    assert backend.precision == "fp32"
    assert backend.input_shape == (1, 3, 32, 32)
    out = backend(np.zeros((1, 3, 32, 32), np.float32))
    assert out[0].shape == (1, 8, 32, 32)
    info = backend.describe()
    for key in ("role", "file", "format", "backend", "provider", "precision", "input_size", "batch"):
        assert key in info
    assert info["input_size"] == "32x32"
    # its threads sleep between ops: the pipeline's own threads need the same cores
    options = backend.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 1


def test_precision_fp16_loads_a_cached_derived_file(tiny_path, tmp_path):
    cache = tmp_path / "cache"
    cfg = ModelConfig(path=str(tiny_path), precision="fp16", threads=1)
    backend = load_backend(cfg, "plate", cache_dir=cache)
    assert backend.precision == "fp16"
    assert backend.model_path.parent == cache / "models"
    assert backend.source_path == tiny_path
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    ref = load_backend(ModelConfig(path=str(tiny_path), threads=1), "plate", cache_dir=cache)(x)[0]
    np.testing.assert_allclose(backend(x)[0].astype(np.float32), ref, atol=2e-2)


@pytest.mark.parametrize("letterbox", ["rect", "square"])
def test_embedded_plate_model_runs_fp32_on_cpu_without_its_mask_branch(tmp_path, letterbox):
    from ovr_alpr.runtime.zoo import default_model_path

    backend = load_backend(
        ModelConfig(threads=1, letterbox=letterbox),
        "plate_detector",
        default_model_path("plate"),
        warmup=False,
        cache_dir=tmp_path,
    )
    assert backend.precision == "fp32"
    assert backend.input_dtype == np.float32
    if letterbox == "square":
        assert len(backend.output_names) == 1  # mask prototypes pruned: the detector uses boxes only
        assert backend.input_shape == (1, 3, 640, 640)
    else:  # cut at the head convs: (box bins, class logits) per stride, any input size, no mask branch
        assert len(backend.output_names) == 6
        assert backend.input_shape == (1, 3, -1, -1)
        assert backend.metadata["ovr_alpr_head"] == "yolo-dfl16"
    assert backend.class_names == {0: "plate"}  # class names survive the conversion


def test_auto_candidates_follow_file_type_and_device(tmp_path):
    assert backend_candidates(ModelConfig(), Path("m.engine")) == ["tensorrt"]
    assert backend_candidates(ModelConfig(), Path("m.pt")) == ["ultralytics"]
    assert backend_candidates(ModelConfig(), Path("m.onnx")) == ["onnxruntime"]
    assert backend_candidates(ModelConfig(device="cuda:0"), Path("m.onnx"))[-1] == "onnxruntime"
    assert backend_candidates(ModelConfig(backend="tensorrt"), Path("m.onnx")) == ["tensorrt", "onnxruntime"]
    assert backend_candidates(ModelConfig(backend="onnxruntime"), Path("m.onnx")) == ["onnxruntime"]


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_backend(ModelConfig(path=str(tmp_path / "nope.onnx")), "plate")


def test_failed_backend_falls_back_to_the_next_with_a_warning(tiny_path, tmp_path, caplog, monkeypatch):
    @BACKENDS.register("broken-for-test")
    class Broken(InferenceBackend):
        name = "broken-for-test"

        def __call__(self, batch):
            raise RuntimeError("out of memory while building")

    import ovr_alpr.runtime.backends.base as base

    monkeypatch.setattr(base, "backend_candidates", lambda cfg, path: ["broken-for-test", "onnxruntime"])
    with caplog.at_level(logging.WARNING):
        backend = load_backend(ModelConfig(path=str(tiny_path), threads=1), "plate", cache_dir=tmp_path)
    assert backend.name == "onnxruntime"
    assert "out of memory" in caplog.text and "falling back to onnxruntime" in caplog.text


def test_tensorrt_requested_without_tensorrt_falls_back_to_onnxruntime(tiny_path, tmp_path, caplog):
    pytest.importorskip("onnxruntime")
    try:
        import tensorrt  # noqa: F401

        pytest.skip("tensorrt is installed here; the fallback is for machines without it")
    except ImportError:
        pass
    with caplog.at_level(logging.WARNING):
        backend = load_backend(
            ModelConfig(path=str(tiny_path), backend="tensorrt", threads=1), "plate", cache_dir=tmp_path
        )
    assert backend.name == "onnxruntime"
    assert "tensorrt" in caplog.text


def test_engine_cache_key_changes_with_everything_it_depends_on():
    base = dict(
        gpu_name="NVIDIA H100 80GB HBM3",
        compute_capability="90",
        trt_version="10.13.0",
        precision="fp16",
        input_hw=(640, 640),
        batch=1,
        source_sha256="a" * 64,
    )
    key = engine_cache_key(**base)
    assert key == engine_cache_key(**base)
    assert "/" not in key and " " not in key
    changes = dict(
        gpu_name="NVIDIA L4",
        compute_capability="89",
        trt_version="10.14.1",
        precision="int8",
        input_hw=(416, 416),
        batch=4,
        source_sha256="b" * 64,
    )
    for field, value in changes.items():
        assert engine_cache_key(**{**base, field: value}) != key, field


def test_batches_over_an_engines_cap_run_in_chunks_in_order():
    """A TensorRT engine built for `batch: 1` gets a reader's nine crop variants: they run one slice at a
    time and the outputs come back in order, every output joined."""
    from ovr_alpr.runtime.backends.base import run_in_chunks

    sizes = []

    def run(b):
        sizes.append(len(b))
        return [b * 2, b.sum(axis=1, keepdims=True)]

    batch = np.arange(9 * 3, dtype=np.float32).reshape(9, 3)
    out = run_in_chunks(batch, 4, run)
    assert sizes == [4, 4, 1]
    assert np.array_equal(out[0], batch * 2) and np.array_equal(out[1], batch.sum(axis=1, keepdims=True))
    sizes.clear()
    assert np.array_equal(run_in_chunks(batch, 9, run)[0], batch * 2) and sizes == [9]  # fits: one call
