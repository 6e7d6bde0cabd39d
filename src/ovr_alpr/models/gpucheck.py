"""One-command check of the GPU paths: `python -m ovr_alpr.models.gpucheck [--dataset DIR] [--out DIR]`.

Runs whatever this machine can: torch-CUDA (ONNX graphs executed by torch, FP32 and autocast FP16), the
Ultralytics `.pt` backend on CUDA, ONNX Runtime's CUDA/TensorRT providers and native TensorRT (FP16/INT8
engines). Each prints accuracy on the labelled set (when present) and latency; a path whose runtime is
missing is reported as skipped with the reason. Results also go to `<out>/gpucheck.json`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("gpucheck")


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
):
    from ..config import AppConfig

    data: dict[str, Any] = {"cache_dir": str(cache)}
    calib = {"calibration": str(calibration)} if calibration else {}
    data["plate_detector"] = {"model": {"device": device, **calib, **({"path": str(plate)} if plate else {})}}
    data["ocr"] = {"model": {"device": device, **calib, **({"path": str(ocr)} if ocr else {})}}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=None, help="openalpr-layout folder (default: search)")
    parser.add_argument("--calibration", type=Path, default=None, help="INT8 images (default: <dataset>/eu)")
    parser.add_argument(
        "--vehicle", type=Path, default=None, help="YOLOX/YOLO ONNX vehicle model (default: search)"
    )
    parser.add_argument("--plate-model", type=Path, default=None, help="plate ONNX (default: embedded)")
    parser.add_argument("--ocr-model", type=Path, default=None, help="OCR ONNX (default: embedded)")
    parser.add_argument("--limit", type=int, default=0, help="images per accuracy run (0 = all)")
    parser.add_argument("--out", type=Path, default=None, help="folder for gpucheck.json")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: a temporary one)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per latency measurement")
    parser.add_argument(
        "--device", default="cuda:0", help="cuda:N, or cpu for a dry run of the script itself"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    env = environment()
    print("environment:", json.dumps(env, indent=1), flush=True)
    here = Path.cwd()
    dataset = args.dataset or _first_existing(here, "shared/data/openalpr")
    vehicle = args.vehicle or _first_existing(here, "shared/models/yolox_nano.onnx")
    calibration = args.calibration or (dataset / "eu" if dataset and (dataset / "eu").is_dir() else dataset)
    print(f"dataset: {dataset}  vehicle model: {vehicle}  calibration: {calibration}", flush=True)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="ovr-alpr-gpucheck-"))
    app = _app(cache, vehicle, calibration, args.plate_model, args.ocr_model, args.device)
    results: dict[str, Any] = {"environment": env}
    # with --device cpu the torch paths run on CPU (a dry run of this script on a machine without a GPU)
    cuda = bool(env.get("cuda")) or args.device == "cpu"

    def validate_with(backend: str, role: str, precisions: list[str]) -> dict[str, Any]:
        from .validate import validate

        if dataset is None:
            raise _Skip("no labelled dataset found (give --dataset)")
        report = validate(app, role, precisions, dataset, limit=args.limit, progress=False, backend=backend)
        return {p: {k: v for k, v in r.items() if k not in ("file",)} for p, r in report["results"].items()}

    def speed_with(backend_name: str, role: str, precision: str) -> dict[str, Any]:
        from ..backends.base import load_backend
        from .inventory import role_default_path, role_model_config

        cfg = role_model_config(app, role)
        if cfg is None:
            raise _Skip(f"no {role} model found")
        cfg = cfg.model_copy(update={"backend": backend_name, "precision": precision})
        backend = load_backend(cfg, role, role_default_path(role, cfg, app), cache_dir=cache)
        try:
            return {
                "provider": backend.provider,
                "precision": backend.precision,
                **latency_ms(backend, args.runs),
            }
        finally:
            backend.close()

    # torch-CUDA: FP32 and autocast FP16 accuracy of the ONNX models, no TensorRT/onnxruntime-gpu needed
    for role in ("plate", "ocr", "vehicle"):

        def torch_acc(role=role):
            if not cuda:
                raise _Skip("torch has no CUDA here")
            if role == "vehicle" and vehicle is None:
                raise _Skip("no vehicle model (give --vehicle)")
            return validate_with("torch", role, ["fp32", "fp16"])

        run_path(f"torch-cuda accuracy {role} fp32/fp16", torch_acc, results)
    for precision in ("fp32", "fp16"):

        def torch_speed(precision=precision):
            if not cuda:
                raise _Skip("torch has no CUDA here")
            return speed_with("torch", "plate", precision)

        run_path(f"torch-cuda latency plate {precision}", torch_speed, results)

    def ultralytics_cuda():
        if not cuda:
            raise _Skip("torch has no CUDA here")
        try:
            import ultralytics
        except Exception as exc:
            raise _Skip(f"ultralytics not importable ({type(exc).__name__})") from None
        from ..backends.base import load_backend
        from ..config import ModelConfig

        pt = cache / "yolov8n-untrained.pt"
        ultralytics.YOLO("yolov8n.yaml", task="detect").save(str(pt))
        out = {}
        for precision in ("fp32", "fp16"):
            backend = load_backend(
                ModelConfig(path=str(pt), device=args.device, precision=precision), "vehicle", cache_dir=cache
            )
            out[precision] = {"provider": backend.provider, **latency_ms(backend, args.runs)}
            backend.close()
        return out

    run_path("ultralytics .pt on cuda (untrained yolov8n, latency)", ultralytics_cuda, results)

    def ort_gpu():
        providers = env.get("ort_providers", [])
        if "CUDAExecutionProvider" not in providers:
            raise _Skip(f"onnxruntime has no CUDA provider (has {providers}); install onnxruntime-gpu")
        return validate_with("onnxruntime", "plate", ["fp32", "fp16", "int8"])

    run_path("onnxruntime-gpu accuracy plate fp32/fp16/int8", ort_gpu, results)

    def trt_native():
        if not env["tensorrt"][0].isdigit():
            raise _Skip(f"tensorrt python package {env['tensorrt']}")
        acc = validate_with("tensorrt", "plate", ["fp32", "fp16", "int8"])
        speed = {p: speed_with("tensorrt", "plate", p) for p in ("fp16", "int8")}
        return {"accuracy": acc, "latency": speed}

    run_path("tensorrt native plate fp32/fp16/int8", trt_native, results)

    summary = {
        k: ("skipped" if "skipped" in v else "error" if "error" in v else "ok")
        for k, v in results.items()
        if k != "environment"
    }
    print("summary:", json.dumps(summary, indent=1), flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpucheck.json").write_text(json.dumps(results, indent=1, default=str))
        print(f"wrote {args.out / 'gpucheck.json'}")
    return 1 if any(v == "error" for v in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
