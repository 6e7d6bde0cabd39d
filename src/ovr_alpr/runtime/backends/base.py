"""The `InferenceBackend` interface and `load_backend`, which resolves `backend: auto` and falls back.

`auto` tries the fastest backend that can run the model on the configured device first (native TensorRT >
ONNX Runtime with the TensorRT/CUDA provider > ONNX Runtime on CPU; `.pt` files go to Ultralytics) and
moves on to the next one, with a warning, when one cannot be built (e.g. a TensorRT build out of memory).
"""

from __future__ import annotations

import ast
import importlib
import logging
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from ...config import ModelConfig
from ...errors import ModelError, first_line
from ...registry import Registry, registry
from ..calibration import image_hw
from ..zoo import config_section

log = logging.getLogger(__name__)

BACKENDS: Registry[type[InferenceBackend]] = registry("backend")

# backend word -> module that registers it (optional ones may fail to import)
BACKEND_MODULES = {
    "onnxruntime": "ovr_alpr.runtime.backends.onnxruntime",
    "tensorrt": "ovr_alpr.runtime.backends.tensorrt",
    "ultralytics": "ovr_alpr.runtime.backends.ultralytics",
    "torch": "ovr_alpr.runtime.backends.torch_onnx",
    "openvino": "ovr_alpr.runtime.backends.openvino",
}
BACKENDS.declare(*BACKEND_MODULES)
# what to install when a backend's module cannot import
BACKEND_HINTS = {
    "tensorrt": "pip install 'ovr-alpr[tensorrt]' (tensorrt + cuda-python) on a machine with an NVIDIA GPU",
    "ultralytics": "pip install 'ovr-alpr[torch]'",
    "torch": "pip install torch",
}
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
# Ultralytics model names it can download by itself (e.g. `yolo11n.pt`), so they need not exist locally
KNOWN_NAME_SUFFIXES = (".pt",)


def parse_class_names(value: Any) -> dict[int, str] | None:
    """Class id -> name from a model's `names` metadata (Ultralytics writes a dict's repr; a list or an
    already parsed dict is taken too); None when it says nothing readable.

    Example:
        >>> parse_class_names("{0: 'plate'}")
        {0: 'plate'}
    """
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {i: str(v) for i, v in enumerate(value)}
    return None


def run_in_chunks(batch: np.ndarray, max_batch: int, run) -> list[np.ndarray]:
    """`run(batch)` on slices of at most `max_batch` rows, its outputs joined row-wise: for engines whose
    batch is capped (a TensorRT profile) while a caller sends more (a reader's crop variants).

    Example:
        >>> run_in_chunks(np.arange(5), 2, lambda b: [b * 10])[0].tolist()
        [0, 10, 20, 30, 40]
    """
    if max_batch < 1 or len(batch) <= max_batch:
        return run(batch)
    parts = [run(batch[i : i + max_batch]) for i in range(0, len(batch), max_batch)]
    return [np.concatenate([part[k] for part in parts]) for k in range(len(parts[0]))]


