"""The standard benchmark clip: a synthetic road scene with a fixed seed, generated once and cached."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ConfigError, SourceError
from ..synth.clip import ClipManifest, make_clip

log = logging.getLogger(__name__)

#: Frame sizes by name, (width, height) px.
CLIP_SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
#: The benchmark clip's fixed seed and length, so every run measures the same frames.
CLIP_SEED = 3
CLIP_SECONDS = 8.0
CLIP_FPS = 25.0


def standard_clip(cache_dir: Path, size: str = "720p", vehicles: int = 3) -> tuple[Path, ClipManifest]:
    """The benchmark clip for `size` and `vehicles`, generated into `cache_dir/bench/` on first use.

    Raises:
        ConfigError: unknown size name or fewer than one vehicle.
    """
    if size not in CLIP_SIZES:
        raise ConfigError(f"unknown clip size {size!r}", f"use one of: {', '.join(CLIP_SIZES)}")
    if vehicles < 1:
        raise ConfigError(f"--vehicles must be at least 1, got {vehicles}", "give a positive number")
    path = Path(cache_dir) / "bench" / f"clip-{size}-{vehicles}v-seed{CLIP_SEED}-{CLIP_SECONDS:g}s.mp4"
    manifest_path = path.with_suffix(".json")
    if path.is_file() and manifest_path.is_file():
        return path, ClipManifest.read_json(manifest_path)
    log.info("generating the %s benchmark clip (%d vehicles) into %s", size, vehicles, path)
    try:
        manifest = make_clip(
            path, vehicles=vehicles, size=CLIP_SIZES[size], seconds=CLIP_SECONDS, fps=CLIP_FPS, seed=CLIP_SEED
        )
    except ValueError as exc:
        raise ConfigError(f"cannot generate the benchmark clip: {exc}", "use fewer --vehicles") from None
    return path, manifest


def manifest_beside(source: Path) -> ClipManifest | None:
    """The ground truth written beside a generated clip (`CLIP.json`), None for any other video."""
    candidate = source.with_suffix(".json")
    if not candidate.is_file():
        return None
    try:
        return ClipManifest.read_json(candidate)
    except (KeyError, ValueError, TypeError):
        return None


def check_source(source: Path) -> Path:
    if not source.is_file():
        raise SourceError(
            f"benchmark clip {source} not found",
            "give --source a video file, or leave it out to use the generated standard clip",
        )
    return source
