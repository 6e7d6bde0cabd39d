"""INT8 static quantization (ONNX Runtime, QDQ format, per-channel weights) from calibration images.

The detection head's post-processing (box decoding, DFL softmax, final sigmoid/concat) is left in FP32 by
default: it is cheap, and its outputs span pixel coordinates that one INT8 scale cannot hold. Detectors also
keep their stem (the first convolution, on the raw pixels) in FP32: with it quantized, OVR-ALPR's nano plate
detector lost 4.8 points of mAP50 on the US photos, with it in FP32 0.25 (its small, low-contrast plates are
lost in the first layer's rounding).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import onnx

from ..errors import ModelError, first_line
from .convert import PRECISION_KEY, fp16_to_fp32, get_metadata, set_metadata

log = logging.getLogger(__name__)

COMPUTE_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


@dataclass
class QuantizeOptions:
    """How a model is quantized to INT8.

    Attributes:
        per_channel: one weight scale per output channel (more accurate; cheap on CPU).
        reduce_range: 7-bit weights, for CPUs without VNNI where u8s8 products can saturate.
        method: calibration method (`minmax`, `entropy`, `percentile`).
        exclude_tail: keep the nodes after the last Conv/MatMul of each output branch (head decoding) in FP32.
        exclude_head_convs: also keep the last Conv/MatMul of each output branch in FP32.
        exclude: extra node names to keep in FP32.
        op_types: op types to quantize (None = everything ONNX Runtime can).
        symmetric_activations: signed symmetric activations (TensorRT wants these; CPU runs u8 best).
        exclude_depthwise: keep depthwise convolutions (group > 1) in FP32: their per-channel ranges after
            batch-norm folding are too wide for INT8 (PP-OCR's LCNet backbone loses ~20 points otherwise).
        percentile: clipping percentile for `percentile` calibration.
        exclude_stem: keep the compute ops that read the model's input (the stem convolution) in FP32.
    """

    per_channel: bool = True
    reduce_range: bool = False
    method: Literal["minmax", "entropy", "percentile"] = "minmax"
    exclude_tail: bool = True
    exclude_head_convs: bool = False
    exclude: list[str] = field(default_factory=list)
    op_types: list[str] | None = None
    symmetric_activations: bool = False
    percentile: float = 99.999
    exclude_depthwise: bool = False
    exclude_stem: bool = False

    def key(self) -> str:
        """Short text that changes whenever an option that affects the result changes (for cache keys)."""
        parts = [
            f"pc{int(self.per_channel)}",
            f"rr{int(self.reduce_range)}",
            self.method,
            f"t{int(self.exclude_tail)}",
            f"h{int(self.exclude_head_convs)}",
            f"s{int(self.symmetric_activations)}",
            f"dw{int(self.exclude_depthwise)}",
        ]
        if self.exclude_stem:
            parts.append("stem")
        if self.method == "percentile":
            parts.append(f"p{self.percentile}")
        if self.exclude:
            parts.append("x" + ",".join(sorted(self.exclude)))
        if self.op_types:
            parts.append("o" + ",".join(sorted(self.op_types)))
        return "-".join(parts)


def options_for(role: str, symmetric_activations: bool = False) -> QuantizeOptions:
    """The measured-best INT8 options for a model role.

    Detectors (`plate`, `vehicle`): every op quantized except the head's decoding tail and the stem
    convolution (OVR-ALPR's plate detector on the US photos: -0.25 pt mAP50; -4.8 with the stem quantized).
    `ocr`: only the MatMuls; quantizing PP-OCRv4's
    convolutions cost 2-20 points of exact match in every variant tried (per-tensor, reduce_range,
    percentile/entropy calibration, depthwise or head excluded), so INT8 OCR gains little on CPU.
    """
    from .zoo import canonical_role

    if canonical_role(role) == "ocr":
        return QuantizeOptions(op_types=["MatMul"], symmetric_activations=symmetric_activations)
    return QuantizeOptions(symmetric_activations=symmetric_activations, exclude_stem=True)


def stem_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the compute ops (Conv/MatMul/Gemm) that read a graph input directly, or through ops that
    only move or scale it (Cast, Transpose, Mul/Div/Sub/Add by a constant, Reshape...)."""
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    consts = {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    fed = {i.name for i in graph.input if i.name not in inits}
    names = []
    for node in graph.node:  # topological order: what reads the input comes after it
        if not any(name in fed for name in node.input):
            continue
        if node.op_type in COMPUTE_OPS:
            if node.name:
                names.append(node.name)
        elif all(name in fed or name in inits or name in consts or not name for name in node.input):
            fed.update(node.output)
    return names


def tail_nodes(model: onnx.ModelProto, include_head_convs: bool = False) -> list[str]:
    """Names of the nodes after the last compute op (Conv/MatMul/Gemm) on every path to an output.

    A Conv whose weights are a fixed arange (the DFL integral of YOLOv8 heads) does not count as compute.
    With `include_head_convs`, the last compute ops themselves are included too.
    """
    graph = model.graph
    consumers: dict[str, list[int]] = {}
    for idx, node in enumerate(graph.node):
        for name in node.input:
            consumers.setdefault(name, []).append(idx)
    fixed = _fixed_integral_convs(model)

    def is_compute(node: onnx.NodeProto) -> bool:
        return node.op_type in COMPUTE_OPS and node.name not in fixed

    # compute_below[i]: a compute op is reachable downstream of node i (excluding i itself)
    compute_below = [False] * len(graph.node)
    for idx in range(len(graph.node) - 1, -1, -1):
        node = graph.node[idx]
        below = False
        for out in node.output:
            for c in consumers.get(out, []):
                if is_compute(graph.node[c]) or compute_below[c]:
                    below = True
                    break
            if below:
                break
        compute_below[idx] = below
    names = []
    for idx, node in enumerate(graph.node):
        if compute_below[idx]:
            continue
        if is_compute(node) and not include_head_convs:
            continue
        if not node.name:
            continue
        names.append(node.name)
    return names


def depthwise_convs(model: onnx.ModelProto) -> list[str]:
    """Names of grouped convolutions (depthwise and the like)."""
    names = []
    for node in model.graph.node:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.op_type == "Conv" and group > 1 and node.name:
            names.append(node.name)
    return names


def _fixed_integral_convs(model: onnx.ModelProto) -> set[str]:
    inits = {i.name: i for i in model.graph.initializer}
    out = set()
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        weight = onnx.numpy_helper.to_array(inits[node.input[1]]).astype(np.float32).ravel()
        if weight.size > 1 and np.array_equal(weight, np.arange(weight.size, dtype=np.float32)):
            out.add(node.name)
    return out


class ArrayCalibrationReader:
    """Feeds preprocessed input arrays to the ONNX Runtime calibrator, one batch per call.

    Args:
        input_name: the model's input tensor name.
        batches: iterator of NCHW arrays, already preprocessed the way the model's runtime does it.
    """

    def __init__(self, input_name: str, batches: Iterator[np.ndarray]) -> None:
        self.input_name = input_name
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:  # single pass is enough for the calibrators used here
        pass

    def set_range(self, start_index: int, end_index: int) -> None:
        pass


def quantize_int8(
    model: onnx.ModelProto,
    batches: Iterator[np.ndarray],
    options: QuantizeOptions | None = None,
    calibration_hash: str = "",
) -> onnx.ModelProto:
    """Quantize an FP32 (or FP16, widened first) ONNX model to INT8 QDQ with static calibration.

    Args:
        model: the source model.
        batches: preprocessed calibration inputs (NCHW float32).
        options: quantization choices (defaults are the measured best for the plate detector on x86).
        calibration_hash: recorded in the metadata so a derived file says which images calibrated it.

    Raises:
        ModelError: no calibration data, or ONNX Runtime failed to quantize.
    """
    options = options or QuantizeOptions()
    source_meta = get_metadata(model)
    fp32 = fp16_to_fp32(model) if _has_fp16(model) else model
    fp32, options = _ensure_opset_13(fp32, options)
    excluded = _excluded_nodes(fp32, options)
    reader = ArrayCalibrationReader(fp32.graph.input[0].name, _non_empty(batches))
    out = _quantize_static(fp32, reader, options, excluded)
    del out.metadata_props[:]
    set_metadata(out, **source_meta)
    return set_metadata(
        out,
        **{PRECISION_KEY: "int8", "ovr_alpr_quant": options.key(), "ovr_alpr_calibration": calibration_hash},
    )


def _excluded_nodes(model: onnx.ModelProto, options: QuantizeOptions) -> list[str]:
    """The nodes the options keep in FP32: named ones, the head's tail, depthwise convolutions, the stem."""
    excluded = list(options.exclude)
    if options.exclude_tail:
        excluded += tail_nodes(model, include_head_convs=options.exclude_head_convs)
    if options.exclude_depthwise:
        excluded += depthwise_convs(model)
    if options.exclude_stem:
        excluded += stem_nodes(model)
    return excluded


def _non_empty(batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The batches, checked before quantizing starts to have at least one (ModelError otherwise)."""
    peek = iter(batches)
    first = next(peek, None)
    if first is None:
        raise ModelError("no calibration images", "give a folder of images (see `ovr-alpr calib`)")

    def chained() -> Iterator[np.ndarray]:
        yield first
        yield from peek

    return chained()


def _quantize_static(
    fp32: onnx.ModelProto, reader: ArrayCalibrationReader, options: QuantizeOptions, excluded: list[str]
) -> onnx.ModelProto:
    """Run ONNX Runtime's pre-processing and static quantization on files in a temporary folder."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[options.method]
    extra = {
        "ActivationSymmetric": options.symmetric_activations,
        "WeightSymmetric": True,
    }
    if options.method == "percentile":
        extra["CalibPercentile"] = options.percentile
    with tempfile.TemporaryDirectory(prefix="ovr-alpr-quant-") as tmp:
        src = Path(tmp) / "fp32.onnx"
        pre = Path(tmp) / "pre.onnx"
        dst = Path(tmp) / "int8.onnx"
        onnx.save(fp32, str(src))
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        except Exception as exc:  # pre-processing is an optimisation; quantize the plain graph if it fails
            log.warning("quantization pre-processing skipped: %s", first_line(exc, 160))
            pre = src
        try:
            quantize_static(
                str(pre),
                str(dst),
                reader,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=options.op_types,
                per_channel=options.per_channel,
                reduce_range=options.reduce_range,
                activation_type=QuantType.QInt8 if options.symmetric_activations else QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=excluded,
                calibrate_method=method,
                extra_options=extra,
            )
        except Exception as exc:
            reason = first_line(exc)
            raise ModelError(f"INT8 quantization failed: {reason}", "try --debug for the traceback") from exc
        return onnx.load(str(dst))


def _ensure_opset_13(
    model: onnx.ModelProto, options: QuantizeOptions
) -> tuple[onnx.ModelProto, QuantizeOptions]:
    """Per-channel Q/DQ (`axis`) needs opset 13: upgrade older graphs, else quantize per tensor."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset >= 13 or not options.per_channel:
        return model, options
    try:
        from onnx import version_converter

        upgraded = version_converter.convert_version(model, 13)
        onnx.checker.check_model(upgraded)
        return upgraded, options
    except Exception as exc:
        log.warning(
            "cannot upgrade opset %d to 13 for per-channel INT8 (%s); quantizing per tensor",
            opset,
            first_line(exc, 120),
        )
        return model, replace(options, per_channel=False)


def _has_fp16(model: onnx.ModelProto) -> bool:
    return any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer) or any(
        i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16 for i in model.graph.input
    )
