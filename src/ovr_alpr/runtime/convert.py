"""Precision conversions of ONNX graphs (FP16 <-> FP32), output pruning and precision metadata.

Every derived file records what it is in the ONNX metadata key `ovr_alpr_precision`, which the
ONNX Runtime backend reads back.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

log = logging.getLogger(__name__)

PRECISION_KEY = "ovr_alpr_precision"
PRECISIONS = ("fp32", "fp16", "int8")


def set_metadata(model: onnx.ModelProto, **entries: str) -> onnx.ModelProto:
    """Add or replace `metadata_props` entries in place (and return the model)."""
    existing = {p.key: p for p in model.metadata_props}
    for key, value in entries.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            model.metadata_props.add(key=key, value=str(value))
    return model


def get_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def detect_onnx_precision(model: onnx.ModelProto) -> str:
    """`fp32`, `fp16` or `int8`: the metadata tag if present, else guessed from weights and nodes."""
    tag = get_metadata(model).get(PRECISION_KEY)
    if tag in PRECISIONS:
        return tag
    ops = {n.op_type for n in model.graph.node}
    if ops & {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger"}:
        return "int8"
    counts = {TensorProto.FLOAT: 0, TensorProto.FLOAT16: 0}
    for init in model.graph.initializer:
        if init.data_type in counts:
            counts[init.data_type] += int(np.prod(init.dims)) if init.dims else 1
    return "fp16" if counts[TensorProto.FLOAT16] > counts[TensorProto.FLOAT] else "fp32"


def _retype_tensor(tensor: TensorProto, src: int, dst: np.dtype) -> None:
    if tensor.data_type != src:
        return
    arr = numpy_helper.to_array(tensor).astype(dst)
    tensor.CopyFrom(numpy_helper.from_array(arr, tensor.name))


def _retype_value_infos(values: Iterable[onnx.ValueInfoProto], src: int, dst: int) -> None:
    for value in values:
        tensor_type = value.type.tensor_type
        if tensor_type.elem_type == src:
            tensor_type.elem_type = dst


def _graph_fp16_to_fp32(graph: onnx.GraphProto) -> None:
    f16, f32 = TensorProto.FLOAT16, TensorProto.FLOAT
    for init in graph.initializer:
        _retype_tensor(init, f16, np.float32)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                _retype_tensor(attr.t, f16, np.float32)
            elif attr.type == onnx.AttributeProto.GRAPH:
                _graph_fp16_to_fp32(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    _graph_fp16_to_fp32(sub)
            elif attr.name in ("to", "dtype") and attr.type == onnx.AttributeProto.INT and attr.i == f16:
                attr.i = f32
    _retype_value_infos(graph.input, f16, f32)
    _retype_value_infos(graph.output, f16, f32)
    _retype_value_infos(graph.value_info, f16, f32)


def fp16_to_fp32(model: onnx.ModelProto) -> onnx.ModelProto:
    """Widen every FP16 weight, constant, cast and tensor type of the graph to FP32 (returns a copy).

    FP16 arithmetic has no fast path on most CPUs: ONNX Runtime inserts casts around each node, so an
    FP16 model usually runs slower on CPU than the same model in FP32.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    _graph_fp16_to_fp32(out.graph)
    _drop_identity_casts(out)
    return set_metadata(out, **{PRECISION_KEY: "fp32"})


def _drop_identity_casts(model: onnx.ModelProto) -> None:
    """Remove Cast nodes that now cast FP32 to FP32 (they came from FP16 islands around FP32-only ops)."""
    graph = model.graph
    types = _tensor_types(model)
    graph_outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    keep = []
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if (
            node.op_type == "Cast"
            and to == TensorProto.FLOAT
            and types.get(node.input[0]) == TensorProto.FLOAT
            and node.output[0] not in graph_outputs
        ):
            rename[node.output[0]] = node.input[0]
            continue
        keep.append(node)

    def source(name: str) -> str:
        while name in rename:  # a chain of dropped casts
            name = rename[name]
        return name

    # every consumer is rewired, wherever it sits: converters append their input casts at the end of the
    # node list, after the nodes that read them (ONNX Runtime sorts the graph itself)
    for node in keep:
        node.input[:] = [source(i) if i else i for i in node.input]
    if len(keep) != len(graph.node):
        del graph.node[:]
        graph.node.extend(keep)


