"""Makes `import torchvision` work beside the CPU build of torch, for Ultralytics training and validation.

PyPI's torchvision 0.28.0 is a CUDA build: its C++ ops library cannot load beside `torch==2.13.0+cpu`
(libc10_cuda.so is missing), and the import then fails in `torchvision/_meta_registrations.py` with
"operator torchvision::nms does not exist". Ultralytics' validator imports torchvision, so training fails too.

`ensure_torchvision()` defines the two operators that import needs (`torchvision::nms`, `torchvision::qnms`)
with a pure-PyTorch greedy NMS kernel, imports torchvision, and makes `torchvision.extension._has_ops()`
answer True so `torchvision.ops.nms` runs that kernel. Nothing else of torchvision's C++ side is provided
(roi_align, deform_conv, image decoding): YOLO detection training does not use it. When torchvision imports
fine on its own, nothing is changed.
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType

log = logging.getLogger(__name__)

_NMS_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
_library = None  # the torch.library.Library holding our definitions; kept alive for the process


def greedy_nms(dets, scores, iou_threshold: float):
    """Indices of the boxes kept by greedy NMS, highest score first: torchvision's exact rule.

    A box is dropped when its IoU with an already kept, higher-scored box is strictly greater than
    `iou_threshold`. `dets` is (N, 4) xyxy, `scores` (N,); returns int64 (K,).
    """
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=dets.device)
    boxes = dets.to(torch.float32)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = torch.argsort(scores, descending=True, stable=True)
    keep = []
    while order.numel():
        i = order[0]
        keep.append(i)
        rest = order[1:]
        if not rest.numel():
            break
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return torch.stack(keep).to(torch.int64)


def _define_ops() -> None:
    """Define `torchvision::nms`/`qnms` (only those not already defined) with the pure-PyTorch kernel."""
    global _library
    import torch

    if _library is not None:
        return
    library = torch.library.Library("torchvision", "FRAGMENT")
    for name in ("nms", "qnms"):
        if _op_exists(name):
            continue
        library.define(name + _NMS_SCHEMA)
        # CompositeExplicitAutograd: one kernel for every device (the math is plain tensor ops)
        library.impl(name, greedy_nms, "CompositeExplicitAutograd")
    _library = library


def _op_exists(name: str) -> bool:
    import torch

    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def _forget_torchvision() -> None:
    """Drop a half-imported torchvision from `sys.modules` so the next import starts clean."""
    for module in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[module]


def ensure_torchvision() -> ModuleType:
    """`torchvision`, imported; with the pure-PyTorch NMS operators when its C++ ops cannot load.

    Raises:
        ImportError: torch or torchvision is not installed, or torchvision fails for another reason.
    """
    import torch  # noqa: F401  (fails first, with the clearer message, when torch is absent)

    if "torchvision" in sys.modules and _library is None:
        return sys.modules["torchvision"]
    try:
        import torchvision
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise ImportError(f"torchvision fails on import: {exc}") from exc
        _forget_torchvision()
        log.info("torchvision's C++ ops do not load beside this torch; using pure-PyTorch NMS operators")
        _define_ops()
        try:
            import torchvision
        except RuntimeError as again:
            raise ImportError(f"torchvision fails on import even with the NMS shim: {again}") from again
    if _library is not None:
        torchvision.extension._has_ops = lambda: True
    return torchvision
