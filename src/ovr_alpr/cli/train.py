"""`ovr-alpr train ...`: training the project's own models (`train detector`; needs the `[train]` extra)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

train_app = typer.Typer(
    no_args_is_help=True, help="Train the project's own models (needs the [train] extra: torch, Ultralytics)."
)

_SHARED = Path("../shared/data")


def detector_command(
    weights: Path = typer.Option(
        ..., "--weights", help="starting .pt (e.g. fastanpr==0.1.13's fastanpr/best.pt, YOLOv8n plates)"
    ),
    weights_licence: str = typer.Option("AGPL-3.0", "--weights-licence", help="its licence, for the card"),
    out_dir: Path = typer.Option(
        Path("out/detector"), "--out-dir", help="run folder (data, run, ONNX, card)"
    ),
    data: Path | None = typer.Option(
        _SHARED / "train" / "detect", "--data", help="shared YOLO detection set ('' = rendered scenes only)"
    ),
    eval_dirs: list[Path] = typer.Option(
        [_SHARED / "openalpr"], "--eval-dir", help="evaluation folders no training image may come from"
    ),
    synth_train: int = typer.Option(900, "--synth-train", min=0, help="rendered scenes in the train split"),
    synth_val: int = typer.Option(120, "--synth-val", min=0, help="rendered scenes in the val split"),
    crops: Path | None = typer.Option(
        _SHARED / "train" / "ocr", "--crops", help="real plate photos (shared ocr set) to mount in scenes"
    ),
    crop_scenes_train: int = typer.Option(0, "--crop-scenes-train", min=0, help="scenes with real plates"),
    crop_scenes_val: int = typer.Option(0, "--crop-scenes-val", min=0),
    epochs: int = typer.Option(30, "--epochs", min=1, help="epochs (re-planned to fit --hours when set)"),
    hours: float | None = typer.Option(None, "--hours", min=0.01, help="wall-time budget of the training"),
    imgsz: int = typer.Option(416, "--imgsz", min=64, help="input side in px"),
    batch: int = typer.Option(16, "--batch", min=1),
    workers: int = typer.Option(0, "--workers", min=0, help="dataloader workers (0 on a 2-core box)"),
    device: str = typer.Option("cpu", "--device", help="cpu or a CUDA index such as 0"),
    seed: int = typer.Option(0, "--seed"),
    close_mosaic: int = typer.Option(2, "--close-mosaic", min=0, help="last epochs without mosaic"),
    resume: bool = typer.Option(False, "--resume", help="continue OUT_DIR/run/weights/last.pt"),
) -> None:
    """Fine-tune a nano YOLO plate detector at 416 on shared photos and rendered scenes; write ONNX, card."""
    from ..train.detector import DetectorTrainConfig, train_detector

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = DetectorTrainConfig(
        out_dir=out_dir,
        weights=weights,
        weights_licence=weights_licence,
        data_dir=data if data and str(data) else None,
        eval_dirs=list(eval_dirs),
        synth_train=synth_train,
        synth_val=synth_val,
        crop_dir=crops if crops and str(crops) else None,
        crop_scenes_train=crop_scenes_train,
        crop_scenes_val=crop_scenes_val,
        epochs=epochs,
        hours=hours,
        imgsz=imgsz,
        batch=batch,
        workers=workers,
        device=device,
        seed=seed,
        close_mosaic=close_mosaic,
        resume=resume,
    )
    result = train_detector(cfg)
    typer.echo(f"onnx: {result.onnx_path}")
    typer.echo(f"card: {result.card_path}")
    typer.echo(f"epochs {result.epochs_done}, {result.wall_s / 60:.1f} min, metrics {result.metrics}")


train_app.command("detector")(detector_command)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
