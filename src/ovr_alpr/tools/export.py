"""Model export: `.pt` -> ONNX (Ultralytics), ONNX -> FP32/FP16/INT8 ONNX, ONNX -> TensorRT engine."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ..config import ModelConfig
from ..errors import ModelError, first_line
from ..runtime.quantize import options_for
from ..runtime.resolve import DerivedSpec, derive_onnx, file_sha256

log = logging.getLogger(__name__)

TARGETS = ("onnx", "fp32", "fp16", "int8", "engine")


def export_pt_to_onnx(source: Path, output: Path, imgsz: int = 640, opset: int = 17, batch: int = 1) -> Path:
    """Export an Ultralytics `.pt` (or a name it can download) to ONNX with Ultralytics' exporter.

    Raises:
        ModelError: torch/ultralytics are missing or the export fails.
    """
    from ..runtime.backends.ultralytics import load_yolo

    yolo = load_yolo(source, "export")
    try:
        produced = yolo.export(
            format="onnx",
            imgsz=imgsz,
            opset=opset,
            simplify=False,
            dynamic=False,
            half=False,
            batch=batch,
            verbose=False,
        )
    except Exception as exc:
        first = first_line(exc)
        raise ModelError(
            f"Ultralytics ONNX export of {source.name} failed: {first}", "try --debug for the traceback"
        ) from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    if Path(produced).resolve() != output.resolve():
        shutil.move(str(produced), output)
    return output


def export_onnx(
    source: Path,
    output: Path,
    precision: str,
    role: str,
    calibration: str | None = None,
    box_only: bool = False,
    for_tensorrt: bool = False,
) -> Path:
    """Write an ONNX model converted to `precision` (INT8 from `calibration` images) to `output`."""
    quant = options_for(role, symmetric_activations=for_tensorrt)
    spec = DerivedSpec(precision, box_only=box_only, calibration=calibration, quant=quant, role=role)
    return derive_onnx(source, spec, output=output)


def export_engine(
    source: Path,
    output: Path,
    precision: str,
    role: str,
    cfg: ModelConfig,
    calibration: str | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Build a TensorRT engine from an ONNX model (the graph is first converted to `precision`).

    Raises:
        ModelError: TensorRT is not installed, there is no GPU, or the build fails.
    """
    try:
        from ..runtime.backends.tensorrt import _device_api, build_engine
        from ..runtime.engine_cache import engine_cache_key
    except ImportError as exc:
        raise ModelError(
            f"TensorRT is not available here ({exc})",
            "pip install 'ovr-alpr[tensorrt]' on a machine with an NVIDIA GPU",
        ) from None
    import tensorrt as trt

    if not cfg.device.startswith("cuda"):
        cfg = cfg.model_copy(update={"device": "cuda:0"})
    api = _device_api(int(cfg.device.split(":")[1]))
    quant = options_for(role, symmetric_activations=True) if precision == "int8" else None
    graph = derive_onnx(
        source, DerivedSpec(precision, calibration=calibration, quant=quant, role=role), cache_dir
    )
    gpu, cc = api.gpu_name()
    key = engine_cache_key(gpu, cc, trt.__version__, precision, None, cfg.batch, file_sha256(graph))
    build_engine(graph, output, precision, cfg, role)
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(graph), load_external_data=False).metadata_props}
    output.with_suffix(output.suffix + ".json").write_text(
        json.dumps({"precision": precision, "source": str(source), "key": key, "metadata": meta}, indent=1)
    )
    return output


def default_output(source: Path, target: str, precision: str, out_dir: Path) -> Path:
    if target == "onnx":
        return out_dir / f"{source.stem}.onnx"
    if target == "engine":
        return out_dir / f"{source.stem}-{precision}.engine"
    return out_dir / f"{source.stem}-{target}.onnx"
