"""Torch backend for ONNX models: executes the ONNX graph node by node with torch ops (CPU or CUDA).

It exists to measure FP16 accuracy on a GPU where neither TensorRT nor onnxruntime-gpu is installed:
FP16 runs under `torch.autocast` (convolutions and matrix products in FP16, reductions and softmax in FP32),
which is how TensorRT and ONNX Runtime's CUDA provider treat an FP16 build too. It supports the operators
of the embedded plate detector, PP-OCR rec and YOLOX/YOLOv8 exports; an unknown operator is a ModelError.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from ...config import ModelConfig
from ...errors import ModelError
from ..convert import get_metadata
from ..resolve import DerivedSpec, default_cache_dir, derive_onnx
from .base import BACKENDS, InferenceBackend

log = logging.getLogger(__name__)

_ONNX_TO_TORCH = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.BOOL: torch.bool,
}

Op = Callable[..., Any]
OPS: dict[str, Op] = {}


def op(*names: str) -> Callable[[Op], Op]:
    def deco(fn: Op) -> Op:
        for name in names:
            OPS[name] = fn
        return fn

    return deco


def _ints(t: Any) -> list[int]:
    if t is None:
        return []
    if isinstance(t, torch.Tensor):
        return [int(v) for v in t.flatten().tolist()]
    return [int(v) for v in t]


def _pads2d(pads: list[int]) -> tuple[int, int, int, int] | None:
    """ONNX [top, left, bottom, right] -> F.pad (left, right, top, bottom)."""
    return (pads[1], pads[3], pads[0], pads[2]) if pads else None


@op("Conv")
def _conv(x, w, b=None, *, pads=(), strides=(1, 1), dilations=(1, 1), group=1, auto_pad=b"NOTSET", **_):
    if auto_pad not in (b"NOTSET", "NOTSET"):
        raise ModelError(
            f"Conv auto_pad={auto_pad!r} is not supported by the torch backend", "re-export the model"
        )
    pads = list(pads) or [0] * 4
    if pads[0] == pads[2] and pads[1] == pads[3]:
        return F.conv2d(x, w, b, tuple(strides), (pads[0], pads[1]), tuple(dilations), group)
    return F.conv2d(F.pad(x, _pads2d(pads)), w, b, tuple(strides), 0, tuple(dilations), group)


@op("ConvTranspose")
def _conv_t(x, w, b=None, *, pads=(), strides=(1, 1), dilations=(1, 1), group=1, output_padding=(0, 0), **_):
    pads = list(pads) or [0] * 4
    return F.conv_transpose2d(
        x, w, b, tuple(strides), (pads[0], pads[1]), tuple(output_padding), group, tuple(dilations)
    )


OPS.update(
    {
        "Sigmoid": lambda x, **_: torch.sigmoid(x),
        "Relu": lambda x, **_: torch.relu(x),
        "Mul": lambda a, b, **_: a * b,
        "Add": lambda a, b, **_: a + b,
        "Sub": lambda a, b, **_: a - b,
        "Div": lambda a, b, **_: (
            a / b
            if a.is_floating_point() or b.is_floating_point()
            else torch.div(a, b, rounding_mode="trunc")
        ),
        "Pow": lambda a, b, **_: torch.pow(a, b),
        "Sqrt": lambda x, **_: torch.sqrt(x),
        "Exp": lambda x, **_: torch.exp(x),
        "Tanh": lambda x, **_: torch.tanh(x),
        "Erf": lambda x, **_: torch.erf(x),
        "Neg": lambda x, **_: -x,
        "Identity": lambda x, **_: x,
        "MatMul": lambda a, b, **_: torch.matmul(a, b),
        "Transpose": lambda x, *, perm=None, **_: (
            x.permute(*perm) if perm else x.permute(*reversed(range(x.dim())))
        ),
        "Concat": lambda *xs, axis, **_: torch.cat([x for x in xs], dim=axis),
        "Shape": lambda x, **_: torch.tensor(list(x.shape), dtype=torch.int64),
        "GlobalAveragePool": lambda x, **_: x.mean(dim=(2, 3), keepdim=True),
        "HardSigmoid": lambda x, *, alpha=0.2, beta=0.5, **_: torch.clamp(alpha * x + beta, 0.0, 1.0),
        "HardSwish": lambda x, **_: F.hardswish(x),
        "LeakyRelu": lambda x, *, alpha=0.01, **_: F.leaky_relu(x, alpha),
        "Flatten": lambda x, *, axis=1, **_: x.reshape(int(np.prod(x.shape[:axis])), -1),
    }
)


@op("Clip")
def _clip(x, lo=None, hi=None, *, min=None, max=None, **_):
    lo = lo if lo is not None else min
    hi = hi if hi is not None else max
    lo = float(lo) if lo is not None else None
    hi = float(hi) if hi is not None else None
    return torch.clamp(x, lo, hi)


@op("Cast")
def _cast(x, *, to, **_):
    dtype = _ONNX_TO_TORCH.get(to)
    if dtype is None:
        raise ModelError(f"Cast to ONNX type {to} is not supported by the torch backend", "")
    if dtype in (torch.float16, torch.float32) and x.is_floating_point():
        return x.float() if torch.is_autocast_enabled() else x.to(dtype)  # autocast decides FP16 kernels
    return x.to(dtype)


@op("Reshape")
def _reshape(x, shape, *, allowzero=0, **_):
    dims = _ints(shape)
    if not allowzero:
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return x.reshape(dims)


@op("Split")
def _split(x, split=None, *, axis=0, num_outputs=None, _n_out=1, **attrs):
    sizes = _ints(split) or list(attrs.get("split", []))
    if not sizes:
        n = num_outputs or _n_out
        size = math.ceil(x.shape[axis] / n)
        sizes = [size] * (n - 1) + [x.shape[axis] - size * (n - 1)]
    return list(torch.split(x, sizes, dim=axis))


@op("Slice")
def _slice(x, starts=None, ends=None, axes=None, steps=None, **attrs):
    starts = _ints(starts) or list(attrs.get("starts", []))
    ends = _ints(ends) or list(attrs.get("ends", []))
    axes = _ints(axes) or list(attrs.get("axes", range(len(starts))))
    steps = _ints(steps) or [1] * len(starts)
    index: list[Any] = [slice(None)] * x.dim()
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        n = x.shape[axis]
        if step < 0:
            return _slice_negative(x, start, end, axis, step)
        start = max(0, start + n if start < 0 else min(start, n))
        end = max(0, end + n if end < 0 else min(end, n))
        index[axis] = slice(start, end, step)
    return x[tuple(index)]


def _slice_negative(x, start, end, axis, step):
    n = x.shape[axis]
    start = min(start + n if start < 0 else start, n - 1)
    end = end + n if end < 0 else end
    idx = torch.arange(start, max(end, -1), step, device=x.device)
    idx = idx[(idx >= 0) & (idx < n)]
    return x.index_select(axis, idx)


@op("Softmax")
def _softmax(x, *, axis=None, _opset=13, **_):
    if _opset >= 13:
        return torch.softmax(x, dim=-1 if axis is None else axis)
    axis = 1 if axis is None else axis
    axis = axis % x.dim()
    if axis == x.dim() - 1:
        return torch.softmax(x, dim=-1)
    shape = x.shape  # opset < 13: softmax over everything from `axis` on, flattened
    return torch.softmax(x.reshape(int(np.prod(shape[:axis])), -1), dim=1).reshape(shape)


@op("MaxPool")
def _maxpool(x, *, kernel_shape, strides=None, pads=(), ceil_mode=0, dilations=(1, 1), **_):
    pads = list(pads) or [0] * 4
    if pads[0] != pads[2] or pads[1] != pads[3]:
        x = F.pad(x, _pads2d(pads), value=float("-inf"))
        pads = [0] * 4
    return F.max_pool2d(
        x,
        tuple(kernel_shape),
        tuple(strides or kernel_shape),
        (pads[0], pads[1]),
        tuple(dilations),
        bool(ceil_mode),
    )


@op("AveragePool")
def _avgpool(x, *, kernel_shape, strides=None, pads=(), ceil_mode=0, count_include_pad=0, **_):
    pads = list(pads) or [0] * 4
    return F.avg_pool2d(
        x,
        tuple(kernel_shape),
        tuple(strides or kernel_shape),
        (pads[0], pads[1]),
        bool(ceil_mode),
        bool(count_include_pad),
    )


@op("Resize", "Upsample")
def _resize(
    x,
    roi=None,
    scales=None,
    sizes=None,
    *,
    mode=b"nearest",
    coordinate_transformation_mode=b"half_pixel",
    nearest_mode=b"round_prefer_floor",
    **_,
):
    mode = mode.decode() if isinstance(mode, bytes) else mode
    ctm = coordinate_transformation_mode
    ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
    size = _ints(sizes)[2:] if sizes is not None and sizes.numel() else None
    factor = (
        [float(s) for s in scales.flatten().tolist()[2:]] if scales is not None and scales.numel() else None
    )
    if mode == "nearest":
        # torch's nearest is ONNX asymmetric + floor, which is what YOLO exports use
        return F.interpolate(x, size=size, scale_factor=None if size else factor, mode="nearest")
    return F.interpolate(
        x,
        size=size,
        scale_factor=None if size else factor,
        mode="bilinear",
        align_corners=ctm == "align_corners",
    )


@op("Squeeze")
def _squeeze(x, axes=None, **attrs):
    axes = _ints(axes) or list(attrs.get("axes", []))
    if not axes:
        return x.squeeze()
    for a in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


@op("Unsqueeze")
def _unsqueeze(x, axes=None, **attrs):
    axes = _ints(axes) or list(attrs.get("axes", []))
    out_rank = x.dim() + len(axes)
    for a in sorted(a % out_rank for a in axes):
        x = x.unsqueeze(a)
    return x


@op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def _reduce(x, axes=None, *, keepdims=1, _op="ReduceMean", **attrs):
    axes = _ints(axes) or list(attrs.get("axes", []))
    dims = tuple(axes) if axes else tuple(range(x.dim()))
    keep = bool(keepdims)
    if _op == "ReduceMean":
        return x.mean(dim=dims, keepdim=keep)
    if _op == "ReduceSum":
        return x.sum(dim=dims, keepdim=keep)
    return x.amax(dim=dims, keepdim=keep) if _op == "ReduceMax" else x.amin(dim=dims, keepdim=keep)


@op("BatchNormalization")
def _batchnorm(x, scale, bias, mean, var, *, epsilon=1e-5, **_):
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=epsilon)


@op("Gather")
def _gather(x, indices, *, axis=0, **_):
    idx = indices.to(x.device).long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.flatten())
    return out.reshape(*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])


@op("Gemm")
def _gemm(a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, **_):
    a = a.t() if transA else a
    b = b.t() if transB else b
    out = alpha * (a @ b)
    return out + beta * c if c is not None else out


class OnnxTorchGraph:
    """An ONNX graph turned into a list of torch calls; weights live on `device` as FP32."""

    def __init__(self, model: onnx.ModelProto, device: torch.device) -> None:
        self.device = device
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        graph = model.graph
        self.weights = {init.name: self._tensor(numpy_helper.to_array(init)) for init in graph.initializer}
        init_names = set(self.weights)
        self.input_names = [i.name for i in graph.input if i.name not in init_names]
        self.output_names = [o.name for o in graph.output]
        self.nodes = []
        missing = sorted({n.op_type for n in graph.node if n.op_type not in OPS and n.op_type != "Constant"})
        if missing:
            raise ModelError(f"the torch backend cannot run ONNX ops {missing}", "use backend onnxruntime")
        for node in graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Constant":
                self.weights[node.output[0]] = self._tensor(_constant_value(attrs))
                continue
            if node.op_type == "Split":
                attrs["_n_out"] = len(node.output)
            if node.op_type == "Softmax":
                attrs["_opset"] = self.opset
            if node.op_type.startswith("Reduce"):
                attrs["_op"] = node.op_type
            self.nodes.append((OPS[node.op_type], list(node.input), list(node.output), attrs, node.name))

    def _tensor(self, arr: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.array(arr))
        if t.is_floating_point():
            t = t.float()
        return t.to(self.device) if t.numel() > 16 or t.is_floating_point() else t

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        env: dict[str, Any] = dict(self.weights)
        env.update(zip(self.input_names, inputs, strict=False))
        for fn, ins, outs, attrs, name in self.nodes:
            args = [env[i] if i else None for i in ins]
            try:
                result = fn(*args, **attrs)
            except ModelError:
                raise
            except Exception as exc:
                raise RuntimeError(f"torch backend failed at node {name}: {exc}") from exc
            if isinstance(result, (list, tuple)):
                env.update(zip(outs, result, strict=False))
            else:
                env[outs[0]] = result
        return [env[n] for n in self.output_names]


def _constant_value(attrs: dict[str, Any]) -> np.ndarray:
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_int", np.int64)):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    for key, dtype in (("value_floats", np.float32), ("value_ints", np.int64)):
        if key in attrs:
            return np.array(list(attrs[key]), dtype=dtype)
    raise ModelError(f"unsupported Constant attributes {sorted(attrs)}", "use backend onnxruntime")


@BACKENDS.register("torch")
class TorchOnnxBackend(InferenceBackend):
    """Runs an ONNX model with torch on CPU or CUDA; FP16 via autocast (for accuracy checks on GPUs).

    Args:
        cfg: `device` cpu or cuda:N; `precision` auto = fp16 on CUDA, fp32 on CPU (int8 is not supported).
        model_path: an ONNX file (FP16 files are widened to FP32 first; the cached FP32 file is reused).
    """

    name = "torch"

    def __init__(self, cfg: ModelConfig, model_path: Path, role: str, cache_dir: Path | None = None) -> None:
        super().__init__(cfg, model_path, role, cache_dir)
        cuda = cfg.device.startswith("cuda")
        if cuda and not torch.cuda.is_available():
            raise ModelError(f"device {cfg.device} asked for, but torch has no CUDA here", "set device: cpu")
        self.device = torch.device(cfg.device if cuda else "cpu")
        precision = cfg.precision if cfg.precision != "auto" else ("fp16" if cuda else "fp32")
        if precision == "int8":
            raise ModelError("the torch backend runs FP32/FP16 only", "use onnxruntime or tensorrt for INT8")
        if precision == "fp16" and not cuda:
            log.warning("%s: FP16 autocast on CPU is slow and not representative; running FP32", role)
            precision = "fp32"
        self.precision = precision
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        fp32_path = derive_onnx(model_path, DerivedSpec("fp32", role=role), cache)
        model = onnx.load(str(fp32_path))
        self.graph = OnnxTorchGraph(model, self.device)
        self.model_path = fp32_path
        self.set_metadata(get_metadata(model))
        self.output_shapes = [
            tuple(d.dim_value if d.dim_value > 0 else -1 for d in o.type.tensor_type.shape.dim)
            for o in model.graph.output
        ]
        dims = model.graph.input[0].type.tensor_type.shape.dim
        self.input_shape = tuple(d.dim_value if d.dim_value > 0 else -1 for d in dims)
        self.input_dtype = np.dtype(np.float32)
        self.output_names = self.graph.output_names
        self.provider = f"torch-{'cuda' if cuda else 'cpu'}{' autocast-fp16' if precision == 'fp16' else ''}"

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=self.device.type, dtype=torch.float16, enabled=self.precision == "fp16"
            ),
        ):
            outs = self.graph(x)
        return [o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy() for o in outs]

    def close(self) -> None:
        self.__dict__.pop("graph", None)