def _tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor the graph declares or ONNX shape inference can work out."""
    graph = model.graph
    values = [*graph.input, *graph.value_info, *graph.output]
    try:
        values += list(onnx.shape_inference.infer_shapes(model).graph.value_info)
    except Exception:  # inference is a help here, not a requirement (e.g. custom-domain ops)
        log.debug("shape inference failed; casts whose input type is unknown are kept")
    types = {v.name: v.type.tensor_type.elem_type for v in values if v.type.tensor_type.elem_type}
    types.update({i.name: i.data_type for i in graph.initializer})
    for node in graph.node:
        if node.op_type == "Constant":
            tensor = next((a.t for a in node.attribute if a.name == "value"), None)
            if tensor is not None:
                types[node.output[0]] = tensor.data_type
    return types


def fp32_to_fp16(
    model: onnx.ModelProto, keep_io_types: bool = True, op_block_list: list[str] | None = None
) -> onnx.ModelProto:
    """Narrow FP32 weights and activations to FP16 (returns a new model).

    Args:
        keep_io_types: keep FP32 graph inputs and outputs (casts are inserted at the edges), so the
            caller's preprocessing does not change.
        op_block_list: op types left in FP32 (default: onnxruntime's list of ops without FP16 kernels).
    """
    # onnxruntime ships onnxconverter-common's converter, so no extra dependency is needed
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    source = onnx.ModelProto()
    source.CopyFrom(model)
    out = convert_float_to_float16(
        source,
        keep_io_types=keep_io_types,
        op_block_list=op_block_list if op_block_list is not None else DEFAULT_OP_BLOCK_LIST,
        disable_shape_infer=False,
    )
    sort_topologically(out.graph)
    return set_metadata(out, **{PRECISION_KEY: "fp16"})


def sort_topologically(graph: onnx.GraphProto) -> None:
    """Reorder `graph`'s nodes so every node comes after the nodes whose outputs it reads (in place; stable:
    an already sorted graph keeps its order). Converters may append nodes after their consumers, e.g.
    onnxruntime's FP16 converter puts the input cast last."""
    nodes = list(graph.node)
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    waiting_on = [
        {producer[name] for name in node.input if name in producer and producer[name] != i}
        for i, node in enumerate(nodes)
    ]
    consumers: dict[int, list[int]] = {}
    for i, deps in enumerate(waiting_on):
        for d in deps:
            consumers.setdefault(d, []).append(i)
    ready = [i for i, deps in enumerate(waiting_on) if not deps]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for c in consumers.get(i, []):
            waiting_on[c].discard(i)
            if not waiting_on[c]:
                heapq.heappush(ready, c)
    if len(order) != len(nodes):
        raise ValueError("the graph has a cycle")
    if order != list(range(len(nodes))):
        del graph.node[:]
        graph.node.extend(nodes[i] for i in order)


def prune_outputs(model: onnx.ModelProto, keep: list[str]) -> onnx.ModelProto:
    """Keep only the graph outputs named in `keep` and drop every node no longer needed (returns a copy).

    Used to cut the mask-prototype branch of a YOLO segmentation model when only boxes are wanted.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    missing = set(keep) - {o.name for o in graph.output}
    if missing:
        raise ValueError(f"outputs {sorted(missing)} not in the graph")
    kept_outputs = [o for o in graph.output if o.name in keep]
    del graph.output[:]
    graph.output.extend(kept_outputs)
    sort_topologically(graph)  # the walk below needs every producer before its consumers
    needed = set(keep)
    kept_nodes = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept_nodes.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept_nodes))
    used_inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(used_inits)
    used_vi = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(used_vi)
    return out


def load(path: str | Path) -> onnx.ModelProto:
    return onnx.load(str(path))


def save(model: onnx.ModelProto, path: str | Path) -> Path:
    """Save atomically (write a temporary file, then rename), so a crash never leaves half a model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)
    return path


