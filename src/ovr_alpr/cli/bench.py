"""`ovr-alpr bench`: per-stage latency, throughput, OCR calls, CPU and memory of named configurations."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import typer


def bench_command(
    source: Path | None = typer.Option(
        None, "--source", help="video to run on (default: the generated standard benchmark clip)"
    ),
    compare: str = typer.Option(
        "stock,default",
        "--compare",
        help="comma-separated configurations: stock, default, platedet (the embedded plate detector "
        "whatever --config sets), fp32, fp16, int8, skip1, skip2 (decode_only is always added)",
    ),
    json_path: Path | None = typer.Option(None, "--json", help="write every figure as JSON"),
    chart: Path | None = typer.Option(None, "--chart", help="write a PNG chart of fps and stage ms"),
    frames: int | None = typer.Option(
        None, "--frames", min=1, help="read only the first N frames of the clip"
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML config the pipeline runs start from"),
    size: str = typer.Option("720p", "--size", help="generated clip size: 720p or 1080p"),
    vehicles: int = typer.Option(3, "--vehicles", min=1, help="vehicles in the generated clip"),
    soak: float | None = typer.Option(
        None,
        "--soak",
        min=0.01,
        help="instead of comparing, run the pipeline on the clip, looped, for MINUTES and report RSS "
        "(first/max/last), open tracks and spool depth",
    ),
) -> None:
    """Runs each configuration on the same clip, one after another in this process, and compares them."""
    from ..bench.clips import check_source, manifest_beside, standard_clip
    from ..bench.report import add_ratios, table_lines, write_chart, write_json
    from ..bench.runs import Clip, clip_frame_count, parse_compare, run_one
    from ..errors import check_writable
    from ..pipeline.config import load_config

    specs = parse_compare(compare)
    # before minutes of runs, not after them
    if json_path is not None:
        check_writable(json_path, "--json")
    if chart is not None:
        check_writable(chart, "--chart")
    cfg = load_config(config)
    if source is None:
        clip_path, manifest = standard_clip(cfg.cache_path, size, vehicles)
    else:
        clip_path = check_source(source)
        manifest = manifest_beside(clip_path)
    if soak is not None:
        from ..bench.soak import run_soak, soak_lines

        typer.echo(f"soak: {soak:g} min on {clip_path} ...", err=True)
        soak_report = run_soak(clip_path, soak, config)
        for line in soak_lines(soak_report):
            typer.echo(line)
        if json_path is not None:
            typer.echo(f"json: {write_json(soak_report, json_path)}")
        return
    total = clip_frame_count(clip_path)
    clip = Clip(clip_path, min(frames, total) if frames else total, manifest)
    typer.echo(f"clip {clip_path} ({clip.frames} of {total} frames, vehicles: {clip.vehicles or '?'})")
    runs = {}
    for spec in specs:
        typer.echo(f"  {spec.name}: {spec.description} ...", err=True)
        runs[spec.name] = run_one(spec, clip, cfg, config)
    baseline = add_ratios(runs)
    for line in table_lines(runs, baseline):
        typer.echo(line)
    report = {
        "clip": {
            "path": str(clip_path),
            "frames": clip.frames,
            "frame_count": total,
            "vehicles": clip.vehicles,
            "plates": sorted(clip.plate_texts),
        },
        "baseline": baseline,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "runs": runs,
    }
    if json_path is not None:
        typer.echo(f"json: {write_json(report, json_path)}")
    if chart is not None:
        typer.echo(f"chart: {write_chart(runs, chart, f'{clip_path.name}, {clip.frames} frames')}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
