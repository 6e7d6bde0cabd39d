"""Ultralytics detectors cut at their head convs run on frames letterboxed to their own aspect."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from ovr_alpr.config import ModelConfig
from ovr_alpr.detect.yolo import YoloDetector
from ovr_alpr.imaging import Letterbox, RectLetterbox
from ovr_alpr.runtime.backends import load_backend
from ovr_alpr.runtime.convert import make_tiny_model, to_raw_head, yolo_head_outputs
from ovr_alpr.runtime.zoo import default_model_path
from ovr_alpr.synth.scenes import render_scene

RAW_META = {"ovr_alpr_head": "yolo-dfl16"}


@pytest.mark.parametrize(
    ("hw", "canvas", "ratio"),
    [
        ((720, 1280), (352, 640), 352 / 720),  # 360 rows would be padded to 384: shrink 2.2 % to 352
        ((1080, 1920), (352, 640), 352 / 1080),
        ((700, 1280), (352, 640), 0.5),  # 350 rows: padded by 2, no shrink
        ((1000, 1280), (512, 640), 0.5),  # 500 rows: 480 would shrink 4 % (> 3 %), so padded to 512
        ((480, 640), (480, 640), 1.0),
        ((1000, 300), (640, 192), 0.64),
        ((640, 640), (640, 640), 1.0),
    ],
)
def test_rect_canvas_keeps_the_aspect_in_multiples_of_the_stride(hw, canvas, ratio):
    fit = RectLetterbox(640, stride=32)
    assert fit.canvas_hw(*hw) == canvas
    out, info = fit(np.zeros((*hw, 3), np.uint8))
    assert out.shape[:2] == canvas
    assert abs(info.ratio - ratio) < 1e-9
    # the whole frame is on the canvas, none of it cut off
    assert round(hw[0] * info.ratio) + 2 * info.pad_y <= canvas[0] + 1
    assert round(hw[1] * info.ratio) + 2 * info.pad_x <= canvas[1] + 1


@pytest.mark.parametrize(
    ("hw", "canvas"),
    [
        ((720, 1280), (288, 512)),  # 2.5x: within the limit, the canvas stays at 512
        ((1080, 1920), (352, 640)),  # 3x at 640: a larger canvas, not 3.75x at 512
        ((1440, 2560), (480, 832)),  # 854 wide at 3x, shrunk within 3 % to the stride below
        ((2160, 3840), (576, 1024)),  # capped at max_size: shrunk 3.75x
    ],
)
def test_a_large_frame_is_shrunk_at_most_max_downscale_times(hw, canvas):
    fit = RectLetterbox(512, stride=32, max_downscale=3.0, max_size=1024)
    assert fit.canvas_hw(*hw) == canvas
    assert RectLetterbox(512, stride=32).canvas_hw(*hw)[1] == 512  # without the limit, always 512


def test_the_plate_detector_takes_max_downscale_from_its_config():
    from ovr_alpr.config import PlateDetectorConfig
    from ovr_alpr.detect.plates import build_plate_detector

    det = build_plate_detector(PlateDetectorConfig())
    assert det.letterbox.canvas_hw(1080, 1920) == (352, 640)
    assert det.letterbox.canvas_hw(720, 1280) == (288, 512)
    off = build_plate_detector(PlateDetectorConfig(max_downscale=None))
    assert off.letterbox.canvas_hw(1080, 1920) == (288, 512)


def test_rect_canvas_without_shrink_pads_as_ultralytics():
    assert RectLetterbox(640, stride=32, max_shrink=0.0).canvas_hw(720, 1280) == (384, 640)


def _raw_outputs(canvas_hw, cells):
    """Per-stride (box bins, class logits) like a cut head: each cell (stride, x, y, dist, logit)."""
    outs = []
    for stride in (8, 16, 32):
        gh, gw = canvas_hw[0] // stride, canvas_hw[1] // stride
        box = np.zeros((1, 64, gh, gw), np.float32)
        cls = np.full((1, 1, gh, gw), -10.0, np.float32)
        for s, x, y, dist, logit in cells:
            if s == stride:
                for side in range(4):
                    box[0, side * 16 + dist, y, x] = 30.0  # all the weight on one bin
                cls[0, 0, y, x] = logit
        outs += [box, cls]
    return outs


def test_raw_head_decode_maps_cells_back_to_the_frame(fake_backend):
    # 1280 x 720 frame -> ratio 352 / 720, canvas 640 x 352, image 626 px wide, pad_x 7. Stride-8 cell
    # (10, 5): centre (84, 44) px, 2 bins (16 px) to every side -> canvas box (68, 28, 100, 60) -> frame
    # ((68 - 7) / ratio, 28 / ratio, (100 - 7) / ratio, 60 / ratio)
    outs = _raw_outputs((352, 640), [(8, 10, 5, 2, 3.0), (32, 3, 3, 1, -3.0)])  # the second: score 0.05
    backend = fake_backend(
        outs, input_shape=(1, 3, -1, -1), metadata=RAW_META, output_shapes=[o.shape for o in outs]
    )
    det = YoloDetector(backend, conf_threshold=0.25, iou_threshold=0.5)
    d = det(np.zeros((720, 1280, 3), np.uint8))
    assert backend.calls[0].shape == (1, 3, 352, 640)
    assert len(d) == 1
    ratio = 352 / 720
    np.testing.assert_allclose(d.xyxy[0], [61 / ratio, 28 / ratio, 93 / ratio, 60 / ratio], atol=1e-3)
    np.testing.assert_allclose(d.confidence[0], 1 / (1 + np.exp(-3.0)), atol=1e-5)


def test_raw_head_decode_empty_below_threshold(fake_backend):
    outs = _raw_outputs((640, 640), [(16, 4, 4, 3, -2.0)])
    backend = fake_backend(outs, input_shape=(1, 3, -1, -1), metadata=RAW_META, output_shapes=[])
    assert len(YoloDetector(backend, conf_threshold=0.25)(np.zeros((640, 640, 3), np.uint8))) == 0


def test_head_cut_finds_the_strides_of_the_embedded_plate_model():
    model = onnx.load(str(default_model_path("plate")))
    pairs = yolo_head_outputs(model)
    assert len(pairs) == 3
    cut = to_raw_head(model)
    assert [o.name for o in cut.graph.output] == [n for pair in pairs for n in pair]
    dims = cut.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[2:]] == ["height", "width"]
    assert not any("proto" in n.name for n in cut.graph.node)  # the mask branch is gone


@pytest.mark.parametrize("role", ["plate", "plate_ovr"])
def test_head_cuts_of_both_embedded_detectors_load_at_fp16_and_fp32(role):
    """platedet is FP16 end to end; ours keeps an FP32 input and output around FP16 insides, so the cut's
    outputs must take the head convs' own type, not the input's."""
    import onnxruntime as ort

    from ovr_alpr.runtime.convert import fp16_to_fp32

    cut = to_raw_head(onnx.load(str(default_model_path(role))))
    for model in (cut, fp16_to_fp32(cut)):
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        outputs = session.run(None, {inp.name: np.zeros((1, 3, 288, 512), dtype)})
        assert len(outputs) == 6 and outputs[0].shape[2:] == (36, 64)  # stride 8 on a 288 x 512 canvas


def test_head_cut_refuses_other_graphs():
    assert yolo_head_outputs(make_tiny_model()) == []
    with pytest.raises(ValueError, match="no Ultralytics YOLO detect head"):
        to_raw_head(make_tiny_model())


@pytest.fixture(scope="module")
def plate_backends(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    path = default_model_path("plate")
    load = {
        lb: load_backend(ModelConfig(threads=2, letterbox=lb), "plate", path, warmup=False, cache_dir=cache)
        for lb in ("rect", "square")
    }
    return load


def test_cut_model_decodes_as_the_export_does(plate_backends):
    """On the same square canvas, our DFL decoding of the cut head gives the export's own boxes."""
    export = YoloDetector(plate_backends["square"], conf_threshold=0.25)
    cut = YoloDetector(plate_backends["rect"], conf_threshold=0.25)
    cut.letterbox = Letterbox((640, 640), center=True)  # the export's canvas, to compare like with like
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(3):
        image = render_scene(rng, kind="road", size=(1280, 720)).image
        a, b = export(image), cut(image)
        assert len(a) == len(b)
        order_a, order_b = np.argsort(a.xyxy[:, 0]), np.argsort(b.xyxy[:, 0])
        np.testing.assert_allclose(a.xyxy[order_a], b.xyxy[order_b], atol=1.0)
        np.testing.assert_allclose(a.confidence[order_a], b.confidence[order_b], atol=2e-3)
        found += len(a)
    assert found >= 2  # the comparison saw plates


def test_rect_detector_finds_the_rendered_plates_on_a_smaller_canvas(plate_backends):
    from rendered_plates import share_found

    det = YoloDetector(plate_backends["rect"], conf_threshold=0.25)
    assert isinstance(det.letterbox, RectLetterbox)
    assert det.letterbox.canvas_hw(720, 1280) == (352, 640)
    share, plates = share_found(det, seed=5, scenes=3)
    assert plates and share >= 0.6


@pytest.mark.parametrize(("shrink", "rows"), [(None, 352), (0.0, 384)])
def test_canvas_shrink_comes_from_the_plate_detector_config(plate_backends, shrink, rows):
    from ovr_alpr.config import PlateDetectorConfig
    from ovr_alpr.detect.plates import build_plate_detector

    model = {} if shrink is None else {"canvas_shrink": shrink}
    cfg = PlateDetectorConfig.model_validate({"type": "platedet", "model": model})
    det = build_plate_detector(cfg, backend=plate_backends["rect"])
    assert det.letterbox.canvas_hw(720, 1280) == (rows, 640)
