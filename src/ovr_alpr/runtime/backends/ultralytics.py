"""Ultralytics backend: runs `.pt` YOLO models with torch (CPU, or CUDA with FP16).

Needs the `[torch]` extra. It feeds the same preprocessed NCHW batch as the ONNX backends and returns
the same raw head outputs as an Ultralytics ONNX export ([N, 4 + nc (+ nm), A], plus mask prototypes for
segmentation models), so the detectors decode every backend alike.

torchvision is never imported here: beside the CPU build of torch, PyPI's torchvision fails on import
("operator torchvision::nms does not exist"), and Ultralytics only needs its version string, not the module.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ...config import ModelConfig
from ...errors import ModelError, first_line
from ..zoo import config_section
from .base import BACKENDS, InferenceBackend

log = logging.getLogger(__name__)


def _import_ultralytics():
    # never let Ultralytics pip-install packages behind the user's back (it does for export requirements)
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    try:
        import torch
        from ultralytics import YOLO
    except Exception as exc:  # ImportError, or a broken install raising at import
        raise ModelError(
            f"the ultralytics backend needs torch and ultralytics ({type(exc).__name__}: "
            f"{first_line(exc, 120) if str(exc) else ''})",
            "pip install 'ovr-alpr[torch]'",
        ) from None
    return torch, YOLO


def load_yolo(path: Path, role: str):
    """An Ultralytics YOLO object for a file, a yaml, or a name Ultralytics can download (e.g. yolo11n.pt).

    Raises:
        ModelError: one line; offline, says where to put the file.
    """
    _, YOLO = _import_ultralytics()
    try:
        return YOLO(str(path))
    except Exception as exc:
        first = first_line(exc)
        if not path.is_file():
            raise ModelError(
                f"{role} model {path.name} is not on disk and Ultralytics could not download it ({first})",
                f"download {path.name} on a machine with internet and put it at "
                f"{Path.cwd() / path.name}, or set {config_section(role)}.model.path to its full path",
            ) from None
        raise ModelError(
            f"cannot load {role} model {path} with Ultralytics: {first}",
            "check that it is an Ultralytics YOLO checkpoint",
        ) from None


@BACKENDS.register("ultralytics")
class UltralyticsBackend(InferenceBackend):
    """Runs the torch module of an Ultralytics YOLO checkpoint.

    Args:
        cfg: `device` cpu or cuda:N; `precision` auto/fp16 = half on CUDA, fp32 on CPU (int8 is not
            supported here: export to ONNX and quantize instead); `input_size` (default: the checkpoint's).
        model_path: `.pt` file, a model yaml, or an Ultralytics model name.
    """

    name = "ultralytics"

    def __init__(self, cfg: ModelConfig, model_path: Path, role: str, cache_dir: Path | None = None) -> None:
        super().__init__(cfg, model_path, role, cache_dir)
        torch, _ = _import_ultralytics()
        self.torch = torch
        yolo = load_yolo(Path(model_path), role)
        module = yolo.model
        if not isinstance(module, torch.nn.Module):
            raise ModelError(f"{model_path} is not a torch YOLO model", "use a .pt checkpoint")
        cuda = cfg.device.startswith("cuda")
        if cuda and not torch.cuda.is_available():
            raise ModelError(
                f"device {cfg.device} asked for, but torch has no CUDA here",
                "set device: cpu, or install a CUDA build of torch",
            )
        self.device = torch.device(cfg.device if cuda else "cpu")
        precision = cfg.precision
        if precision == "auto":
            precision = "fp16" if cuda else "fp32"
        if precision == "int8":
            log.warning(
                "%s: the ultralytics backend has no INT8; running FP32/FP16. Export to ONNX "
                "(`ovr-alpr export`) and use onnxruntime/tensorrt for INT8",
                role,
            )
            precision = "fp16" if cuda else "fp32"
        if precision == "fp16" and not cuda:
            log.warning("%s: FP16 on CPU is slow in torch; running FP32", role)
            precision = "fp32"
        self.precision = precision
        module = module.fuse(verbose=False) if hasattr(module, "fuse") else module
        module = module.to(self.device).eval()
        if precision == "fp16":
            module = module.half()
        head = module.model[-1] if hasattr(module, "model") else None
        if head is not None and hasattr(head, "export"):
            head.export = True  # return the decoded head output exactly as an ONNX export does
            if hasattr(head, "format"):
                head.format = "onnx"
        self.module = module
        self.provider = f"torch-{'cuda' if cuda else 'cpu'}"
        size = cfg.input_size or _checkpoint_imgsz(yolo) or 640
        self.input_shape = (cfg.batch, 3, size, size)
        self.input_dtype = np.dtype(np.float32)
        names = getattr(yolo, "names", None) or getattr(module, "names", None)
        self.class_names = {int(k): str(v) for k, v in names.items()} if isinstance(names, dict) else None
        self.metadata = {"names": str(self.class_names)} if self.class_names else {}
        self.output_shapes = [tuple(o.shape) for o in self(np.zeros(self.input_shape, np.float32))]
        self.model_path = Path(getattr(yolo, "ckpt_path", None) or model_path)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            if self.precision == "fp16":
                x = x.half()
            out = self.module(x)
        return [t.float().cpu().numpy() for t in _flatten(out, torch)]

    def close(self) -> None:
        self.__dict__.pop("module", None)


def _flatten(out, torch) -> list:
    """Tensors of a head's output in order (tuple/list/dict nesting removed)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    tensors = []
    for item in out:
        tensors.extend(_flatten(item, torch))
    return tensors


def _checkpoint_imgsz(yolo) -> int | None:
    args = getattr(yolo, "overrides", None) or {}
    size = args.get("imgsz")
    if isinstance(size, (list, tuple)):
        size = size[0]
    return int(size) if isinstance(size, int) and size > 0 else None
