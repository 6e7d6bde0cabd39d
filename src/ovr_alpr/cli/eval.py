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
    if report is not None:
        check_writable(report / "report.md", "--report")
    result = evaluate(dataset, cfg, limit=limit, progress=progress)
    for line in summary_lines(result):
        typer.echo(line)
    if json_path is not None:
        typer.echo(f"json: {write_json(result, json_path)}")
    if report is not None:
        typer.echo(f"report: {write_report(result, report)}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
