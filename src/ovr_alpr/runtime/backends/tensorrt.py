"""Native TensorRT backend: runs `.engine` files, or builds (and caches) an engine from an ONNX model.

Importing this module needs the `tensorrt` package; `backends.base` registers it only where that works.
GPU buffers come from torch when it has CUDA, else from cuda-python. The precision is carried by the
ONNX graph the engine is built from (FP16 weights, or symmetric INT8 Q/DQ from calibration images),
because TensorRT 11 builds strongly typed networks only; on TensorRT 10 the matching builder flags are set
too. Engines are cached under a key of GPU, compute capability, TensorRT version, precision, input size,
batch and source hash, so a change to any of them rebuilds the engine.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorrt as trt

from ...config import ModelConfig
from ...errors import ModelError
from ..engine_cache import engine_cache_key
from ..quantize import options_for
from ..resolve import DerivedSpec, default_cache_dir, derive_onnx, file_sha256
from ..zoo import canonical_role, config_section
from .base import BACKENDS, ENGINE_SUFFIXES, InferenceBackend, run_in_chunks

log = logging.getLogger(__name__)

_TRT_LOGGER = trt.Logger(trt.Logger.WARNING)
WORKSPACE_BYTES = 4 << 30


# ---------------------------------------------------------------- device buffers


class _TorchCuda:
    """GPU buffers and a stream from torch."""

    def __init__(self, device_id: int) -> None:
        import torch

        if not torch.cuda.is_available():
            raise ImportError("torch has no CUDA")
        self.torch = torch
        self.device = torch.device(f"cuda:{device_id}")
        # copies and the engine share torch's current stream, so their order needs no extra events
        self.stream = torch.cuda.current_stream(self.device)

    def gpu_name(self) -> tuple[str, str]:
        props = self.torch.cuda.get_device_properties(self.device)
        return props.name, f"{props.major}{props.minor}"

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        return self.torch.empty(shape, dtype=_TORCH_DTYPES[np.dtype(dtype)](self.torch), device=self.device)

    @staticmethod
    def ptr(buf: Any) -> int:
        return int(buf.data_ptr())

    def upload(self, buf: Any, host: np.ndarray) -> None:
        buf.copy_(self.torch.from_numpy(np.ascontiguousarray(host)), non_blocking=False)

    def download(self, buf: Any) -> np.ndarray:
        return buf.cpu().numpy()

    def stream_handle(self) -> int:
        return int(self.stream.cuda_stream)

    def synchronize(self) -> None:
        self.stream.synchronize()


class _CudaPython:
    """GPU buffers and a stream from cuda-python (`cuda.bindings.runtime`, or the older `cuda.cudart`)."""

    def __init__(self, device_id: int) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # cuda-python < 12.6
        self.cudart = cudart
        self._check(cudart.cudaSetDevice(device_id))
        self.device_id = device_id
        self.stream = self._check(cudart.cudaStreamCreate())

    def _check(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise RuntimeError(f"CUDA error {err}")
        return rest[0] if len(rest) == 1 else rest

    def gpu_name(self) -> tuple[str, str]:
        props = self._check(self.cudart.cudaGetDeviceProperties(self.device_id))
        name = (
            props.name.decode(errors="replace").rstrip("\x00")
            if isinstance(props.name, bytes)
            else str(props.name)
        )
        return name, f"{props.major}{props.minor}"

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        ptr = self._check(self.cudart.cudaMalloc(max(nbytes, 1)))
        return {"ptr": int(ptr), "shape": tuple(shape), "dtype": np.dtype(dtype), "nbytes": nbytes}

    @staticmethod
    def ptr(buf: Any) -> int:
        return buf["ptr"]

    def upload(self, buf: Any, host: np.ndarray) -> None:
        host = np.ascontiguousarray(host, dtype=buf["dtype"])
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self.cudart.cudaMemcpyAsync(buf["ptr"], host.ctypes.data, host.nbytes, kind, self.stream))

    def download(self, buf: Any) -> np.ndarray:
        out = np.empty(buf["shape"], dtype=buf["dtype"])
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self.cudart.cudaMemcpyAsync(out.ctypes.data, buf["ptr"], out.nbytes, kind, self.stream))
        self.synchronize()
        return out

    def stream_handle(self) -> int:
        return int(self.stream)

    def synchronize(self) -> None:
        self._check(self.cudart.cudaStreamSynchronize(self.stream))

    def free(self, buf: Any) -> None:
        self.cudart.cudaFree(buf["ptr"])


_TORCH_DTYPES = {
    np.dtype(np.float32): lambda t: t.float32,
    np.dtype(np.float16): lambda t: t.float16,
    np.dtype(np.int32): lambda t: t.int32,
    np.dtype(np.int64): lambda t: t.int64,
    np.dtype(np.int8): lambda t: t.int8,
    np.dtype(np.uint8): lambda t: t.uint8,
    np.dtype(np.bool_): lambda t: t.bool,
}


def _device_api(device_id: int) -> _TorchCuda | _CudaPython:
    errors = []
    for api in (_TorchCuda, _CudaPython):
        try:
            return api(device_id)
        except Exception as exc:  # ImportError, or no CUDA in that package
            errors.append(f"{api.__name__}: {exc}")
    raise ModelError(
        "TensorRT needs torch with CUDA or cuda-python for GPU buffers (" + "; ".join(errors) + ")",
        "pip install 'ovr-alpr[tensorrt]'",
    )


# ---------------------------------------------------------------- engine cache


def _trt_dtype_to_numpy(dtype: Any) -> np.dtype:
    return np.dtype(trt.nptype(dtype))


def _input_profile(shape: tuple[int, ...], cfg: ModelConfig, role: str) -> tuple[tuple, tuple, tuple]:
    """(min, opt, max) shapes for the engine's input: the config's batch, 48 px x up to 640 px for OCR."""
    n, c, h, w = shape
    batch = cfg.batch
    size = cfg.input_size
    if role == "ocr":
        h = h if h > 0 else 48
        if w > 0:
            return (1, c, h, w), (batch, c, h, w), (batch, c, h, w)
        return (1, c, h, 32), (batch, c, h, 320), (batch, c, h, 640)
    h = h if h > 0 else (size or 640)
    w = w if w > 0 else (size or 640)
    nb = n if n > 0 else batch
    return (1 if n <= 0 else n, c, h, w), (nb, c, h, w), (nb, c, h, w)


def build_engine(onnx_path: Path, engine_path: Path, precision: str, cfg: ModelConfig, role: str) -> Path:
    """Build a serialized engine from an ONNX file whose graph carries its precision.

    Raises:
        ModelError: the parser rejects the model or the build fails (e.g. out of GPU memory).
    """
    t0 = time.perf_counter()
    builder = trt.Builder(_TRT_LOGGER)
    flags = 0
    strongly_typed = hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    if strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, _TRT_LOGGER)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(
            f"TensorRT cannot parse {onnx_path.name}: {errors[:300]}", "check the ONNX opset/ops"
        )
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if not strongly_typed:  # TensorRT < 10.12: weak typing, precision by flags
        if precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
    inp = network.get_input(0)
    shape = tuple(int(d) for d in inp.shape)
    if any(d <= 0 for d in shape):
        profile = builder.create_optimization_profile()
        profile.set_shape(inp.name, *_input_profile(shape, cfg, role))
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(
            f"TensorRT engine build failed for {onnx_path.name} ({precision})",
            "see the TensorRT log above (often out of GPU memory); try a smaller batch/input size",
        )
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine_path.with_name(engine_path.name + ".tmp")
    tmp.write_bytes(bytes(serialized))
    tmp.replace(engine_path)
    log.info("built TensorRT engine %s in %.0f s", engine_path.name, time.perf_counter() - t0)
    return engine_path


@BACKENDS.register("tensorrt")
class TensorRTBackend(InferenceBackend):
    """Runs a TensorRT engine (given, or built from the configured ONNX model and cached).

    Args:
        cfg: `device` must be `cuda:N`; `precision` auto = fp16.
        model_path: `.engine`/`.plan` file, or `.onnx` to build from.
        cache_dir: engines go to `<cache_dir>/engines/` (default ~/.cache/ovr-alpr).
    """

    name = "tensorrt"

    def __init__(self, cfg: ModelConfig, model_path: Path, role: str, cache_dir: Path | None = None) -> None:
        super().__init__(cfg, model_path, role, cache_dir)
        if not cfg.device.startswith("cuda"):
            raise ModelError(
                f"TensorRT needs a GPU, but {config_section(role)}.model.device is {cfg.device}",
                "set device: cuda:0, or use backend onnxruntime",
            )
        device_id = int(cfg.device.split(":")[1])
        self.api = _device_api(device_id)
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        path = Path(model_path)
        precision = "fp16" if cfg.precision == "auto" else cfg.precision
        if path.suffix.lower() in ENGINE_SUFFIXES:
            engine_path = path
            meta_file = path.with_suffix(path.suffix + ".json")
            if meta_file.is_file():
                precision = json.loads(meta_file.read_text()).get("precision", precision)
        else:
            engine_path = self.engine_for_onnx(path, precision, cache)
        self.precision = precision
        self.runtime = trt.Runtime(_TRT_LOGGER)
        self.engine = self.runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise ModelError(
                f"cannot load TensorRT engine {engine_path}",
                "engines are tied to the GPU and TensorRT version that built them; rebuild it",
            )
        self.context = self.engine.create_execution_context()
        self.model_path = engine_path
        gpu, _ = self.api.gpu_name()
        self.provider = f"TensorRT {trt.__version__} on {gpu}"
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.input_name = self.inputs[0]
        self.input_dtype = _trt_dtype_to_numpy(self.engine.get_tensor_dtype(self.input_name))
        self.input_shape = tuple(
            int(d) if d > 0 else -1 for d in self.engine.get_tensor_shape(self.input_name)
        )
        self._buffers: dict[str, Any] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        # the most rows one call may run: the profile's largest batch (a reader sends several crop
        # variants per plate, more than an engine built for `batch: 1` takes), or the static batch
        if self.input_shape[0] == -1:
            self.max_batch = int(self.engine.get_tensor_profile_shape(self.input_name, 0)[2][0])
        else:
            self.max_batch = self.input_shape[0]
        meta_file = engine_path.with_suffix(engine_path.suffix + ".json")
        if meta_file.is_file():
            self.set_metadata(json.loads(meta_file.read_text()).get("metadata", {}))
        self.output_shapes = [tuple(int(d) for d in self.engine.get_tensor_shape(n)) for n in self.outputs]

    def engine_for_onnx(self, onnx_path: Path, precision: str, cache: Path) -> Path:
        """Cached engine for `onnx_path` at `precision`, built when its key is new."""
        gpu, cc = self.api.gpu_name()
        quant = options_for(self.role, symmetric_activations=True) if precision == "int8" else None
        graph = derive_onnx(
            onnx_path,
            DerivedSpec(precision, calibration=self.cfg.calibration, quant=quant, role=self.role),
            cache,
        )
        import onnx

        meta = {p.key: p.value for p in onnx.load(str(graph), load_external_data=False).metadata_props}
        in_dims = onnx.load(str(graph), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
        hw = tuple(d.dim_value for d in in_dims[2:4]) if all(d.dim_value > 0 for d in in_dims[2:4]) else None
        key = engine_cache_key(
            gpu,
            cc,
            trt.__version__,
            precision,
            hw or ((self.cfg.input_size, self.cfg.input_size) if self.cfg.input_size else None),
            self.cfg.batch,
            file_sha256(graph),
        )
        engine_path = cache / "engines" / f"{canonical_role(self.role)}-{onnx_path.stem}-{key}.engine"
        self.engine_cache = (
            f"hit {engine_path.name}" if engine_path.is_file() else f"built {engine_path.name}"
        )
        if not engine_path.is_file():
            log.info(
                "%s: building TensorRT %s engine (first run on this GPU/TensorRT; takes a while)",
                self.role,
                precision,
            )
            build_engine(graph, engine_path, precision, self.cfg, self.role)
            engine_path.with_suffix(".engine.json").write_text(
                json.dumps(
                    {"precision": precision, "source": str(onnx_path), "key": key, "metadata": meta}, indent=1
                )
            )
        return engine_path

    def _ensure_buffers(self, shape: tuple[int, ...]) -> None:
        if self._shapes.get(self.input_name) == shape:
            return
        if not self.context.set_input_shape(self.input_name, shape):
            raise ModelError(
                f"input shape {shape} is outside the engine's profile", "rebuild with a matching size"
            )
        self._free()
        for name in (*self.inputs, *self.outputs):
            tshape = tuple(int(d) for d in self.context.get_tensor_shape(name))
            dtype = _trt_dtype_to_numpy(self.engine.get_tensor_dtype(name))
            buf = self.api.empty(tshape, dtype)
            self._buffers[name] = buf
            self._shapes[name] = tshape
            self.context.set_tensor_address(name, self.api.ptr(buf))

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        if batch.dtype != self.input_dtype:
            batch = batch.astype(self.input_dtype)
        return run_in_chunks(batch, self.max_batch, self._run)

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        self._ensure_buffers(tuple(batch.shape))
        self.api.upload(self._buffers[self.input_name], batch)
        if not self.context.execute_async_v3(self.api.stream_handle()):
            raise RuntimeError("TensorRT execution failed")
        self.api.synchronize()
        return [self.api.download(self._buffers[n]) for n in self.outputs]

    def _free(self) -> None:
        free = getattr(self.api, "free", None)
        if free is not None:
            for buf in self._buffers.values():
                free(buf)
        self._buffers.clear()
        self._shapes.clear()

    def close(self) -> None:
        self._free()
        for attr in ("context", "engine", "runtime"):
            self.__dict__.pop(attr, None)
