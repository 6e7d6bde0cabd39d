"""One small timer for every pipeline stage: per-stage samples, p50/p95 summaries and fps."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


class StageTimer:
    """Collects wall-clock durations per named stage.

    Keeps the last `window` samples of each stage, so memory stays flat on a long run.

    Example:
        >>> timer = StageTimer()
        >>> with timer.stage("detect"):
        ...     pass
        >>> "detect" in timer.summary()["stages"]
        True
    """

    def __init__(self, window: int = 10_000) -> None:
        self.window = window
        self._samples: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=self.window))
        self._counts: dict[str, int] = defaultdict(int)
        self.started = time.perf_counter()
        self.frames = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - t0) * 1000.0)

    def add(self, name: str, ms: float) -> None:
        self._samples[name].append(ms)
        self._counts[name] += 1

    def count_frame(self) -> None:
        self.frames += 1

    def reset(self) -> None:
        self._samples.clear()
        self._counts.clear()
        self.frames = 0
        self.started = time.perf_counter()

    def summary(self) -> dict[str, Any]:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        stages = {}
        for name, samples in self._samples.items():
            arr = np.fromiter(samples, dtype=np.float64)
            stages[name] = {
                "p50_ms": round(float(np.percentile(arr, 50)), 3),
                "p95_ms": round(float(np.percentile(arr, 95)), 3),
                "mean_ms": round(float(arr.mean()), 3),
                "count": self._counts[name],
            }
        return {
            "frames": self.frames,
            "elapsed_s": round(elapsed, 3),
            "fps": round(self.frames / elapsed, 2),
            "stages": stages,
        }

    def format_line(self) -> str:
        s = self.summary()
        parts = [f"{name} {v['p50_ms']:.1f}/{v['p95_ms']:.1f}" for name, v in s["stages"].items()]
        return f"fps {s['fps']:.1f} | p50/p95 ms: " + ", ".join(parts)
