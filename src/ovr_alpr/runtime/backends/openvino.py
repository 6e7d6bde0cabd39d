"""OpenVINO backend: ONNX Runtime with its OpenVINO execution provider (Intel CPUs); `backend: openvino`.

Needs `pip install -e ".[openvino]"` (the `onnxruntime-openvino` wheel, which provides the same `onnxruntime`
module as the default wheel, with the OpenVINO provider added). The same fallback rules as CUDA/TensorRT: an
onnxruntime without the provider logs a warning and runs on ONNX Runtime's own CPU provider; a model the
provider cannot compile falls back to the CPU provider with a warning. `auto` precision is FP32, as on the
CPU provider; compiled models are cached under the cache folder (`openvino/`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import onnxruntime as ort

from ...config import ModelConfig
from .base import BACKENDS
from .onnxruntime import CPU_EP, OnnxRuntimeBackend

log = logging.getLogger(__name__)

OPENVINO_EP = "OpenVINOExecutionProvider"


def openvino_providers(available: list[str] | None = None) -> list[str]:
    """The OpenVINO provider then the CPU provider, or the CPU provider alone (with a warning)."""
    available = ort.get_available_providers() if available is None else available
    if OPENVINO_EP in available:
        return [OPENVINO_EP, CPU_EP]
    log.warning(
        "backend openvino asked for, but this onnxruntime has no OpenVINO provider (has %s); running on "
        "ONNX Runtime's CPU provider. Install the [openvino] extra (onnxruntime-openvino).",
        ", ".join(available),
    )
    return [CPU_EP]


@BACKENDS.register("openvino")
class OpenVinoBackend(OnnxRuntimeBackend):
    """Runs an ONNX model with ONNX Runtime's OpenVINO provider on the CPU (see the module docstring)."""

    name = "openvino"
    fallback_providers = (OPENVINO_EP,)
    # OpenVINO compiles a model per input shape: detectors keep their square canvas (vehicle crops, streams
    # of other sizes would each compile anew)
    any_input_size = False

    def providers_for(self, cfg: ModelConfig, role: str) -> list[str]:
        if cfg.device != "cpu":
            log.warning("%s: backend openvino runs on the CPU here; device %s is ignored", role, cfg.device)
        return openvino_providers()

    def _provider_options(self, names: list[str], device_id: int, precision: str, cache: Path) -> list[Any]:
        out: list[Any] = []
        for p in names:
            if p == OPENVINO_EP:
                options = {"device_type": "CPU", "cache_dir": str(cache / "openvino")}
                if self.cfg.threads:
                    options["num_of_threads"] = str(self.cfg.threads)
                out.append((p, options))
                self.engine_cache = options["cache_dir"]
            else:
                out.append(p)
        return out
