"""`ovr-alpr gpucheck`: one-command check of the GPU paths (torch-CUDA, Ultralytics, ORT, TensorRT)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def gpucheck_command(
    dataset: Path | None = typer.Option(None, "--dataset", help="openalpr-layout folder (default: search)"),
    calibration: Path | None = typer.Option(
        None, "--calibration", help="INT8 images (default: <dataset>/eu)"
    ),
    vehicle: Path | None = typer.Option(
        None, "--vehicle", help="YOLOX/YOLO ONNX vehicle model (default: search)"
    ),
    plate_model: Path | None = typer.Option(None, "--plate-model", help="plate ONNX (default: embedded)"),
    ocr_model: Path | None = typer.Option(None, "--ocr-model", help="OCR ONNX (default: embedded)"),
    ocr_type: str | None = typer.Option(
        None, "--ocr-type", help="reader type of --ocr-model: ovr, ppocr, fast_plate_ocr (default: ovr)"
    ),
    limit: int = typer.Option(0, "--limit", help="images per accuracy run (0 = all)"),
    out: Path | None = typer.Option(None, "--out", help="folder for gpucheck.json"),
    cache: Path | None = typer.Option(None, "--cache", help="cache folder (default: a temporary one)"),
    runs: int = typer.Option(50, "--runs", help="timed runs per latency measurement"),
    device: str = typer.Option("cuda:0", "--device", help="cuda:N, or cpu for a dry run of the check itself"),
) -> None:
    """Accuracy and latency of every GPU path this machine can run; exit code 1 if any path failed."""
    from ..tools.gpucheck import GpucheckOptions, run_gpucheck

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = GpucheckOptions(
        dataset=dataset,
        calibration=calibration,
        vehicle=vehicle,
        plate_model=plate_model,
        ocr_model=ocr_model,
        ocr_type=ocr_type,
        limit=limit,
        out=out,
        cache=cache,
        runs=runs,
        device=device,
    )
    code = run_gpucheck(options)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("gpucheck")(gpucheck_command)
