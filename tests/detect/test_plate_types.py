"""`plate_detector.type` picks the embedded plate detector (and its input size); a model path overrides it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from ovr_alpr.config import PlateDetectorConfig
from ovr_alpr.detect.ops import iou_matrix
from ovr_alpr.detect.plates import build_plate_detector, plate_default_path, plate_input_size
from ovr_alpr.runtime.zoo import default_model_path
from ovr_alpr.synth.scenes import render_scene
from ovr_alpr.tools.calibrate import is_embedded_plate_model, with_synthetic_calibration


def test_the_default_is_our_own_detector_at_512():
    cfg = PlateDetectorConfig()
    assert cfg.type == "ovr"
    path = plate_default_path(cfg)
    assert path == default_model_path("plate_ovr") and path.name == "plate_detector.onnx"
    assert plate_input_size(cfg) == 512
    assert path.stat().st_size <= 12e6  # issue 9: at most 12 MB
    model = onnx.load(str(path), load_external_data=False)
    assert model.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 3


def test_one_word_brings_back_platedet_at_640():
    cfg = PlateDetectorConfig.model_validate({"type": "platedet"})
    assert plate_default_path(cfg) == default_model_path("plate")
    assert plate_input_size(cfg) == 640


def test_one_word_brings_the_detector_trained_on_the_cpu_alone_at_640_in_int8():
    cfg = PlateDetectorConfig.model_validate({"type": "ovr_cpu"})
    path = plate_default_path(cfg)
    assert path == default_model_path("plate_ovr_cpu") and path.name == "plate_detector_cpu.onnx"
    assert path.stat().st_size <= 12e6
    assert plate_input_size(cfg) == 640
    assert cfg.model.precision == "int8"  # on the CPU: its speed bar is met in INT8 (its card)
    # INT8 of an embedded plate model is calibrated on the rendered scenes, with no folder to give
    assert is_embedded_plate_model(cfg.model)


def test_the_cpu_detectors_int8_is_a_cpu_default_only():
    def precision(model: dict) -> str:
        return PlateDetectorConfig.model_validate({"type": "ovr_cpu", "model": model}).model.precision

    assert precision({"precision": "fp32"}) == "fp32"  # asked for: kept
    assert precision({"device": "cuda:0"}) == "auto"  # fp16 on a GPU
    assert precision({"path": "own.onnx"}) == "auto"  # a model of one's own is not calibrated for
    assert PlateDetectorConfig.model_validate({"type": "ovr"}).model.precision == "auto"


def test_a_model_of_ones_own_runs_at_640_unless_told(tmp_path):
    own = PlateDetectorConfig.model_validate({"model": {"path": str(tmp_path / "m.onnx")}})
    assert plate_default_path(own) is None and plate_input_size(own) == 640
    sized = PlateDetectorConfig.model_validate({"model": {"path": "m.onnx", "input_size": 416}})
    assert plate_input_size(sized) == 416
    assert plate_input_size(PlateDetectorConfig.model_validate({"model": {"input_size": 320}})) == 320


def test_an_unknown_type_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"ovr.*ovr_cpu.*platedet"):
        PlateDetectorConfig.model_validate({"type": "yolo"})


def test_the_inventory_reports_the_size_the_type_runs_at():
    from ovr_alpr.pipeline.config import AppConfig
    from ovr_alpr.tools.inventory import role_default_path, role_model_config

    app = AppConfig()
    assert role_model_config(app, "plate").input_size == 512
    assert role_default_path("plate", None, app) == default_model_path("plate_ovr")
    app = AppConfig.model_validate({"plate_detector": {"type": "platedet"}})
    assert role_model_config(app, "plate").input_size == 640
    assert role_default_path("plate", None, app) == default_model_path("plate")


def test_the_bench_platedet_run_is_platedet_whatever_the_config():
    from ovr_alpr.bench.runs import NAMED_RUNS

    assert NAMED_RUNS["platedet"].overrides["plate_detector.type"] == "platedet"


#: our embedded detectors -> the canvas a 720p frame is letterboxed to, and the precision run on the CPU
OWN = {"ovr": ((288, 512), "fp32"), "ovr_cpu": ((352, 640), "int8")}


@pytest.fixture(scope="module", params=sorted(OWN))
def own_detector(request):
    """Each of our embedded detectors as the CLI loads it (INT8 calibrated on the rendered scenes)."""
    cfg = PlateDetectorConfig.model_validate({"type": request.param})
    cfg = cfg.model_copy(update={"model": with_synthetic_calibration(cfg.model, "plate")})
    detector = build_plate_detector(cfg)
    canvas, precision = OWN[request.param]
    assert detector.letterbox.canvas_hw(720, 1280) == canvas
    assert detector.backend.precision == precision
    return detector


def test_our_detectors_box_rendered_plates_tight(own_detector):
    """Rendered street scenes: the plates are found, with boxes on the plate's own edges (IoU >= 0.5)."""
    from rendered_plates import share_found

    share, plates = share_found(own_detector, seed=11, scenes=4)
    assert plates and share >= 0.8


def test_our_detectors_box_close_ups_whole(own_detector):
    """The failure platedet shows: a plate filling half the frame gets a box over all of it (IoU >= 0.7)."""
    from ovr_alpr.tools.closeups import CHECK_SEED

    whole = seen = 0
    index = 0
    while seen < 6:
        scene = render_scene(np.random.default_rng([CHECK_SEED, index]), kind="closeup")
        index += 1
        truth = scene.plate_boxes_xyxy
        if len(truth) != 1 or truth[0, 2] - truth[0, 0] < 0.5 * scene.image.shape[1]:
            continue
        seen += 1
        found = own_detector(scene.image)
        whole += bool(len(found) and iou_matrix(truth, found.xyxy).max() >= 0.7)
    assert whole >= 5
