"""What models a configuration would load, and how: the data behind `ovr-alpr models`.

By default nothing is loaded or converted: the plan is worked out from the config, the files' headers and
the installed runtimes. With `load=True` each model is loaded for real and the table shows what ran.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import ModelConfig
from ..errors import ModelError
from ..pipeline.config import AppConfig
from ..runtime.calibration import image_hw
from ..runtime.zoo import EMBEDDED, default_model_path

log = logging.getLogger(__name__)

ROLES = ("plate", "vehicle", "ocr")
COLUMNS = (
    "role",
    "file",
    "format",
    "backend",
    "provider",
    "precision",
    "input_size",
    "batch",
    "size_mb",
    "sha256",
    "engine_cache",
)


def role_model_config(app: AppConfig, role: str) -> ModelConfig | None:
    """The ModelConfig of `role`, or None when the config has no such model (no vehicle detector). The plate
    model's `input_size` is filled in with the one the configured detector type runs at."""
    if role == "plate":
        from ..detect.plates import plate_input_size

        size = plate_input_size(app.plate_detector)
        return app.plate_detector.model.model_copy(update={"input_size": size})
    if role == "ocr":
        return app.ocr.model
    if role == "vehicle":
        return app.vehicle_detector.model if app.vehicle_detector else None
    raise ModelError(f"unknown model role {role!r}", f"use one of: {', '.join(ROLES)}")


def role_default_path(role: str, cfg: ModelConfig | None = None, app: AppConfig | None = None) -> Path | None:
    """The embedded model of `role`; None when `cfg` names its own file (the embedded one is not needed).
    With `app`, the `ocr` and `plate` roles' are the embedded models of the configured types (`ocr.type`,
    `plate_detector.type`)."""
    if cfg is not None and cfg.path:
        return None
    if role == "ocr" and app is not None:
        from ..ocr import reader_default_path

        return reader_default_path(app.ocr)
    if role == "plate" and app is not None:
        from ..detect.plates import plate_default_path

        return plate_default_path(app.plate_detector)
    return default_model_path(role) if role in EMBEDDED else None


def configured_roles(app: AppConfig) -> list[str]:
    return [r for r in ROLES if role_model_config(app, r) is not None]


def _load_onnx(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False)


def _onnx_header(path: Path, model=None) -> tuple[tuple[int, ...], str]:
    """Input shape (dynamic dims -1) and precision of an ONNX model (`model`: already loaded from `path`)."""
    from ..runtime.convert import detect_onnx_precision

    model = model if model is not None else _load_onnx(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_value if d.dim_value > 0 else -1 for d in dims), detect_onnx_precision(model)


def plan_model(app: AppConfig, role: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """One table row for `role` without loading the model: what `load_backend` would pick."""
    from ..runtime.backends.base import backend_candidates, resolve_model_path
    from ..runtime.resolve import file_sha256

    cfg = role_model_config(app, role)
    if cfg is None:
        raise ModelError(f"the config has no {role} model", "add it to the config")
    cache = Path(cache_dir) if cache_dir else app.cache_path
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "-")
    row["role"] = role
    try:
        path = resolve_model_path(cfg, role, role_default_path(role, cfg, app))
    except ModelError as exc:
        row.update(file=cfg.path or "-", engine_cache=f"error: {exc.message}")
        return row
    row["file"] = str(path)
    row["format"] = path.suffix.lstrip(".") or "?"
    backend = backend_candidates(cfg, path)[0]
    row["backend"] = backend
    row["batch"] = cfg.batch
    if path.is_file():
        row["size_mb"] = round(path.stat().st_size / 1e6, 1)
        row["sha256"] = file_sha256(path)[:12]
    else:
        row["size_mb"] = "-"
        row["sha256"] = "(download)"
    if backend == "onnxruntime" and path.is_file():
        _plan_onnxruntime(row, cfg, role, path, cache)
    elif backend == "tensorrt":
        row["provider"] = "TensorRT"
        row["precision"] = "fp16" if cfg.precision == "auto" else cfg.precision
        shape, _ = _onnx_header(path) if path.suffix.lower() == ".onnx" else ((), "")
        row["input_size"] = _size(shape, cfg)
        row["engine_cache"] = _engine_dir_status(cache / "engines", f"{role}-{path.stem}-")
    elif backend == "ultralytics":
        cuda = cfg.device.startswith("cuda")
        row["provider"] = f"torch-{'cuda' if cuda else 'cpu'}"
        row["precision"] = (
            ("fp16" if cuda else "fp32") if cfg.precision in ("auto", "int8") else cfg.precision
        )
        row["input_size"] = str(cfg.input_size or 640)
        row["engine_cache"] = "n/a"
    return row


