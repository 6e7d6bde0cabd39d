"""One-command check of the GPU paths: `ovr-alpr gpucheck [--dataset DIR] [--out DIR]`.

Runs whatever this machine can: torch-CUDA (ONNX graphs executed by torch, FP32 and autocast FP16), the
Ultralytics `.pt` backend on CUDA, ONNX Runtime's CUDA/TensorRT providers and native TensorRT (FP16/INT8
engines). Each prints accuracy on the labelled set (when present) and latency; a path whose runtime is
missing is reported as skipped with the reason. Results also go to `<out>/gpucheck.json`. The exit code
is 1 when any path failed, else 0.
"""

from __future__ import annotations

import importlib
import json
import logging
import platform
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..pipeline.config import AppConfig

log = logging.getLogger("gpucheck")


@dataclass
class GpucheckOptions:
    """What `ovr-alpr gpucheck` was asked for; None means search (models, data) or a temporary folder.

    Attributes:
        dataset: openalpr-layout folder of labelled images.
        calibration: INT8 calibration images (default: `<dataset>/eu`).
        vehicle: YOLOX/YOLO ONNX vehicle model.
        plate_model: plate ONNX (default: embedded).
        ocr_model: OCR ONNX (default: embedded).
        ocr_type: reader type of `ocr_model` (`ovr`, `ppocr`, `fast_plate_ocr`; default: the config's).
        limit: images per accuracy run (0 = all).
        out: folder for gpucheck.json.
        cache: cache folder.
        runs: timed runs per latency measurement.
        device: `cuda:N`, or `cpu` for a dry run of the check itself.
    """

    dataset: Path | None = None
    calibration: Path | None = None
    vehicle: Path | None = None
    plate_model: Path | None = None
    ocr_model: Path | None = None
    ocr_type: str | None = None
    limit: int = 0
    out: Path | None = None
    cache: Path | None = None
    runs: int = 50
    device: str = "cuda:0"


def _version(module: str) -> str:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # missing, or broken at import (e.g. torchvision beside a CPU torch)
        return f"absent ({type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''})"
    return str(getattr(mod, "__version__", "present"))


def _first_existing(here: Path, rel: str) -> Path | None:
    """`rel` under ../, ./ or /work (where the third-party data sits beside a checkout), if present."""
    for base in (here.parent, here, Path("/work")):
        if (base / rel).exists():
            return base / rel
    return None


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version()}
    for module in ("numpy", "onnx", "onnxruntime", "torch", "tensorrt", "ultralytics", "cv2", "pydantic"):
        env[module] = _version(module)
    try:
        import torch

        env["cuda"] = torch.cuda.is_available()
        if env["cuda"]:
            props = torch.cuda.get_device_properties(0)
            env["gpu"] = f"{props.name} (sm{props.major}{props.minor}, {props.total_memory / 2**30:.0f} GiB)"
            env["torch_cuda"] = torch.version.cuda
    except ImportError:
        env["cuda"] = False
    try:
        import onnxruntime as ort

        env["ort_providers"] = ort.get_available_providers()
    except ImportError:
        env["ort_providers"] = []
    return env


