"""Precision conversions, pruning, INT8 quantization and the derived-file cache, on tiny generated graphs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from ovr_alpr.errors import ModelError
from ovr_alpr.runtime.convert import (
    PRECISION_KEY,
    detect_onnx_precision,
    fp16_to_fp32,
    fp32_to_fp16,
    get_metadata,
    make_tiny_model,
    prune_outputs,
    save,
)
from ovr_alpr.runtime.quantize import QuantizeOptions, options_for, quantize_int8, stem_nodes, tail_nodes
from ovr_alpr.runtime.resolve import DerivedSpec, derive_onnx


def run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    return session.run(None, {inp.name: x.astype(dtype)})


@pytest.fixture
def tiny() -> onnx.ModelProto:
    return make_tiny_model()


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)


def test_fp32_fp16_fp32_round_trip_keeps_numerics(tiny, x):
    ref = run(tiny, x)[0]
    half = fp32_to_fp16(tiny, keep_io_types=False)
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert detect_onnx_precision(half) == "fp16"
    back = fp16_to_fp32(half)
    assert back.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert all(i.data_type != TensorProto.FLOAT16 for i in back.graph.initializer)
    assert get_metadata(back)[PRECISION_KEY] == "fp32"
    np.testing.assert_allclose(run(half, x)[0].astype(np.float32), ref, atol=2e-2)
    np.testing.assert_allclose(run(back, x)[0], ref, atol=2e-2)


def test_fp16_keep_io_types_takes_fp32_input(tiny, x):
    half = fp32_to_fp16(tiny, keep_io_types=True)
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert get_metadata(half)[PRECISION_KEY] == "fp16"
    np.testing.assert_allclose(run(half, x)[0], run(tiny, x)[0], atol=2e-2)


def _is_sorted(graph: onnx.GraphProto) -> bool:
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    for node in graph.node:
        if any(name and name not in known for name in node.input):
            return False
        known.update(node.output)
    return True


def _input_cast_last(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its input cast moved to the end of the node list, as onnxruntime's converter leaves it."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = list(out.graph.node)
    cast = next(n for n in nodes if n.op_type == "Cast" and n.input[0] == "images")
    del out.graph.node[:]
    out.graph.node.extend([n for n in nodes if n is not cast] + [cast])
    return out


def test_fp16_with_fp32_io_is_sorted_and_widens_back_to_a_valid_graph(tiny, x):
    half = fp32_to_fp16(tiny, keep_io_types=True)
    assert _is_sorted(half.graph)
    unsorted = _input_cast_last(half)
    assert not _is_sorted(unsorted.graph)
    # widening drops the now FP32 -> FP32 input cast and must rewire its readers wherever they sit
    back = fp16_to_fp32(unsorted)
    onnx.checker.check_model(back)
    assert back.graph.node[0].input[0] == "images"
    np.testing.assert_allclose(run(back, x)[0], run(tiny, x)[0], atol=2e-2)
    # pruning walks the graph backwards from the outputs: it must keep a producer listed after its reader
    pruned = prune_outputs(unsorted, [unsorted.graph.output[0].name])
    assert _is_sorted(pruned.graph) and len(pruned.graph.node) == len(unsorted.graph.node)
    np.testing.assert_allclose(run(pruned, x)[0], run(tiny, x)[0], atol=2e-2)


def test_fp16_to_fp32_handles_casts_and_constants(x):
    """A graph with FP16 casts and constants around an op, as exporters write them, widens cleanly."""
    w = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float16), "w")
    nodes = [
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array(2, np.float16), "k")),
        helper.make_node("Conv", ["images", "w"], ["c"], name="conv"),
        helper.make_node("Cast", ["c"], ["c32"], to=TensorProto.FLOAT, name="to32"),
        helper.make_node("Relu", ["c32"], ["r"], name="relu"),
        helper.make_node("Cast", ["r"], ["r16"], to=TensorProto.FLOAT16, name="to16"),
        helper.make_node("Mul", ["r16", "k"], ["out"], name="mul"),
    ]
    graph = helper.make_graph(
        nodes,
        "casts",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT16, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT16, [1, 2, 32, 32])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    wide = fp16_to_fp32(model)
    onnx.checker.check_model(wide)
    assert not [n for n in wide.graph.node if n.op_type == "Cast"]  # FP32->FP32 casts are dropped
    np.testing.assert_allclose(run(wide, x)[0], run(model, x)[0].astype(np.float32), atol=2e-2)


def test_prune_outputs_drops_the_unused_branch(tiny, x):
    two = onnx.ModelProto()
    two.CopyFrom(tiny)
    two.graph.node.append(helper.make_node("Relu", ["r1"], ["protos"], name="proto_relu"))
    two.graph.output.append(helper.make_tensor_value_info("protos", TensorProto.FLOAT, [1, 8, 32, 32]))
    pruned = prune_outputs(two, ["output0"])
    assert [o.name for o in pruned.graph.output] == ["output0"]
    assert "proto_relu" not in {n.name for n in pruned.graph.node}
    np.testing.assert_allclose(run(pruned, x)[0], run(two, x)[0])


def test_tail_nodes_are_the_ops_after_the_last_conv(tiny):
    assert tail_nodes(tiny) == ["sigmoid"]
    assert tail_nodes(tiny, include_head_convs=True) == ["conv2", "sigmoid"]


def test_stem_nodes_are_the_compute_ops_on_the_input_even_through_a_scaling(tiny):
    assert stem_nodes(tiny) == ["conv1"]
    scaled = onnx.ModelProto()
    scaled.CopyFrom(tiny)
    scaled.graph.initializer.append(numpy_helper.from_array(np.array(1 / 255, np.float32), "k"))
    conv1 = next(n for n in scaled.graph.node if n.name == "conv1")
    conv1.input[0] = "scaled"
    scaled.graph.node.insert(0, helper.make_node("Mul", ["images", "k"], ["scaled"], name="scale"))
    assert stem_nodes(scaled) == ["conv1"]


def test_detectors_keep_their_stem_in_fp32_and_readers_do_not_ask(tiny):
    assert options_for("plate").exclude_stem and options_for("vehicle").exclude_stem
    assert not options_for("ocr").exclude_stem
    assert options_for("plate").key() != QuantizeOptions().key()  # cached INT8 files are made again
    q = quantize_int8(tiny, calibration_batches(), QuantizeOptions(exclude_stem=True))
    conv1 = next(n for n in q.graph.node if n.name == "conv1")
    weight_producers = {o: n.op_type for n in q.graph.node for o in n.output}
    assert weight_producers.get(conv1.input[1]) != "DequantizeLinear"  # FP32 weights
    conv2 = next(n for n in q.graph.node if n.name == "conv2")
    assert weight_producers.get(conv2.input[1]) == "DequantizeLinear"


def calibration_batches(n: int = 4):
    rng = np.random.default_rng(2)
    return (rng.random((1, 3, 32, 32), dtype=np.float32) for _ in range(n))


def test_int8_quantization_runs_and_is_tagged(tiny, x):
    q = quantize_int8(tiny, calibration_batches(), QuantizeOptions(), calibration_hash="abc")
    meta = get_metadata(q)
    assert meta[PRECISION_KEY] == "int8"
    assert meta["ovr_alpr_calibration"] == "abc"
    assert detect_onnx_precision(q) == "int8"
    ops = {n.op_type for n in q.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # the tail (final sigmoid) stays FP32 by default
    assert "sigmoid" in {n.name for n in q.graph.node}
    np.testing.assert_allclose(run(q, x)[0], run(tiny, x)[0], atol=0.1)


def test_int8_without_calibration_data_is_a_model_error(tiny):
    with pytest.raises(ModelError, match="calibration"):
        quantize_int8(tiny, iter(()))


def write_images(folder, n: int, seed: int = 0):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i}.png"), rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    return folder


def test_derived_files_are_cached_and_keyed(tmp_path, tiny):
    source = save(tiny, tmp_path / "tiny.onnx")
    cache = tmp_path / "cache"
    same = derive_onnx(source, DerivedSpec("fp32"), cache)
    assert same == source  # nothing to change: the source itself
    half = derive_onnx(source, DerivedSpec("fp16"), cache)
    assert half.parent == cache / "models" and "fp16" in half.name
    mtime = half.stat().st_mtime_ns
    assert derive_onnx(source, DerivedSpec("fp16"), cache) == half
    assert half.stat().st_mtime_ns == mtime  # reused, not rebuilt

    with pytest.raises(ModelError, match="calibration"):
        derive_onnx(source, DerivedSpec("int8"), cache)
    calib = write_images(tmp_path / "calib", 3)
    int8 = derive_onnx(source, DerivedSpec("int8", calibration=str(calib)), cache)
    assert get_metadata(onnx.load(str(int8)))[PRECISION_KEY] == "int8"
    write_images(calib, 4, seed=5)  # the calibration set changes -> a new file
    int8_new = derive_onnx(source, DerivedSpec("int8", calibration=str(calib)), cache)
    assert int8_new != int8
    other_opts = derive_onnx(
        source, DerivedSpec("int8", calibration=str(calib), quant=QuantizeOptions(per_channel=False)), cache
    )
    assert other_opts not in (int8, int8_new)


def test_int8_of_a_model_of_any_input_size_calibrates_at_the_size_it_runs_at(tmp_path, tiny, monkeypatch):
    from ovr_alpr.runtime import calibration

    dims = tiny.graph.input[0].type.tensor_type.shape.dim[2:]
    for dim, name in zip(dims, ("height", "width"), strict=True):
        dim.ClearField("dim_value")
        dim.dim_param = name
    source = save(tiny, tmp_path / "any_size.onnx")
    calib = write_images(tmp_path / "calib", 2)
    shapes = []
    real = calibration.preprocess_for

    def spy(role, input_shape, fmt="auto"):
        shapes.append(tuple(input_shape))
        return real(role, input_shape, fmt)

    monkeypatch.setattr(calibration, "preprocess_for", spy)
    at_512 = derive_onnx(source, DerivedSpec("int8", calibration=str(calib), calibration_size=512), tmp_path)
    assert shapes[-1] == (1, 3, 512, 512)
    at_640 = derive_onnx(source, DerivedSpec("int8", calibration=str(calib)), tmp_path)
    assert shapes[-1][2:] == (0, 0)  # unknown: preprocess_for's own default (640)
    assert at_512 != at_640  # the size is part of the cached file's key


def test_derive_writes_an_explicit_output(tmp_path, tiny):
    source = save(tiny, tmp_path / "tiny.onnx")
    out = derive_onnx(source, DerivedSpec("fp32"), output=tmp_path / "out" / "copy.onnx")
    assert out.is_file()
    assert get_metadata(onnx.load(str(out)))[PRECISION_KEY] == "fp32"
