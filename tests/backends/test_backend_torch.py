"""The torch backend (ONNX graphs executed with torch ops) matches ONNX Runtime; GPU runs only with CUDA."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.config import ModelConfig
from ovr_alpr.runtime.convert import make_tiny_model, save

torch = pytest.importorskip("torch", reason="torch is not installed (the [torch] extra)")


def test_torch_backend_matches_onnxruntime_on_cpu(tmp_path):
    from ovr_alpr.runtime.backends import load_backend

    path = save(make_tiny_model(), tmp_path / "tiny.onnx")
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    ref = load_backend(ModelConfig(path=str(path), threads=1), "plate", cache_dir=tmp_path)(x)[0]
    # "torch" is not a config word (yet): model_copy skips validation, as `validate --backend torch` does
    cfg = ModelConfig(path=str(path)).model_copy(update={"backend": "torch"})
    backend = load_backend(cfg, "plate", cache_dir=tmp_path)
    assert backend.name == "torch" and backend.provider == "torch-cpu" and backend.precision == "fp32"
    assert backend.output_shapes == [(1, 8, 32, 32)]
    np.testing.assert_allclose(backend(x)[0], ref, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA torch")
def test_torch_backend_fp16_on_cuda_is_close_to_fp32(tmp_path):
    from ovr_alpr.runtime.backends import load_backend

    path = save(make_tiny_model(), tmp_path / "tiny.onnx")
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    fp32 = ModelConfig(path=str(path), device="cuda:0", precision="fp32").model_copy(
        update={"backend": "torch"}
    )
    fp16 = fp32.model_copy(update={"precision": "fp16"})
    a = load_backend(fp32, "plate", cache_dir=tmp_path)(x)[0]
    b = load_backend(fp16, "plate", cache_dir=tmp_path)
    assert b.precision == "fp16"
    np.testing.assert_allclose(b(x)[0], a, atol=2e-2)
