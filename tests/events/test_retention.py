"""Retention of saved pictures (plate crops, vehicles, frames share one age limit and one disk budget)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ovr_alpr.config import RetentionConfig
from ovr_alpr.events.builder import CropStore


def _picture(root: Path, day: str, name: str, age_days: float, size: int = 10_000) -> Path:
    path = root / "crops" / day / "cam0" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff" * size)
    stamp = time.time() - age_days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_age_limit_deletes_old_pictures_and_empty_folders(tmp_path) -> None:
    old = _picture(tmp_path, "2026-01-01", "a.jpg", age_days=40)
    old_frame = _picture(tmp_path, "2026-01-01", "a-frame.jpg", age_days=40)
    recent = _picture(tmp_path, "2026-11-27", "b.jpg", age_days=1)
    store = CropStore(tmp_path, retention=RetentionConfig(max_age_days=30))
    assert store.prune() == 2
    assert not old.exists() and not old_frame.exists() and recent.exists()
    assert not (tmp_path / "crops" / "2026-01-01").exists()


def test_disk_budget_deletes_oldest_first(tmp_path) -> None:
    paths = [_picture(tmp_path, "2026-11-28", f"{i}.jpg", age_days=5 - i, size=400_000) for i in range(5)]
    store = CropStore(tmp_path, retention=RetentionConfig(max_disk_mb=1.0))  # 5 x 0.38 MiB: 2 fit
    assert store.prune() == 3
    assert [p.exists() for p in paths] == [False, False, False, True, True]


def test_nothing_outside_crops_is_touched_and_save_prunes(tmp_path) -> None:
    outside = tmp_path / "events.jsonl"
    outside.write_text("{}\n")
    os.utime(outside, (0, 0))
    target = tmp_path / "elsewhere"
    target.mkdir()
    keep = target / "precious.jpg"
    keep.write_bytes(b"x")
    os.utime(keep, (0, 0))
    (tmp_path / "crops").mkdir()
    (tmp_path / "crops" / "link").symlink_to(target)
    _picture(tmp_path, "2026-01-01", "old.jpg", age_days=100)
    store = CropStore(tmp_path, retention=RetentionConfig(max_age_days=1, check_every_s=0))
    saved = store.save("e1", "cam0", "2026-11-28", np.zeros((10, 30, 3), np.uint8))
    assert saved and Path(saved).exists() and store.pruned == 1
    assert outside.exists() and keep.exists()


def test_no_limits_no_work(tmp_path) -> None:
    _picture(tmp_path, "2020-01-01", "ancient.jpg", age_days=2000)
    assert CropStore(tmp_path).prune() == 0
