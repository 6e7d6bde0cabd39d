"""The `InferenceBackend` interface and `load_backend`, which resolves `backend: auto`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ModelConfig
from ..errors import ModelError
from ..registry import Registry

log = logging.getLogger(__name__)

BACKENDS: Registry[type[InferenceBackend]] = Registry("backend")


class InferenceBackend(ABC):
    """Runs one model: a numpy batch in, a list of numpy outputs out.

    Attributes:
        name: registry word (`onnxruntime`, `tensorrt`, `ultralytics`).
        provider: what actually executes it (e.g. `CPUExecutionProvider`, `TensorRT`, `torch-cuda`).
        precision: `fp32`, `fp16` or `int8`, as run.
        input_shape: (N, C, H, W) the model takes; dynamic dims are -1.
        input_dtype: numpy dtype of the input tensor.
        model_path: the file actually loaded (after any conversion).
    """

    name: str = "base"

    def __init__(self, cfg: ModelConfig, model_path: Path, role: str) -> None:
        self.cfg = cfg
        self.role = role
        self.model_path = Path(model_path)
        self.provider = "?"
        self.precision = "fp32"
        self.input_shape: tuple[int, ...] = (1, 3, -1, -1)
        self.input_dtype: np.dtype = np.dtype(np.float32)
        self.source_path = Path(model_path)

    @abstractmethod
    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input batch (already preprocessed, NCHW)."""

    def warmup(self, runs: int = 2) -> None:
        shape = tuple(d if d > 0 else 32 for d in self.input_shape)
        if shape[-1] == 32 and self.input_shape[-1] < 0:  # text recognisers want a wide input
            shape = (*shape[:-1], 320)
        if self.input_shape[-2] < 0:
            shape = (*shape[:-2], 48, shape[-1])
        dummy = np.zeros(shape, dtype=self.input_dtype)
        for _ in range(runs):
            self(dummy)

    def describe(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "file": str(self.model_path),
            "format": self.model_path.suffix.lstrip("."),
            "backend": self.name,
            "provider": self.provider,
            "precision": self.precision,
            "input_size": "x".join(str(d) for d in self.input_shape[2:]),
            "batch": self.input_shape[0],
        }


def _cuda_available() -> bool:
    try:
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return True
    except ImportError:
        pass
    return False


def resolve_backend_name(cfg: ModelConfig, model_path: Path) -> str:
    """`auto`: by file type first (.engine -> tensorrt, .pt -> ultralytics), else ONNX Runtime."""
    if cfg.backend != "auto":
        return cfg.backend
    suffix = model_path.suffix.lower()
    if suffix in (".engine", ".plan", ".trt"):
        return "tensorrt"
    if suffix == ".pt":
        return "ultralytics"
    if cfg.device.startswith("cuda") and "tensorrt" in BACKENDS:
        try:
            import tensorrt  # noqa: F401

            return "tensorrt"
        except ImportError:
            pass
    return "onnxruntime"


def load_backend(cfg: ModelConfig, role: str, default_path: Path | None = None, warmup: bool = True,
                 cache_dir: Path | None = None) -> InferenceBackend:
    """Create and warm up the backend for one model.

    Raises:
        ModelError: the file is missing or the backend cannot load it.
    """
    from . import onnxruntime as _ort  # noqa: F401  (registers)

    try:  # optional backends register themselves when their module imports
        from . import tensorrt as _trt  # noqa: F401
    except ImportError:
        pass
    try:
        from . import ultralytics as _ul  # noqa: F401
    except ImportError:
        pass

    path = Path(cfg.path).expanduser() if cfg.path else default_path
    if path is None:
        raise ModelError(f"no model file configured for {role}", f"set {role}.model.path in the config")
    name = resolve_backend_name(cfg, path)
    if name != "ultralytics" and not path.is_file():
        raise ModelError(f"{role} model file {path} not found", "check the path, or remove it to use the embedded default")
    backend_cls = BACKENDS.get(name)
    backend = backend_cls(cfg, path, role)
    log.info("%s: %s via %s (%s, %s)", role, backend.model_path.name, backend.name, backend.provider, backend.precision)
    if warmup:
        backend.warmup()
    return backend