def make_tiny_model(opset: int = 17) -> onnx.ModelProto:
    """A two-conv FP32 graph (1x3x32x32 -> 1x8x32x32) used by tests and as a smoke model."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.normal(0, 0.1, (8,)).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (8, 8, 3, 3)).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(rng.normal(0, 0.1, (8,)).astype(np.float32), "b2")
    nodes = [
        helper.make_node("Conv", ["images", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Sigmoid", ["c2"], ["output0"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 8, 32, 32])],
        [w1, b1, w2, b2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# An Ultralytics Detect/Segment head predicts, per stride, 4 x 16 DFL box bins and the class logits
DFL_BINS = 16
RAW_HEAD_KEY = "ovr_alpr_head"
RAW_HEAD_VALUE = "yolo-dfl16"


def yolo_head_outputs(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """The per-stride (box, class) convolutions of an Ultralytics YOLO (v8/11) detect or segment export.

    Per stride the head ends in a box conv (4 x 16 DFL bins) and a class conv (logits). Older exports join
    the two (`Concat` along channels) before flattening, newer ones flatten each and join the strides of
    boxes and of classes apart (the class side through a `Sigmoid`). Either way the export then decodes
    with anchors fixed for its input size; the conv outputs come before that, so a graph cut at them runs
    at any input size. Returns (box, class) tensor names in stride order; [] when `model` is not such an
    export.
    """
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {i.name: tuple(i.dims) for i in graph.initializer}

    def conv_channels(name: str) -> int:
        node = producer.get(name)
        if node is None or node.op_type != "Conv" or len(node.input) < 2:
            return -1
        dims = weights.get(node.input[1])
        return int(dims[0]) if dims else -1

    def flattened_into_concat(name: str) -> onnx.NodeProto | None:
        """The Concat that joins this tensor's Reshape with the other strides' (None if it is not so)."""
        reshapes = [u for u in consumers.get(name, []) if u.op_type == "Reshape"]
        joins = [c for r in reshapes for c in consumers.get(r.output[0], []) if c.op_type == "Concat"]
        return joins[0] if len(reshapes) == 1 and len(joins) == 1 else None

    pairs: list[tuple[str, str]] = []
    # older exports: Concat(box conv, class conv) per stride, then Reshape and a Concat of the strides
    for node in graph.node:
        axis = next((a.i for a in node.attribute if a.name == "axis"), None)
        if node.op_type == "Concat" and len(node.input) == 2 and axis == 1:
            box, cls = node.input
            if (
                conv_channels(box) == 4 * DFL_BINS
                and conv_channels(cls) >= 1
                and flattened_into_concat(node.output[0])
            ):
                pairs.append((box, cls))
    if len(pairs) >= 2:
        return pairs
    # newer exports: box convs and class convs flattened and joined apart; the class join feeds a Sigmoid
    joins: dict[str, list[str]] = {}
    for node in graph.node:
        if node.op_type == "Conv" and (join := flattened_into_concat(node.output[0])) is not None:
            joins.setdefault(join.output[0], []).append(node.output[0])
    boxes = [ts for ts in joins.values() if all(conv_channels(t) == 4 * DFL_BINS for t in ts)]
    classes = [
        ts
        for j, ts in joins.items()
        if any(c.op_type == "Sigmoid" for c in consumers.get(j, []))
        and len({conv_channels(t) for t in ts}) == 1
    ]
    if len(boxes) == 1 and len(classes) == 1 and len(boxes[0]) == len(classes[0]) >= 2:
        return list(zip(boxes[0], classes[0], strict=True))
    return []


def to_raw_head(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of an Ultralytics YOLO export cut at its per-stride head convs, with any input height/width.

    Outputs, in stride order: box bins (1 x 64 x h x w), class logits (1 x nc x h x w), box, class, ...

    The anchors and strides of the export's decoding are constants for one input size; without them the
    network runs on letterboxed frames of their own aspect (multiples of the largest stride), and the
    detector decodes the DFL bins itself. The mask branch of a segmentation model goes too. The result is
    marked with the metadata `ovr_alpr_head: yolo-dfl16`.

    Raises:
        ValueError: `model` has no recognisable YOLO head.
    """
    pairs = yolo_head_outputs(model)
    if not pairs:
        raise ValueError(
            "no Ultralytics YOLO detect head found (per stride a 64-channel box conv and a class conv)"
        )
    heads = [name for pair in pairs for name in pair]
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    elem = graph.input[0].type.tensor_type.elem_type
    # the head convs' own type: FP16 inside a model whose input and output stay FP32 (keep_io_types)
    types = _tensor_types(out)
    del graph.output[:]
    for i, name in enumerate(heads):
        shape = [1, None, f"h{i // 2}", f"w{i // 2}"]
        graph.output.append(helper.make_tensor_value_info(name, types.get(name, elem), shape))
    for dim, param in zip(graph.input[0].type.tensor_type.shape.dim[2:4], ("height", "width"), strict=True):
        dim.ClearField("dim_value")
        dim.dim_param = param
    pruned = prune_outputs(out, heads)
    del pruned.graph.value_info[:]  # shapes inferred for the old fixed size no longer hold
    return set_metadata(pruned, **{RAW_HEAD_KEY: RAW_HEAD_VALUE})