def _size(shape: tuple[int, ...], cfg: ModelConfig) -> str:
    hw = image_hw(shape)
    if hw and all(d > 0 for d in hw):
        return f"{hw[0]}x{hw[1]}"
    if hw and hw[0] > 0:
        return f"{hw[0]}x?"
    return str(cfg.input_size) if cfg.input_size else "dynamic"


def _plan_onnxruntime(row: dict[str, Any], cfg: ModelConfig, role: str, path: Path, cache: Path) -> None:
    import onnxruntime as ort

    from ..runtime.backends.onnxruntime import TRT_EP, providers_for, resolve_precision, runs_any_size
    from ..runtime.convert import yolo_head_outputs
    from ..runtime.resolve import is_seg_model

    available = ort.get_available_providers()
    provider = providers_for(cfg.device, available)[0]
    precision = resolve_precision(cfg.precision, provider)
    model = _load_onnx(path)  # read once: shape, precision, seg head, YOLO head
    shape, src_precision = _onnx_header(path, model)
    row["provider"] = provider
    row["precision"] = precision
    row["input_size"] = _size(shape, cfg)
    cut = runs_any_size(cfg, role, provider) and bool(yolo_head_outputs(model))
    if cut:
        row["input_size"] = f"{cfg.input_size or 640} long side (rect)"
    derived = [
        p
        for p in (cache / "models").glob(f"{role}-{path.stem}-{row['sha256']}-{precision}*.onnx")
        if ("-rect" in p.stem) == cut
    ]
    if src_precision == precision and not cut and not is_seg_model(model):
        status = "uses source"
    elif derived:
        status = f"derived {derived[0].name}"
    elif precision == "int8" and not cfg.calibration:
        status = "INT8 needs calibration"
    else:
        status = f"will derive {src_precision}->{precision}"
    if provider == TRT_EP:
        status += "; " + _engine_dir_status(cache / "trt-ep", "")
    row["engine_cache"] = status


def _engine_dir_status(folder: Path, prefix: str) -> str:
    engines = sorted(folder.glob(f"{prefix}*.engine")) if folder.is_dir() else []
    return f"{len(engines)} engine(s) cached" if engines else "no engine yet (built on first run)"


def load_model_row(app: AppConfig, role: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """One table row for `role` after loading the model for real (converts/builds what is missing)."""
    from ..runtime.backends.base import load_backend
    from ..runtime.resolve import file_sha256

    cfg = role_model_config(app, role)
    if cfg is None:
        raise ModelError(f"the config has no {role} model", "add it to the config")
    backend = load_backend(
        cfg, role, role_default_path(role, cfg, app), warmup=True, cache_dir=cache_dir or app.cache_path
    )
    try:
        info = backend.describe()
        path = backend.model_path
        row = {k: info.get(k, "-") for k in COLUMNS}
        row["size_mb"] = round(path.stat().st_size / 1e6, 1) if path.is_file() else "-"
        row["sha256"] = file_sha256(path)[:12] if path.is_file() else "-"
        row["engine_cache"] = info.get("engine_cache", "-")
        return row
    finally:
        backend.close()


def models_table(app: AppConfig, load: bool = False, cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per model the config loads: plate, vehicle (if any), ocr, and the reader's second opinion
    (`ocr.second_opinion`, role `ocr second opinion`), which runs as `ocr.model` says from its own file."""
    rows = []
    for role in configured_roles(app):
        rows.append(load_model_row(app, role, cache_dir) if load else plan_model(app, role, cache_dir))
        second = _second_opinion_app(app) if role == "ocr" else None
        if second is not None:
            row = load_model_row(second, role, cache_dir) if load else plan_model(second, role, cache_dir)
            rows.append({**row, "role": "ocr second opinion"})
    return rows


def _second_opinion_app(app: AppConfig) -> AppConfig | None:
    """`app` with the second opinion's model as `ocr.model` (None when the reader asks none)."""
    from ..ocr import second_model

    model = second_model(app.ocr)
    if model is None:
        return None
    return app.model_copy(update={"ocr": app.ocr.model_copy(update={"model": model, "second_opinion": None})})


def format_table(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str] | None = None) -> str:
    """Plain fixed-width text table (long file paths are shortened from the left)."""
    columns = list(columns or (rows[0].keys() if rows else COLUMNS))

    def cell(row: dict[str, Any], col: str) -> str:
        text = str(row.get(col, "-"))
        return "…" + text[-47:] if col == "file" and len(text) > 48 else text

    widths = {c: max(len(c), *(len(cell(r, c)) for r in rows)) if rows else len(c) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(cell(r, c).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
