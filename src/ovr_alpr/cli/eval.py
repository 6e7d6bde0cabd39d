"""`ovr-alpr eval`: end-to-end accuracy and speed on a labelled image set."""

from __future__ import annotations

from pathlib import Path

import typer


def eval_command(
    dataset: Path = typer.Option(
        ...,
        "--dataset",
        help="labelled images: openalpr layout (NAME.txt beside NAME.jpg) or YOLO layout (images/ + labels/)",
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML config (default: embedded models)"),
    json_path: Path | None = typer.Option(None, "--json", help="write all figures and the misses as JSON"),
    report: Path | None = typer.Option(None, "--report", help="write report.md with charts into this folder"),
    limit: int = typer.Option(0, "--limit", min=0, help="evaluate an even spread of N images (0 = all)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
    motion: str | None = typer.Option(
        None,
        "--motion",
        help="approach | recede | cross: score the video path instead; each image becomes a clip of its "
        "plate growing from --start-width px (approach), shrinking to it (recede) or coming in at the "
        "frame's left edge (cross), run through the pipeline",
    ),
    clip_frames: int = typer.Option(36, "--clip-frames", min=2, help="--motion: frames per clip (25 fps)"),
    start_width: float = typer.Option(
        40.0, "--start-width", min=8, help="--motion: plate width at the far end, px"
    ),
    clip_size: str = typer.Option(
        "1280x720", "--clip-size", help="--motion: frame size, WIDTHxHEIGHT or 1080p"
    ),
    cross_speed: float = typer.Option(
        0.1, "--cross-speed", min=0.01, help="--motion cross: plate widths the plate moves per frame"
    ),
) -> None:
    """Exact-match rate, plate detection recall/precision, CER and ms per image on a labelled image set."""
    from ..errors import check_writable
    from ..evaluation.report import summary_lines, write_json, write_report
    from ..evaluation.runner import evaluate
    from ..pipeline.config import load_config
    from ..tools.calibrate import with_int8_calibration

    cfg = with_int8_calibration(load_config(config))
    if json_path is not None:
        check_writable(json_path, "--json")
    if motion is not None:
        clip = {"frames": clip_frames, "start_width_px": start_width, "cross_speed": cross_speed}
        _motion(dataset, cfg, motion, clip_size, clip, limit, progress, json_path, report)
        return
    if report is not None:
        check_writable(report / "report.md", "--report")
    result = evaluate(dataset, cfg, limit=limit, progress=progress)
    for line in summary_lines(result):
        typer.echo(line)
    if json_path is not None:
        typer.echo(f"json: {write_json(result, json_path)}")
    if report is not None:
        typer.echo(f"report: {write_report(result, report)}")


def _motion(dataset, cfg, motion, clip_size, clip, limit, progress, json_path, report) -> None:
    import json

    from ..errors import ConfigError
    from ..evaluation.motion import MOTIONS, evaluate_motion
    from .make_clip import parse_size

    if motion not in MOTIONS:
        raise ConfigError(f"--motion {motion!r} is not a motion", f"use one of: {', '.join(MOTIONS)}")
    if report is not None:
        raise ConfigError("--report is for still images", "leave out --report with --motion, or use --json")
    result = evaluate_motion(
        dataset, cfg, motion, limit=limit, progress=progress, size=parse_size(clip_size), **clip
    )
    for line in result.lines():
        typer.echo(line)
    if json_path is not None:
        json_path.write_text(json.dumps(result.summary(), indent=2))
        typer.echo(f"json: {json_path}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
