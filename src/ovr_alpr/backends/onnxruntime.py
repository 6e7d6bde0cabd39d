"""ONNX Runtime backend: CPU, CUDA and TensorRT execution providers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..config import ModelConfig
from ..errors import ModelError
from .base import BACKENDS, InferenceBackend

log = logging.getLogger(__name__)

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def providers_for(device: str) -> list:
    """Execution providers to try for `device`, fastest first, limited to those installed."""
    available = ort.get_available_providers()
    if device.startswith("cuda"):
        dev_id = int(device.split(":")[1])
        wanted = [("TensorrtExecutionProvider", {"device_id": dev_id}),
                  ("CUDAExecutionProvider", {"device_id": dev_id})]
        chosen = [p for p in wanted if p[0] in available]
        if not chosen:
            log.warning("device %s asked for, but this onnxruntime has no CUDA provider (has %s); running on CPU. "
                        "Install the [gpu] extra (onnxruntime-gpu) for CUDA.", device, ", ".join(available))
        return [*chosen, "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, cfg: ModelConfig, model_path: Path, role: str, session_path: Path | None = None) -> None:
        super().__init__(cfg, model_path, role)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = cfg.threads or (os.cpu_count() or 1)
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        load_path = session_path or model_path
        try:
            self.session = ort.InferenceSession(str(load_path), sess_options=opts, providers=providers_for(cfg.device))
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load {role} model {load_path}: {first}",
                             "check that the file is a valid ONNX model") from None
        self.model_path = Path(load_path)
        self.provider = self.session.get_providers()[0]
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.dtype(_ORT_DTYPES.get(inp.type, np.float32))
        self.input_shape = tuple(d if isinstance(d, int) else -1 for d in inp.shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.precision = detect_precision(self.session, self.input_dtype)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        if batch.dtype != self.input_dtype:
            batch = batch.astype(self.input_dtype)
        return self.session.run(self.output_names, {self.input_name: batch})


def detect_precision(session: ort.InferenceSession, input_dtype: np.dtype) -> str:
    """fp16 if the graph takes fp16, int8 if its metadata or node names say it is quantized, else fp32."""
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("ovr_alpr_precision") in ("fp32", "fp16", "int8"):
        return meta["ovr_alpr_precision"]
    if input_dtype == np.float16:
        return "fp16"
    return "fp32"
