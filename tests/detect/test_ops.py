import numpy as np

from ovr_alpr.detect.ops import iou_matrix, nms
from ovr_alpr.imaging import Letterbox, to_nchw


def test_nms_keeps_best_of_overlapping_and_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.6, 0.9, 0.5], dtype=np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]


def test_nms_is_class_aware():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8], dtype=np.float32)
    assert nms(boxes, scores, 0.5, class_ids=np.array([0, 1])).tolist() == [0, 1]
    assert nms(boxes, scores, 0.5).tolist() == [0]


def test_iou_matrix_values():
    a = np.array([[0, 0, 10, 10]], dtype=np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=np.float32)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0], rtol=1e-6)


def test_letterbox_centres_and_scales():
    lb = Letterbox((640, 640))
    image = np.full((360, 1280, 3), 200, dtype=np.uint8)
    canvas, info = lb(image)
    assert canvas.shape == (640, 640, 3)
    assert info.ratio == 0.5 and info.pad_x == 0 and info.pad_y == 230
    assert canvas[0, 0, 0] == 114 and canvas[320, 320, 0] == 200


def test_to_nchw_scales_and_swaps_channels():
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    image[..., 0] = 255  # blue
    out = to_nchw(image, np.float16)
    assert out.shape == (1, 3, 2, 2) and out.dtype == np.float16
    assert out[0, 2].max() == 1.0 and out[0, 0].max() == 0.0  # blue moved to the last channel
