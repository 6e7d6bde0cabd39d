"""`ovr-alpr train reader`: trains the plate reader (needs the `[train]` extra)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from ..errors import ConfigError

SHARED_TRAIN = Path("../shared/data/train")


def register(app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train the project's own models (needs: pip install -e '.[train]').")
    app.add_typer(train_app, name="train")

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
        steps: int = typer.Option(4000, help="optimiser steps"),
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
            resume=resume,
            export_only=export_only,
            export_weights=export_weights,
        )
        metrics = train(opts)
        typer.echo(
            f"wrote {out_dir / 'reader.onnx'} (best dev {metrics['best']}) and {out_dir / 'MODEL_CARD.md'}"
        )
