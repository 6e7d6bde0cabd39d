"""ONNX Runtime backend: CPU, CUDA and TensorRT execution providers.

The file it loads is resolved for the wanted precision (`models.resolve.derive_onnx`): on CPU `auto`
means FP32 (the embedded FP16 plate model is widened once and cached), on CUDA FP16; with the TensorRT
provider the graph already holds its precision (FP16 weights, or symmetric INT8 Q/DQ: TensorRT 11 only
builds strongly typed networks) and TensorRT's engine cache is kept under the cache folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ...config import ModelConfig
from ...errors import ModelError, first_line
from ..convert import PRECISION_KEY
from ..quantize import options_for
from ..resolve import DerivedSpec, default_cache_dir, derive_onnx
from ..zoo import canonical_role
from .base import BACKENDS, InferenceBackend

log = logging.getLogger(__name__)

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}
TRT_EP = "TensorrtExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


def providers_for(device: str, available: list[str] | None = None) -> list[str]:
    """Execution provider names to try for `device`, fastest first, limited to those installed."""
    available = ort.get_available_providers() if available is None else available
    if device.startswith("cuda"):
        chosen = [p for p in (TRT_EP, CUDA_EP) if p in available]
        if not chosen:
            log.warning(
                "device %s asked for, but this onnxruntime has no CUDA provider (has %s); running on CPU. "
                "Install the [gpu] extra (onnxruntime-gpu) for CUDA.",
                device,
                ", ".join(available),
            )
        return [*chosen, CPU_EP]
    return [CPU_EP]


def resolve_precision(precision: str, provider: str) -> str:
    """`auto` -> fp16 on a GPU provider, fp32 on a CPU one (no fast FP16 path there); explicit values pass."""
    if precision != "auto":
        return precision
    return "fp16" if provider in (TRT_EP, CUDA_EP) else "fp32"


def runs_any_size(cfg: ModelConfig, role: str, provider: str, any_input_size: bool = True) -> bool:
    """Whether a detector is cut to take any input size (`model.letterbox: rect`, frames letterboxed to their
    own aspect): plate and vehicle models, not on the TensorRT provider (its engines are built for one shape)
    nor on a backend that compiles per shape (`any_input_size` False)."""
    return (
        any_input_size
        and provider != TRT_EP
        and cfg.letterbox == "rect"
        and canonical_role(role) in ("plate", "vehicle")
    )


def trt_ep_options(device_id: int, precision: str, cache_dir: Path) -> dict[str, Any]:
    """TensorRT execution provider options: precision flags and an on-disk engine + timing cache."""
    engine_dir = cache_dir / "trt-ep"
    engine_dir.mkdir(parents=True, exist_ok=True)
    return {
        "device_id": device_id,
        "trt_fp16_enable": precision in ("fp16", "int8"),
        "trt_int8_enable": precision == "int8",
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(engine_dir),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(engine_dir),
        "trt_builder_optimization_level": 3,
    }


def session_options(threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    # Worker threads sleep between ops instead of spinning: the pipeline's own threads (decode, tracking,
    # sinks) need the same cores; on 2 cores the bench clip ran 27.1 against 25.6 fps (medians of 3 runs).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # ORT's own warnings (e.g. unused initializers) are not the user's concern
    return opts


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(InferenceBackend):
    """Runs an ONNX model with ONNX Runtime.

    Args:
        cfg: `device` picks the execution providers, `precision` the derived file, `threads` intra-op threads.
        model_path: the configured ONNX file.
        role: `plate`, `vehicle` or `ocr`.
        cache_dir: where derived files and TensorRT provider engines live (default ~/.cache/ovr-alpr).
        session_path: load this file as it is, skipping precision resolution.
        providers: execution providers to use instead of those for `cfg.device`.
    """

    name = "onnxruntime"
    #: providers whose failure (building a session or its first runs) falls back to the next provider
    fallback_providers: tuple[str, ...] = (TRT_EP,)
    #: detectors may take any input size (`model.letterbox: rect`); a provider that compiles per shape may not
    any_input_size: bool = True

    def __init__(
        self,
        cfg: ModelConfig,
        model_path: Path,
        role: str,
        cache_dir: Path | None = None,
        session_path: Path | None = None,
        providers: list[str] | None = None,
    ) -> None:
        super().__init__(cfg, model_path, role, cache_dir)
        if Path(model_path).suffix.lower() != ".onnx" and session_path is None:
            raise ModelError(
                f"{role} model {model_path} is not an ONNX file",
                "use backend onnxruntime with .onnx files (or backend auto)",
            )
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        names = providers or self.providers_for(cfg, role)
        first = names[0]
        precision = resolve_precision(cfg.precision, first)
        device_id = int(cfg.device.split(":")[1]) if cfg.device.startswith("cuda") else 0
        if session_path is not None:
            load_path = Path(session_path)
        else:
            load_path = self._derived_path(model_path, first, precision, cache)
        self._provider_list = self._provider_options(names, device_id, precision, cache)
        try:
            self.session = self._open(load_path, self._provider_list)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            if first in self.fallback_providers:  # e.g. the TensorRT engine build ran out of memory
                self.session = self._without(first, load_path, exc)
            else:
                reason = first_line(exc)
                raise ModelError(
                    f"cannot load {role} model {load_path}: {reason}",
                    "check that the file is a valid ONNX model",
                ) from None
        self.model_path = Path(load_path)
        self._read_session(precision)

    def providers_for(self, cfg: ModelConfig, role: str) -> list[str]:
        """Execution providers to try, fastest first (a subclass may pick others)."""
        return providers_for(cfg.device)

    def _derived_path(self, model_path: Path, first: str, precision: str, cache: Path) -> Path:
        """The file holding `precision` for the first provider (derived once and cached)."""
        if first == TRT_EP:
            # TensorRT 11 builds strongly typed networks only, so the precision must be in the graph;
            # INT8 for TensorRT needs symmetric (signed, zero-point 0) Q/DQ
            quant = options_for(self.role, symmetric_activations=True) if precision == "int8" else None
            spec = DerivedSpec(precision, calibration=self.cfg.calibration, quant=quant, role=self.role)
            return derive_onnx(model_path, spec, cache)
        if first == CUDA_EP and precision == "int8":
            log.warning(
                "%s: INT8 QDQ models run mostly unfused on the CUDA provider; "
                "TensorRT (provider or backend) is the fast INT8 path on GPUs",
                self.role,
            )
        rect = runs_any_size(self.cfg, self.role, first, self.any_input_size)
        spec = DerivedSpec(
            precision,
            calibration=self.cfg.calibration,
            role=self.role,
            rect=rect,
            calibration_size=self.cfg.input_size if rect else None,
        )
        return derive_onnx(model_path, spec, cache)

    def _provider_options(self, names: list[str], device_id: int, precision: str, cache: Path) -> list[Any]:
        """Each provider with its options (device, TensorRT precision and engine cache)."""
        provider_list: list[Any] = []
        for p in names:
            if p == TRT_EP:
                provider_list.append((p, trt_ep_options(device_id, precision, cache)))
                self.engine_cache = str(cache / "trt-ep")
            elif p == CUDA_EP:
                provider_list.append((p, {"device_id": device_id}))
            else:
                provider_list.append(p)
        return provider_list

    def _read_session(self, precision: str) -> None:
        """Take the provider, input/output names, shapes, dtype, metadata and precision from the session."""
        self.provider = self.session.get_providers()[0]
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.dtype(_ORT_DTYPES.get(inp.type, np.float32))
        self.input_shape = tuple(d if isinstance(d, int) and d > 0 else -1 for d in inp.shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.set_metadata(dict(self.session.get_modelmeta().custom_metadata_map))
        self.output_shapes = [
            tuple(d if isinstance(d, int) and d > 0 else -1 for d in o.shape)
            for o in self.session.get_outputs()
        ]
        self.precision = detect_precision(self.session, self.input_dtype)
        if self.provider == TRT_EP and precision in ("fp16", "int8"):
            self.precision = precision

    def _open(self, path: Path, providers: list[Any]) -> ort.InferenceSession:
        return ort.InferenceSession(
            str(path), sess_options=session_options(self.cfg.threads), providers=providers
        )

    def _without(self, provider: str, path: Path, exc: Exception) -> ort.InferenceSession:
        reason = first_line(exc)
        rest = [p for p in self._provider_list if (p[0] if isinstance(p, tuple) else p) != provider]
        label = {TRT_EP: "TensorRT"}.get(provider, provider.removesuffix("ExecutionProvider"))
        log.warning(
            "%s: %s provider failed (%s); falling back to %s",
            self.role,
            label,
            reason,
            rest[0][0] if isinstance(rest[0], tuple) else rest[0],
        )
        self._provider_list = rest
        self.engine_cache = "-"
        return self._open(path, rest)

    def warmup(self, runs: int = 2) -> float:
        try:
            return super().warmup(runs)
        except Exception as exc:  # TensorRT builds engines lazily, so failures can surface on first run
            if self.provider not in self.fallback_providers:
                raise
            self.session = self._without(self.provider, self.model_path, exc)
            self.provider = self.session.get_providers()[0]
            return super().warmup(runs)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        if batch.dtype != self.input_dtype:
            batch = batch.astype(self.input_dtype)
        return self.session.run(self.output_names, {self.input_name: batch})

    def close(self) -> None:
        self.__dict__.pop("session", None)


def detect_precision(session: ort.InferenceSession, input_dtype: np.dtype) -> str:
    """The metadata tag `ovr_alpr_precision` if present; else int8 for QDQ graphs, fp16 for FP16 inputs."""
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get(PRECISION_KEY) in ("fp32", "fp16", "int8"):
        return meta[PRECISION_KEY]
    if input_dtype == np.float16:
        return "fp16"
    return "fp32"
