"""`ovr-alpr train reader|detector`: trains the project's own models (needs the `[train]` extra)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from ..errors import ConfigError

SHARED_TRAIN = Path("../shared/data/train")


_SHARED = Path("../shared/data")


def detector_command(
    weights: Path = typer.Option(
        ...,
        "--weights",
        help="starting .pt (e.g. fastanpr==0.1.13's fastanpr/best.pt, YOLOv8n plates), or a detector's ONNX "
        "export such as the shipped src/ovr_alpr/assets/plate_detector.onnx (rebuilt into a checkpoint)",
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
    kit_scenes_train: int = typer.Option(
        0, "--kit-scenes-train", min=0, help="scenes with plates of the reader's renderer (US emblems, ...)"
    ),
    kit_scenes_val: int = typer.Option(0, "--kit-scenes-val", min=0),
    epochs: int = typer.Option(30, "--epochs", min=1, help="epochs (re-planned to fit --hours when set)"),
    hours: float | None = typer.Option(None, "--hours", min=0.01, help="wall-time budget of the training"),
    imgsz: int = typer.Option(416, "--imgsz", min=64, help="input side in px"),
    batch: int = typer.Option(16, "--batch", min=1),
    workers: int = typer.Option(0, "--workers", min=0, help="dataloader workers (0 on a 2-core box)"),
    device: str = typer.Option("cpu", "--device", help="cpu or a CUDA index such as 0"),
    seed: int = typer.Option(0, "--seed"),
    close_mosaic: int = typer.Option(2, "--close-mosaic", min=0, help="last epochs without mosaic"),
    lr0: float | None = typer.Option(
        None, "--lr0", min=1e-6, max=0.1, help="AdamW at this learning rate (default: Ultralytics' auto)"
    ),
    resume: bool = typer.Option(False, "--resume", help="continue OUT_DIR/run/weights/last.pt"),
    dataset: Path | None = typer.Option(
        None,
        "--dataset",
        help="a dataset folder built before (an earlier run's data/): used instead of building",
    ),
    align_boxes: bool = typer.Option(
        True,
        "--align-boxes/--keep-boxes",
        help="redraw the shared photos' loose boxes tight to the plate, as platedet (embedded) draws them",
    ),
    osd: float = typer.Option(
        0.0,
        "--osd",
        min=0.0,
        max=1.0,
        help="share of rendered scenes with a camera's on-screen text (timestamps, names) and no box there",
    ),
) -> None:
    """Fine-tune a nano YOLO plate detector on shared photos and rendered scenes; write ONNX, card."""
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
        kit_scenes_train=kit_scenes_train,
        kit_scenes_val=kit_scenes_val,
        epochs=epochs,
        hours=hours,
        imgsz=imgsz,
        batch=batch,
        workers=workers,
        device=device,
        seed=seed,
        close_mosaic=close_mosaic,
        lr0=lr0,
        resume=resume,
        dataset=dataset,
        align_boxes=align_boxes,
        osd=osd,
    )
    result = train_detector(cfg)
    typer.echo(f"onnx: {result.onnx_path}")
    typer.echo(f"card: {result.card_path}")
    typer.echo(f"epochs {result.epochs_done}, {result.wall_s / 60:.1f} min, metrics {result.metrics}")


def average_command(
    runs: list[Path] = typer.Argument(
        ...,
        help="run folders of `train reader` fine-tuned from one start, and optionally that start's .onnx "
        "(e.g. src/ovr_alpr/assets/plate_reader.onnx when the runs started from it)",
    ),
    out_dir: Path = typer.Option(Path("out/reader-average"), "--out-dir", help="where ONNX, card go"),
) -> None:
    """Average the weights of reader runs fine-tuned from the same weights into one reader (ONNX, card)."""
    try:
        from ..train.average import average_runs
        from ..train.reader import command_line
    except ModuleNotFoundError as exc:
        raise ConfigError(f"training needs {exc.name}", "pip install -e '.[train]'") from exc
    metrics = average_runs(list(runs), out_dir, command_line())
    lines = [
        f"{what}: " + (", ".join(f"{k} {v:.1%}" for k, v in scores.items()) or "none")
        for what, scores in (
            (f"{metrics['held_out_crops']} real crops no run trained on", metrics["held_out_exact"]),
            (f"{metrics['rendered_plates']} freshly rendered plates", metrics["rendered_exact"]),
        )
    ]
    typer.echo(f"wrote {out_dir / 'reader.onnx'} and {out_dir / 'MODEL_CARD.md'}; exact match on the")
    typer.echo("\n".join(f"  {line}" for line in lines))


def register(app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train the project's own models (needs: pip install -e '.[train]').")
    app.add_typer(train_app, name="train")
    train_app.command("detector")(detector_command)
    train_app.command("average")(average_command)

    @train_app.command("reader")
    def reader(
        out_dir: Path = typer.Option(Path("out/reader"), help="where manifest, cache, checkpoints, ONNX go"),
        ocr_dir: Path = typer.Option(SHARED_TRAIN / "ocr", help="labelled crops (labels.csv + images/)"),
        unlabelled_dir: Path = typer.Option(SHARED_TRAIN / "ocr-unlabelled", help="crops without text"),
        detect_dir: Path = typer.Option(SHARED_TRAIN / "detect", help="YOLO plate boxes to cut crops from"),
        teacher: Path = typer.Option(
            Path("../shared/models/cct_xs_v1_global.onnx"),
            help="fast-plate-ocr ONNX that labels the unlabelled crops",
        ),
        eval_dir: Path = typer.Option(
            Path("../shared/data/openalpr"),
            help="evaluation sets kept out of training (texts and image hashes)",
        ),
        synthetic: int = typer.Option(40000, help="rendered plates (made once, cached)"),
        steps: int = typer.Option(
            4000, min=0, help="optimiser steps; 0: as many as fit --max-minutes (planned after the warm-up)"
        ),
        batch: int = typer.Option(128),
        lr: float = typer.Option(2e-3),
        real_fraction: float = typer.Option(0.5, help="share of each batch from real crops"),
        head: str = typer.Option(
            "fc",
            help="fc (slots: flatten + linear), attention (slots: a query each) or ctc (2 rows read by CTC)",
        ),
        seed: int = typer.Option(0),
        eval_every: int = typer.Option(250, help="steps between dev evaluations and checkpoints"),
        max_minutes: float = typer.Option(0.0, help="stop early (and export) after this many minutes; 0: no"),
        threads: int = typer.Option(2, help="torch CPU threads"),
        workers: int = typer.Option(2, help="processes rendering plates"),
        loader_workers: int = typer.Option(
            0, min=0, help="processes making augmented batches (0: the training process makes them)"
        ),
        device: str = typer.Option("cpu", help="cpu, cuda or cuda:N"),
        autocast: str = typer.Option(
            "auto",
            help="forward pass precision: auto (bf16 on CUDA and on CPUs with bf16 kernels, about 2x the"
            " speed of fp32 on such a CPU), bf16 or fp32 (repeats runs made before 2026-12-06 exactly)",
        ),
        width_mult: float = typer.Option(1.0, min=0.25, help="scales the network's channel counts"),
        context: int = typer.Option(
            0,
            min=0,
            max=4,
            help="--head ctc: residual 1x3 convolutions along each row after the backbone (dilations 1, 2,"
            " 4, 8), so each position sees more of the plate's width",
        ),
        warmup_steps: int = typer.Option(300, min=1, help="steps of linear learning-rate warm-up"),
        geometry: float = typer.Option(
            1.0, min=0.0, help="scales the crop jitter (corners, shift) of the augmentation"
        ),
        camera: float = typer.Option(
            0.0,
            min=0.0,
            max=1.0,
            help="share of crops made to look as a far camera cuts them (loose box, 18-40 px, blur, JPEG)",
        ),
        motion_blur: float = typer.Option(
            0.0,
            min=0.0,
            max=1.0,
            help="share of crops smeared as a moving plate is (a streak of 2-8 % of the crop's width)",
        ),
        us_round_glyph: str = typer.Option(
            "zero",
            help="label of the round glyph on rendered US plates: zero (0 whether drawn as O or 0, as"
            " OpenALPR's US labels write it) or printed (as drawn)",
        ),
        us_mixed_series: bool = typer.Option(
            True, help="render US plates of mixed letter/digit series too (XXX XXX, XXX XXXX)"
        ),
        init_weights: Path | None = typer.Option(
            None,
            help="start from these weights (a best.pt, a run's checkpoint.pt, or a CTC reader's .onnx"
            " such as the shipped assets/plate_reader.onnx): fine-tuning",
        ),
        resume: bool = typer.Option(False, help="continue from OUT_DIR/checkpoint.pt"),
        export_weights: str = typer.Option(
            "ema", help="weights exported: ema (moving average, default), raw, or best (best dev EMA)"
        ),
        export_only: bool = typer.Option(
            False, help="export OUT_DIR/checkpoint.pt's weights as they are (e.g. a run stopped early)"
        ),
    ) -> None:
        """Train the fixed-slot plate reader; writes OUT_DIR/reader.onnx and OUT_DIR/MODEL_CARD.md."""
        try:
            from ..train.reader import TrainOptions, train
        except ModuleNotFoundError as exc:
            raise ConfigError(f"training needs {exc.name}", "pip install -e '.[train]'") from exc

        def present(p: Path) -> Path | None:
            return p if p.exists() else None

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        opts = TrainOptions(
            out_dir=out_dir,
            ocr_dir=present(ocr_dir),
            unlabelled_dir=present(unlabelled_dir),
            detect_dir=present(detect_dir),
            teacher=present(teacher),
            eval_dir=present(eval_dir),
            synthetic=synthetic,
            head=head,
            steps=steps,
            batch=batch,
            lr=lr,
            real_fraction=real_fraction,
            seed=seed,
            eval_every=eval_every,
            max_minutes=max_minutes,
            threads=threads,
            workers=workers,
            loader_workers=loader_workers,
            device=device,
            autocast=autocast,
            width_mult=width_mult,
            context=context,
            warmup_steps=warmup_steps,
            geometry=geometry,
            camera=camera,
            motion_blur=motion_blur,
            us_round_glyph=us_round_glyph,
            us_mixed_series=us_mixed_series,
            init_weights=init_weights,
            resume=resume,
            export_only=export_only,
            export_weights=export_weights,
        )
        if steps == 0 and not max_minutes:
            raise ConfigError("--steps 0 plans the steps to fit --max-minutes", "pass --max-minutes too")
        metrics = train(opts)
        typer.echo(
            f"wrote {out_dir / 'reader.onnx'} (best dev {metrics['best']}) and {out_dir / 'MODEL_CARD.md'}"
        )
