"""A shipped detector keeps no checkpoint: its ONNX graph is rebuilt into an Ultralytics one to tune."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ultralytics")

from ovr_alpr.errors import ConfigError  # noqa: E402
from ovr_alpr.runtime.zoo import default_model_path  # noqa: E402
from ovr_alpr.synth.scenes import render_scene  # noqa: E402
from ovr_alpr.train.detector import checkpoint_from_onnx  # noqa: E402


def _frames(n: int) -> list[np.ndarray]:
    return [render_scene(np.random.default_rng([5, i])).image for i in range(n)]


def test_the_shipped_detector_is_rebuilt_into_a_checkpoint_that_finds_what_it_finds(tmp_path):
    import cv2
    import onnxruntime as ort

    from ovr_alpr.train.detector import _import_yolo

    onnx_path = default_model_path("plate_ovr")
    pt = checkpoint_from_onnx(onnx_path, tmp_path / "start.pt", _frames(8))
    YOLO = _import_yolo()
    model = YOLO(str(pt))
    assert model.names == {0: "plate"}
    # the checkpoint's network scores a new frame as the graph does (the graph computes in FP16)
    frame = _frames(9)[-1]
    x = cv2.resize(frame, (512, 512))[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    net = model.model.eval()
    with torch.no_grad():
        want = net(torch.from_numpy(x))[0].numpy()
    assert np.abs(got[:, 4] - want[:, 4]).max() < 0.02
    assert got[0, 4].max() > 0.5 and want[0, 4].max() > 0.5  # the rendered plate is found by both
    # its batch norms are live again (not the pass-through of a folded graph): they can be trained
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(float(m.running_var.min()) > 0 for m in bns)
    assert any(not torch.allclose(m.weight, torch.ones_like(m.weight)) for m in bns)


def test_a_graph_of_another_network_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="fit none of"):  # our plate reader is no YOLO
        checkpoint_from_onnx(default_model_path("reader"), tmp_path / "x.pt", _frames(2))
