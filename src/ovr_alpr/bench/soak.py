"""`ovr-alpr bench --soak MINUTES`: the pipeline on a looped clip for a long while, watching memory and state.

A node runs for months; this shows whether anything grows with time: resident memory (RSS), open
tracks (per-track state must be dropped when tracks end) and the sinks' spool.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from ..pipeline.config import load_config

log = logging.getLogger(__name__)


def run_soak(
    clip_path: Path, minutes: float, cfg_path: Path | None = None, sample_s: float = 10.0
) -> dict[str, Any]:
    """Run the pipeline on `clip_path`, looped, for `minutes`; sample RSS, open tracks and spool depth.

    Events go to a JSONL sink in a temporary folder (so delivery is part of the soak). Returns RSS in
    MiB (first sample after start-up, max, last), open tracks (max, last), spool depth (max, last),
    frames, events, fps and every sample as `[t_s, rss_mib, open_tracks, spool_depth]`.
    """
    from ..pipeline import Pipeline

    process = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="ovr-alpr-soak-") as out_dir:
        overrides = {
            "output_dir": out_dir,
            "cameras": [{"id": "soak", "source": str(clip_path), "loop": True}],
            "sinks": [{"type": "jsonl", "path": str(Path(out_dir) / "events.jsonl")}],
        }
        cfg = load_config(cfg_path, overrides)
        pipeline = Pipeline(cfg, collect_events=False)
        samples: list[list[float]] = []
        done = threading.Event()
        t0 = time.monotonic()

        def sample() -> None:
            rss = process.memory_info().rss / 2**20
            stats = pipeline.state_counts()
            samples.append([round(time.monotonic() - t0, 1), round(rss, 1), *stats])

        def sampler() -> None:
            while not done.wait(sample_s):
                sample()

        sample()
        thread = threading.Thread(target=sampler, name="soak-sampler", daemon=True)
        thread.start()
        stopper = threading.Timer(minutes * 60.0, pipeline.stop)
        stopper.start()
        try:
            result = pipeline.run()
        finally:
            stopper.cancel()
            done.set()
            thread.join()
        sample()
    wall = time.monotonic() - t0
    stats = result.stats
    rss = [s[1] for s in samples]
    tracks = [s[2] for s in samples]
    spool = [s[3] for s in samples]
    return {
        "clip": str(clip_path),
        "minutes": round(wall / 60.0, 2),
        "frames": stats["frames_processed"],
        "events": stats["events"],
        "fps": round(stats["frames_processed"] / wall, 2) if wall > 0 else 0.0,
        "rss_mib": {"first": rss[0], "max": max(rss), "last": rss[-1]},
        "open_tracks": {"max": max(tracks), "last": tracks[-1]},
        "spool_depth": {"max": max(spool), "last": spool[-1]},
        "undelivered": stats["undelivered"],
        "samples": samples,
    }


def soak_lines(report: dict[str, Any]) -> list[str]:
    rss, tracks, spool = report["rss_mib"], report["open_tracks"], report["spool_depth"]
    return [
        f"soak {report['minutes']} min on {report['clip']}: {report['frames']} frames ({report['fps']} fps), "
        f"{report['events']} events, {report['undelivered']} undelivered",
        f"RSS MiB first {rss['first']}, max {rss['max']}, last {rss['last']}   "
        f"open tracks max {tracks['max']}, last {tracks['last']}   "
        f"spool depth max {spool['max']}, last {spool['last']}",
    ]
