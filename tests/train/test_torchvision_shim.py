"""The torchvision shim: after it, `import torchvision` works and its NMS keeps what ours keeps."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.detect.ops import nms

torch = pytest.importorskip("torch")


def _random_boxes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 80, (n, 2))
    return np.hstack([xy, xy + wh]).astype(np.float32), rng.random(n).astype(np.float32)


def test_torchvision_imports_and_its_nms_matches_ours():
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (the [train] extra)")
    from ovr_alpr.train.torchvision_shim import ensure_torchvision

    torchvision = ensure_torchvision()
    import torchvision as imported  # the plain import works from now on

    assert imported is torchvision
    rng = np.random.default_rng(0)
    for n, iou in ((1, 0.5), (60, 0.5), (300, 0.45), (300, 0.7)):
        boxes, scores = _random_boxes(rng, n)
        ours = nms(boxes, scores, iou, max_det=10_000)
        theirs = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
        np.testing.assert_array_equal(theirs, ours)
    empty = torchvision.ops.nms(torch.zeros((0, 4)), torch.zeros(0), 0.5)
    assert empty.numel() == 0 and empty.dtype == torch.int64


def test_ensure_torchvision_twice_is_harmless():
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (the [train] extra)")
    from ovr_alpr.train.torchvision_shim import ensure_torchvision

    assert ensure_torchvision() is ensure_torchvision()
