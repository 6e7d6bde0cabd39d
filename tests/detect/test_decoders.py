import numpy as np

from ovr_alpr.detect.yolo import YoloDetector
from ovr_alpr.detect.yolox import YoloxDetector


def _yolo_output(rows):
    """[1, 4 + 1 + 32, N] like the embedded seg plate model."""
    out = np.zeros((1, 37, 8400), dtype=np.float16)
    for i, (cx, cy, w, h, score) in enumerate(rows):
        out[0, :5, i] = (cx, cy, w, h, score)
    return [out, np.zeros((1, 32, 160, 160), np.float16)]


def test_yolo_decode_maps_boxes_back_to_the_frame(fake_backend):
    # frame 1280x640 -> ratio 0.5, pad_y 160: a plate at frame (400..600, 300..340)
    cx, cy, w, h = 250, 160 + 160, 100, 20
    backend = fake_backend(
        _yolo_output([(cx, cy, w, h, 0.9), (cx + 2, cy, w, h, 0.8), (50, 200, 10, 10, 0.1)]),
        input_dtype=np.float16,
        class_names={0: "plate"},
    )
    det = YoloDetector(backend, conf_threshold=0.3, iou_threshold=0.5)
    d = det(np.zeros((640, 1280, 3), np.uint8))
    assert len(d) == 1
    np.testing.assert_allclose(d.xyxy[0], [400, 300, 600, 340], atol=0.5)
    assert abs(d.confidence[0] - 0.9) < 1e-3
    assert backend.calls[0].dtype == np.float16 and backend.calls[0].shape == (1, 3, 640, 640)


def test_yolo_decode_empty(fake_backend):
    det = YoloDetector(fake_backend(_yolo_output([]), class_names={0: "plate"}))
    assert len(det(np.zeros((100, 100, 3), np.uint8))) == 0


def test_yolox_decode_grid_and_classes(fake_backend):
    rows = 52 * 52 + 26 * 26 + 13 * 13
    out = np.zeros((1, rows, 85), dtype=np.float32)
    # stride-8 cell (x=10, y=20): centre = (10.5, 20.5) * 8 = (84, 164); size exp(ln 4) * 8 = 32
    cell = 20 * 52 + 10
    out[0, cell, :5] = (0.5, 0.5, np.log(4), np.log(4), 0.9)
    out[0, cell, 5 + 2] = 0.8  # car
    person = cell + 1
    out[0, person, :5] = (0.5, 0.5, 0.0, 0.0, 0.9)
    out[0, person, 5 + 0] = 0.99  # person: not a vehicle class, dropped
    det = YoloxDetector(fake_backend([out], input_shape=(1, 3, 416, 416)), conf_threshold=0.3)
    d = det(np.zeros((208, 416, 3), np.uint8))  # ratio 1.0 (height 208 fits)
    assert len(d) == 1 and d.class_id[0] == 2
    np.testing.assert_allclose(d.xyxy[0], [84 - 16, 164 - 16, 84 + 16, 164 + 16], atol=1e-3)
    np.testing.assert_allclose(d.confidence[0], 0.72, atol=1e-4)
