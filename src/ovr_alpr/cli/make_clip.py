"""`ovr-alpr make-clip`: writes the generated demo / test clip."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from ..errors import ConfigError


def parse_size(text: str) -> tuple[int, int]:
    """`1280x720`, `720p` or `1080p` -> (width, height)."""
    named = {"720p": (1280, 720), "1080p": (1920, 1080), "480p": (854, 480)}
    if text.lower() in named:
        return named[text.lower()]
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", text.lower())
    if not m:
        raise ConfigError(
            f"invalid size {text!r}", "write it as WIDTHxHEIGHT, e.g. 1280x720, or 720p / 1080p"
        )
    return int(m.group(1)), int(m.group(2))


def register(app: typer.Typer) -> None:
    @app.command("make-clip")
    def make_clip_cmd(
        out: Path = typer.Argument(..., help="the .mp4 to write (a .json manifest is written beside it)"),
        vehicles: int = typer.Option(3, "--vehicles", "-n", min=1, help="number of vehicles"),
        size: str = typer.Option("1280x720", "--size", help="WIDTHxHEIGHT, 720p or 1080p"),
        seconds: float = typer.Option(8.0, "--seconds", min=0.5, help="clip length"),
        fps: float = typer.Option(25.0, "--fps", min=1.0),
        seed: int = typer.Option(0, "--seed", help="same seed, same clip"),
        style: str = typer.Option("eu", "--style", help="plate style: eu or us"),
    ) -> None:
        """Generate a clip of vehicles with rendered plates moving through the frame."""
        from ..synth.clip import make_clip
        from ..synth.plates import STYLES

        if style not in STYLES:
            raise ConfigError(f"unknown plate style {style!r}", f"use one of: {', '.join(STYLES)}")
        try:
            manifest = make_clip(
                out,
                vehicles=vehicles,
                size=parse_size(size),
                seconds=seconds,
                fps=fps,
                seed=seed,
                style=style,
            )
        except ValueError as exc:
            raise ConfigError(str(exc), "use more --seconds or fewer --vehicles") from None
        plates = ", ".join(v.plate_text for v in manifest.vehicles)
        typer.echo(
            f"wrote {out} ({manifest.frame_count} frames, {manifest.width_px}x{manifest.height_px}); "
            f"plates: {plates}"
        )