class InferenceBackend(ABC):
    """Runs one model: a numpy batch in, a list of numpy outputs out.

    Attributes:
        name: registry word (`onnxruntime`, `tensorrt`, `ultralytics`, `torch`).
        provider: what actually executes it (e.g. `CPUExecutionProvider`, `TensorRT`, `torch-cuda`).
        precision: `fp32`, `fp16` or `int8`, as run.
        input_shape: (N, C, H, W) the model takes; dynamic dims are -1.
        input_dtype: numpy dtype of the input tensor.
        model_path: the file actually loaded (after any conversion).
        source_path: the file the configuration named (before any conversion).
        class_names: class id -> name, when the model file says (detectors).
        charset: the OCR model's character list, when the model file has one.
        metadata: the model file's metadata (ONNX `metadata_props`).
        output_shapes: shape of each output as the model declares it (dynamic dims -1; empty if unknown).
    """

    name: str = "base"

    def __init__(self, cfg: ModelConfig, model_path: Path, role: str, cache_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.role = role
        self.model_path = Path(model_path)
        self.source_path = Path(model_path)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.provider = "?"
        self.precision = "fp32"
        self.input_shape: tuple[int, ...] = (1, 3, -1, -1)
        self.input_dtype: np.dtype = np.dtype(np.float32)
        self.class_names: dict[int, str] | None = None
        self.charset: str | None = None
        self.metadata: dict[str, str] = {}
        self.output_shapes: list[tuple[int, ...]] = []
        self.engine_cache: str = "-"

    def set_metadata(self, metadata: dict[str, str]) -> None:
        """Keep the model's metadata and read the class names / OCR charset it carries."""
        self.metadata = dict(metadata)
        self.charset = self.metadata.get("character") or self.charset
        names = self.metadata.get("names")
        if names and self.class_names is None:
            self.class_names = parse_class_names(names)

    @abstractmethod
    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input batch (already preprocessed, NCHW)."""

    def warmup_shape(self) -> tuple[int, ...]:
        """A concrete input shape for warm-up: dynamic dims get the model's usual sizes."""
        n, c, h, w = (list(self.input_shape) + [-1] * 4)[:4]
        n = n if n > 0 else 1
        c = c if c > 0 else 3
        if h <= 0:
            h = 48 if self.role == "ocr" else (self.cfg.input_size or 640)
        if w <= 0:
            w = 320 if self.role == "ocr" else (self.cfg.input_size or 640)
        return (n, c, h, w)

    def warmup(self, runs: int = 2) -> float:
        """Run the model `runs` times on zeros (allocations, kernels, engine builds); ms of the last run."""
        dummy = np.zeros(self.warmup_shape(), dtype=self.input_dtype)
        ms = 0.0
        for _ in range(runs):
            t0 = time.perf_counter()
            self(dummy)
            ms = (time.perf_counter() - t0) * 1000.0
        return ms

    def close(self) -> None:  # noqa: B027  (optional hook: most backends need no explicit release)
        """Release the runtime's resources (sessions, GPU buffers)."""

    def describe(self) -> dict[str, Any]:
        size = self.model_path.stat().st_size if self.model_path.is_file() else None
        return {
            "role": self.role,
            "file": str(self.model_path),
            "source": str(self.source_path),
            "format": self.model_path.suffix.lstrip("."),
            "backend": self.name,
            "provider": self.provider,
            "precision": self.precision,
            "input_size": "x".join(str(d) if d > 0 else "?" for d in image_hw(self.input_shape or ())),
            "batch": self.input_shape[0] if self.input_shape and self.input_shape[0] > 0 else "dyn",
            "file_size": size,
            "engine_cache": self.engine_cache,
        }


def import_backend(name: str) -> type[InferenceBackend]:
    """The backend class for `name`, importing its module; ModelError with an install hint if it cannot."""
    module = BACKEND_MODULES.get(name)
    if module is None:
        return BACKENDS.get(name)  # raises ConfigError listing the known names
    if not BACKENDS.loaded(name):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ModelError(
                f"backend {name!r} is not available here ({exc})",
                BACKEND_HINTS.get(name, "install its package"),
            ) from None
    if not BACKENDS.loaded(name):
        raise ModelError(
            f"backend {name!r} is not available here", BACKEND_HINTS.get(name, "install its package")
        )
    return BACKENDS.get(name)


def backend_available(name: str) -> bool:
    try:
        import_backend(name)
    except Exception:
        return False
    return True


def backend_candidates(cfg: ModelConfig, model_path: Path) -> list[str]:
    """Backends to try for this model, best first. An explicit `backend` is tried alone, except that a failed
    TensorRT build falls back to ONNX Runtime."""
    suffix = model_path.suffix.lower()
    if cfg.backend != "auto":
        if cfg.backend in ("tensorrt", "openvino") and suffix == ".onnx":
            return [cfg.backend, "onnxruntime"]
        return [cfg.backend]
    if suffix in ENGINE_SUFFIXES:
        return ["tensorrt"]
    if suffix == ".pt":
        return ["ultralytics"]
    if cfg.device.startswith("cuda"):
        names = ["tensorrt"] if backend_available("tensorrt") else []
        return [*names, "onnxruntime"]
    return ["onnxruntime"]


def resolve_model_path(cfg: ModelConfig, role: str, default_path: Path | None) -> Path:
    """The file the config names for `role`, or the embedded default.

    Raises:
        ModelError: nothing is configured, or the named file does not exist (Ultralytics names like
            `yolo11n.pt` are allowed not to exist: Ultralytics downloads them).
    """
    path = Path(cfg.path).expanduser() if cfg.path else default_path
    if path is None:
        raise ModelError(
            f"no model file configured for {role}", f"set {config_section(role)}.model.path in the config"
        )
    is_download_name = path.suffix.lower() in KNOWN_NAME_SUFFIXES and path.parent == Path(".")
    if not path.is_file() and not is_download_name:
        raise ModelError(
            f"{role} model file {path} not found", "check the path, or remove it to use the embedded default"
        )
    return path


def load_backend(
    cfg: ModelConfig,
    role: str,
    default_path: Path | None = None,
    warmup: bool = True,
    cache_dir: Path | None = None,
) -> InferenceBackend:
    """Create (and warm up) the backend for one model, falling back along `backend_candidates`.

    Args:
        cfg: the model's config (path, backend, device, precision, ...).
        role: `plate`, `vehicle` or `ocr` (picks preprocessing for INT8 calibration, names in messages).
        default_path: the embedded model to use when `cfg.path` is unset.
        warmup: run the model twice on zeros before returning.
        cache_dir: where derived ONNX files and TensorRT engines are kept (default ~/.cache/ovr-alpr).

    Raises:
        ModelError: the file is missing or no backend can load it.
    """
    path = resolve_model_path(cfg, role, default_path)
    candidates = backend_candidates(cfg, path)
    errors: list[str] = []
    for i, name in enumerate(candidates):
        last = i == len(candidates) - 1
        try:
            backend = _build_backend(name, cfg, path, role, cache_dir, warmup)
        except ModelError as exc:
            if last:
                if errors:
                    log.warning("%s: %s", role, "; ".join(errors))
                raise
            errors.append(f"{name}: {exc.message}")
            reason = exc.message
        except Exception as exc:  # a runtime failing during warm-up (e.g. TensorRT out of memory)
            reason = first_line(exc)
            if last:
                raise ModelError(
                    f"{role} model {path.name} failed on {name}: {reason}",
                    "try another device/precision, or --debug for the traceback",
                ) from exc
        else:
            _log_loaded(backend, role, cfg)
            return backend
        log.warning("%s: %s backend failed (%s); falling back to %s", role, name, reason, candidates[i + 1])
    raise ModelError(f"no backend could load the {role} model {path}", "; ".join(errors))


def _build_backend(
    name: str, cfg: ModelConfig, path: Path, role: str, cache_dir: Path | None, warmup: bool
) -> InferenceBackend:
    """Construct backend `name` and warm it up; what was built is closed again if warm-up fails."""
    backend = None
    try:
        backend = import_backend(name)(cfg, path, role, cache_dir=cache_dir)
        if warmup:
            backend.warmup()
    except Exception:
        if backend is not None:
            backend.close()
        raise
    return backend


def _log_loaded(backend: InferenceBackend, role: str, cfg: ModelConfig) -> None:
    """One line saying which file, backend, provider and precision a role ended up with."""
    log.info(
        "%s: %s via %s (%s, %s)%s",
        role,
        backend.model_path.name,
        backend.name,
        backend.provider,
        backend.precision,
        " [auto]" if cfg.backend == "auto" else "",
    )