def latency_ms(backend: Any, runs: int = 50) -> dict[str, float]:
    """Median / p90 ms of the model call on zeros, after the backend's warm-up."""
    x = np.zeros(backend.warmup_shape(), dtype=backend.input_dtype)
    for _ in range(min(5, runs)):
        backend(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        backend(x)
        times.append((time.perf_counter() - t0) * 1000.0)
    return {
        "median_ms": round(float(np.median(times)), 3),
        "p90_ms": round(float(np.percentile(times, 90)), 3),
    }


def _app(
    cache: Path,
    vehicle: Path | None,
    calibration: Path | None,
    plate: Path | None,
    ocr: Path | None,
    device: str = "cuda:0",
    ocr_type: str | None = None,
) -> AppConfig:
    from ..pipeline.config import AppConfig

    data: dict[str, Any] = {"cache_dir": str(cache)}
    calib = {"calibration": str(calibration)} if calibration else {}
    data["plate_detector"] = {"model": {"device": device, **calib, **({"path": str(plate)} if plate else {})}}
    data["ocr"] = {"model": {"device": device, **calib, **({"path": str(ocr)} if ocr else {})}}
    if ocr_type:
        data["ocr"]["type"] = ocr_type
    if vehicle is not None:
        data["vehicle_detector"] = {"model": {"path": str(vehicle), "device": device, **calib}}
    return AppConfig.model_validate(data)


def run_path(name: str, fn, results: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    try:
        results[name] = fn()
        results[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        print(f"[ok]   {name}: {json.dumps(results[name])}", flush=True)
    except _Skip as exc:
        results[name] = {"skipped": str(exc)}
        print(f"[skip] {name}: {exc}", flush=True)
    except Exception as exc:
        results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(f"[FAIL] {name}: {type(exc).__name__}: {exc}", flush=True)
        traceback.print_exc(limit=4)


class _Skip(Exception):
    pass


@dataclass
class _Check:
    """What every path of the check shares: the options, the machine, the models and data found."""

    options: GpucheckOptions
    env: dict[str, Any]
    dataset: Path | None
    vehicle: Path | None
    cache: Path
    app: AppConfig

    @property
    def cuda(self) -> bool:
        """Torch can run the paths; with --device cpu they run on CPU (a dry run without a GPU)."""
        return bool(self.env.get("cuda")) or self.options.device == "cpu"


def _prepare(options: GpucheckOptions, env: dict[str, Any]) -> _Check:
    """Find the data and models not given (beside the checkout or under /work) and build the config."""
    here = Path.cwd()
    dataset = options.dataset or _first_existing(here, "shared/data/openalpr")
    vehicle = options.vehicle or _first_existing(here, "shared/models/yolox_nano.onnx")
    calibration = options.calibration or (
        dataset / "eu" if dataset and (dataset / "eu").is_dir() else dataset
    )
    print(f"dataset: {dataset}  vehicle model: {vehicle}  calibration: {calibration}", flush=True)
    cache = options.cache or Path(tempfile.mkdtemp(prefix="ovr-alpr-gpucheck-"))
    cache.mkdir(parents=True, exist_ok=True)  # the .pt path saves into it before anything else may have
    app = _app(
        cache, vehicle, calibration, options.plate_model, options.ocr_model, options.device, options.ocr_type
    )
    return _Check(options, env, dataset, vehicle, cache, app)


def _validate_with(check: _Check, backend: str, role: str, precisions: list[str]) -> dict[str, Any]:
    """Accuracy of `role`'s model on the labelled set at each precision, run by `backend`."""
    from .validate import validate

    if check.dataset is None:
        raise _Skip("no labelled dataset found (give --dataset)")
    report = validate(
        check.app, role, precisions, check.dataset, limit=check.options.limit, progress=False, backend=backend
    )
    return {p: {k: v for k, v in r.items() if k not in ("file",)} for p, r in report["results"].items()}


def _speed_with(check: _Check, backend_name: str, role: str, precision: str) -> dict[str, Any]:
    """Latency of `role`'s model run by `backend_name` at `precision`."""
    from ..runtime.backends.base import load_backend
    from .inventory import role_default_path, role_model_config

    cfg = role_model_config(check.app, role)
    if cfg is None:
        raise _Skip(f"no {role} model found")
    cfg = cfg.model_copy(update={"backend": backend_name, "precision": precision})
    backend = load_backend(cfg, role, role_default_path(role, cfg, check.app), cache_dir=check.cache)
    try:
        return {
            "provider": backend.provider,
            "precision": backend.precision,
            **latency_ms(backend, check.options.runs),
        }
    finally:
        backend.close()


def _torch_accuracy(check: _Check, role: str) -> dict[str, Any]:
    """torch-CUDA: FP32 and autocast FP16 accuracy of an ONNX model, no TensorRT/onnxruntime-gpu needed."""
    if not check.cuda:
        raise _Skip("torch has no CUDA here")
    if role == "vehicle" and check.vehicle is None:
        raise _Skip("no vehicle model (give --vehicle)")
    return _validate_with(check, "torch", role, ["fp32", "fp16"])


def _torch_latency(check: _Check, precision: str) -> dict[str, Any]:
    """torch-CUDA latency of the plate model."""
    if not check.cuda:
        raise _Skip("torch has no CUDA here")
    return _speed_with(check, "torch", "plate", precision)


def _ultralytics_latency(check: _Check) -> dict[str, Any]:
    """Latency of an untrained yolov8n `.pt` on the Ultralytics backend (no weights to download)."""
    if not check.cuda:
        raise _Skip("torch has no CUDA here")
    try:
        import ultralytics
    except Exception as exc:
        raise _Skip(f"ultralytics not importable ({type(exc).__name__})") from None
    from ..config import ModelConfig
    from ..runtime.backends.base import load_backend

    pt = check.cache / "yolov8n-untrained.pt"
    ultralytics.YOLO("yolov8n.yaml", task="detect").save(str(pt))
    out = {}
    for precision in ("fp32", "fp16"):
        cfg = ModelConfig(path=str(pt), device=check.options.device, precision=precision)
        backend = load_backend(cfg, "vehicle", cache_dir=check.cache)
        out[precision] = {"provider": backend.provider, **latency_ms(backend, check.options.runs)}
        backend.close()
    return out


def _ort_gpu_accuracy(check: _Check) -> dict[str, Any]:
    """Plate accuracy on ONNX Runtime's GPU providers."""
    providers = check.env.get("ort_providers", [])
    if "CUDAExecutionProvider" not in providers:
        raise _Skip(f"onnxruntime has no CUDA provider (has {providers}); install onnxruntime-gpu")
    return _validate_with(check, "onnxruntime", "plate", ["fp32", "fp16", "int8"])


def _tensorrt_native(check: _Check) -> dict[str, Any]:
    """Plate accuracy and latency on native TensorRT engines."""
    if not check.env["tensorrt"][0].isdigit():
        raise _Skip(f"tensorrt python package {check.env['tensorrt']}")
    acc = _validate_with(check, "tensorrt", "plate", ["fp32", "fp16", "int8"])
    speed = {p: _speed_with(check, "tensorrt", "plate", p) for p in ("fp16", "int8")}
    return {"accuracy": acc, "latency": speed}


def _paths(check: _Check) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """Every path the check runs, in order, by the name it is reported under."""
    paths: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (f"torch-cuda accuracy {role} fp32/fp16", lambda role=role: _torch_accuracy(check, role))
        for role in ("plate", "ocr", "vehicle")
    ]
    paths += [
        (f"torch-cuda latency plate {p}", lambda p=p: _torch_latency(check, p)) for p in ("fp32", "fp16")
    ]
    paths += [
        ("ultralytics .pt on cuda (untrained yolov8n, latency)", lambda: _ultralytics_latency(check)),
        ("onnxruntime-gpu accuracy plate fp32/fp16/int8", lambda: _ort_gpu_accuracy(check)),
        ("tensorrt native plate fp32/fp16/int8", lambda: _tensorrt_native(check)),
    ]
    return paths


def _summarise(results: dict[str, Any], out: Path | None) -> int:
    """Print ok/skipped/error per path, write gpucheck.json if asked; 1 if any path failed."""
    summary = {
        k: ("skipped" if "skipped" in v else "error" if "error" in v else "ok")
        for k, v in results.items()
        if k != "environment"
    }
    print("summary:", json.dumps(summary, indent=1), flush=True)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpucheck.json").write_text(json.dumps(results, indent=1, default=str))
        print(f"wrote {out / 'gpucheck.json'}")
    return 1 if any(v == "error" for v in summary.values()) else 0


def run_gpucheck(options: GpucheckOptions) -> int:
    """Run every GPU path this machine can, print each result and a summary; 1 if any path failed, else 0."""
    env = environment()
    print("environment:", json.dumps(env, indent=1), flush=True)
    check = _prepare(options, env)
    results: dict[str, Any] = {"environment": env}
    for name, fn in _paths(check):
        run_path(name, fn, results)
    return _summarise(results, options.out)
