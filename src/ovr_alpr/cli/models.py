"""`ovr-alpr models | validate | export | calib`: inspect, check, convert and calibrate the models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from ..errors import ConfigError, ModelError

log = logging.getLogger(__name__)

ROLE_HELP = "which model of the config: plate, vehicle or ocr"


def _setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _check_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ("plate", "vehicle", "ocr"):
        raise ConfigError(f"unknown --model {role!r}", "use plate, vehicle or ocr")
    return role


def models_command(
    config: Path | None = typer.Option(None, "--config", help="YAML config (default: embedded models)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    load: bool = typer.Option(
        False, "--load", help="load (and convert/build) each model to show what really runs"
    ),
) -> None:
    """One table of every model the config would load: file, backend, provider, precision, sizes, cache."""
    from ..pipeline.config import load_config
    from ..tools.inventory import format_table, models_table

    _setup_logging()
    app = load_config(config)
    rows = models_table(app, load=load)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
    else:
        typer.echo(format_table(rows))


def validate_command(
    model: str = typer.Option(..., "--model", help=ROLE_HELP),
    precisions: str = typer.Option(
        "fp32,fp16,int8", "--precisions", help="comma-separated: fp32, fp16, int8"
    ),
    dataset: Path = typer.Option(
        ...,
        "--dataset",
        help="openalpr layout (NAME.txt beside NAME.jpg, recursive) or YOLO layout (images/ + labels/)",
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML config (default: embedded models)"),
    json_path: Path | None = typer.Option(None, "--json", help="write the results as JSON"),
    reads_path: Path | None = typer.Option(
        None,
        "--reads",
        help="OCR: write each crop's truth and read per precision as CSV (to see which plates are missed)",
    ),
    budget: float = typer.Option(
        1.0,
        "--budget",
        min=0.0,
        help="max loss vs FP32 in percentage points of mAP50 (detectors) / exact match (OCR)",
    ),
    calibration: Path | None = typer.Option(
        None, "--calibration", help="INT8 calibration images (default: the config's model.calibration)"
    ),
    device: str | None = typer.Option(None, "--device", help="override the model's device (cpu, cuda:0)"),
    backend: str | None = typer.Option(
        None, "--backend", help="override the model's backend: onnxruntime, tensorrt, ultralytics, torch"
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=0, help="override intra-op threads (0 = all cores)"
    ),
    limit: int = typer.Option(0, "--limit", min=0, help="use an even spread of N images (0 = all)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
) -> None:
    """Accuracy per precision side by side with the change vs FP32 and the median model ms per image.

    Exits with status 1 when a precision loses more than --budget points of the main metric.
    """
    from ..pipeline.config import load_config
    from ..tools.validate import check_budget, format_report, validate, write_reads

    _setup_logging()
    role = _check_role(model)
    if reads_path is not None and role != "ocr":
        raise ConfigError("--reads needs an OCR validation", "pass --model ocr (detectors read no text)")
    overrides = {}
    section = {"plate": "plate_detector", "vehicle": "vehicle_detector", "ocr": "ocr"}[role]
    if calibration is not None:
        overrides[f"{section}.model.calibration"] = str(calibration)
    if device is not None:
        overrides[f"{section}.model.device"] = device
    if threads is not None:
        overrides[f"{section}.model.threads"] = threads
    app = load_config(config)
    if app.vehicle_detector is None and role == "vehicle":
        raise ConfigError(
            "the config has no vehicle_detector", "add vehicle_detector.model.path to the config"
        )
    if overrides:
        app = load_config(config, overrides)
    report = validate(
        app, role, precisions.split(","), dataset, limit=limit, progress=progress, backend=backend
    )
    reads = report.pop("reads")
    report["budget_pts"] = budget
    failed = check_budget(report, budget)
    report["passed"] = not failed
    typer.echo(format_report(report, budget))
    if reads_path is not None:
        count = write_reads(reads, reads_path)
        typer.echo(f"reads: {reads_path} ({count} crops)")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=1))
        typer.echo(f"json: {json_path}")
    if failed:
        typer.echo(f"over budget ({budget:g} pts): {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def export_command(
    to: str = typer.Option(
        ..., "--to", help="onnx (from .pt), fp32, fp16, int8 (ONNX), or engine (TensorRT)"
    ),
    model: str | None = typer.Option(None, "--model", help=ROLE_HELP + " (uses the config's file)"),
    input_file: Path | None = typer.Option(
        None, "--input", help="model file to convert (instead of --model)"
    ),
    role: str = typer.Option(
        "plate", "--role", help="with --input: plate, vehicle or ocr (calibration preprocessing)"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="output file (default: out/models/...)"),
    precision: str = typer.Option("fp16", "--precision", help="for --to engine: fp32, fp16 or int8"),
    calibration: Path | None = typer.Option(None, "--calibration", help="INT8 calibration image folder"),
    box_only: bool = typer.Option(False, "--box-only", help="drop the mask branch of a YOLO seg model"),
    for_tensorrt: bool = typer.Option(False, "--for-tensorrt", help="INT8: symmetric Q/DQ as TensorRT needs"),
    imgsz: int = typer.Option(640, "--imgsz", help="input size for .pt -> ONNX"),
    config: Path | None = typer.Option(None, "--config", help="YAML config (default: embedded models)"),
) -> None:
    """Convert a model: .pt -> ONNX, ONNX -> FP32/FP16/INT8 ONNX, ONNX -> TensorRT engine (FP16/INT8)."""
    from ..pipeline.config import load_config
    from ..runtime.backends.base import resolve_model_path
    from ..tools.export import TARGETS, default_output, export_engine, export_onnx, export_pt_to_onnx
    from ..tools.inventory import role_default_path, role_model_config

    _setup_logging()
    target = to.strip().lower()
    if target not in TARGETS:
        raise ConfigError(f"unknown --to {to!r}", f"use one of: {', '.join(TARGETS)}")
    app = load_config(config)
    if (model is None) == (input_file is None):
        raise ConfigError(
            "give exactly one of --model and --input", "e.g. --model plate or --input model.onnx"
        )
    if model is not None:
        role = _check_role(model)
        cfg = role_model_config(app, role)
        if cfg is None:
            raise ConfigError(f"the config has no {role} model", "add it to the config, or use --input")
        source = resolve_model_path(cfg, role, role_default_path(role, cfg, app))
    else:
        role = _check_role(role)
        cfg = role_model_config(app, role) or app.plate_detector.model
        source = input_file  # type: ignore[assignment]
        if not source.is_file() and source.suffix.lower() != ".pt":
            raise ModelError(f"model file {source} not found", "check --input")
    calib = str(calibration) if calibration else cfg.calibration
    out_path = output or default_output(source, target, precision, Path(app.output_dir) / "models")
    if target == "onnx":
        if source.suffix.lower() != ".pt":
            raise ConfigError(
                f"--to onnx converts .pt files; {source.name} is not one",
                "use --to fp32/fp16/int8 to convert an ONNX model",
            )
        result = export_pt_to_onnx(source, out_path, imgsz=imgsz, batch=cfg.batch)
    elif source.suffix.lower() != ".onnx":
        raise ConfigError(
            f"--to {target} needs an ONNX model, {source.name} is not one",
            "export it to ONNX first (--to onnx)",
        )
    elif target == "engine":
        if precision not in ("fp32", "fp16", "int8"):
            raise ConfigError(f"unknown --precision {precision!r}", "use fp32, fp16 or int8")
        result = export_engine(source, out_path, precision, role, cfg, calib, app.cache_path)
    else:
        result = export_onnx(
            source, out_path, target, role, calib, box_only=box_only, for_tensorrt=for_tensorrt
        )
    size = result.stat().st_size / 1e6
    typer.echo(f"wrote {result} ({size:.1f} MB)")


def calib_command(
    source: list[Path] = typer.Option(..., "--source", help="video file, image, or folder (repeatable)"),
    out: Path = typer.Option(..., "--out", help="folder to write the calibration JPEGs to"),
    every: int = typer.Option(30, "--every", min=1, help="take every N-th frame of a video"),
    max_per_video: int = typer.Option(50, "--max-per-video", min=1, help="at most M frames per video"),
    min_diff: float = typer.Option(
        6.0,
        "--min-diff",
        min=0.0,
        help="skip frames whose 32x32 grey thumbnail differs from a kept one by less "
        "than this mean grey level (0-255)",
    ),
    max_total: int = typer.Option(0, "--max-total", min=0, help="stop after N images (0 = no limit)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
) -> None:
    """Build a diverse INT8 calibration image set from videos and image folders."""
    from ..tools.calibrate import build_calibration_set

    _setup_logging()
    summary = build_calibration_set(
        source,
        out,
        every=every,
        max_per_video=max_per_video,
        min_diff=min_diff,
        max_total=max_total,
        progress=progress,
    )
    typer.echo(
        f"wrote {summary.written} images to {out} from {summary.sources} source(s); "
        f"skipped {summary.skipped_duplicates} near-duplicates"
    )


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
    app.command("validate")(validate_command)
    app.command("export")(export_command)
    app.command("calib")(calib_command)
