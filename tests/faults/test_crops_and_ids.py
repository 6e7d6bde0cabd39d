"""A crop that cannot be saved costs the picture, never the event; camera ids cannot leave the output dir."""

from __future__ import annotations

import contextlib
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ovr_alpr.cli import main
from ovr_alpr.config import CameraConfig
from ovr_alpr.events.builder import CropStore
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig

CROP = np.full((20, 60, 3), 128, np.uint8)


@contextlib.contextmanager
def _tmpfs(folder: Path, *options: str):
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=64k", *options]), "tmpfs", str(folder)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_crop_folder_blocked_by_a_file(tmp_path, caplog):
    (tmp_path / "crops").write_text("not a folder")
    store = CropStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert store.save("e1", "cam0", "2026-01-01", CROP) is None
    assert store.failures == 1
    assert any("e1 not saved" in r.getMessage() for r in caplog.records)


def test_read_only_output_dir(tmp_path):
    with _tmpfs(tmp_path / "ro", "ro") as ro:
        store = CropStore(ro)
        assert store.save("e1", "cam0", "2026-01-01", CROP) is None
    assert store.failures == 1


def test_full_disk(tmp_path):
    with _tmpfs(tmp_path / "full") as disk:
        with contextlib.suppress(OSError), open(disk / "filler", "wb", buffering=0) as handle:
            while True:
                handle.write(b"x" * 4096)
        store = CropStore(disk)
        big = np.random.default_rng(0).integers(0, 255, (200, 400, 3), dtype=np.uint8)
        assert store.save("e1", "cam0", "2026-01-01", big) is None
    assert store.failures == 1


@pytest.mark.parametrize("camera_id", ["../../x", "/tmp/abs", "..", "a/b", "x y", ""])
def test_crop_paths_never_leave_the_output_dir(tmp_path, camera_id):
    store = CropStore(tmp_path / "out")
    path = store.save("e1", camera_id, "2026-01-01", CROP)
    if path is not None:  # only a harmless id like "" may save, and then inside OUT/crops
        assert Path(path).resolve().is_relative_to((tmp_path / "out" / "crops").resolve())
    assert not list(tmp_path.glob("x*")) and not Path("/tmp/abs").exists()


def test_run_publishes_every_event_without_its_crop(tmp_path, clip, fake_models):
    out = tmp_path / "out"
    out.mkdir()
    (out / "crops").write_text("a file where the crops folder should be")
    cfg = AppConfig(
        cameras=[CameraConfig(id="cam0", source=str(clip))],
        output_dir=str(out),
        sinks=[{"type": "jsonl", "path": str(tmp_path / "events.jsonl")}],
    )
    result = Pipeline(cfg).run()
    assert result.stats["events"] == 2 and result.stats["crop_failures"] == 2
    assert all(e.images.plate_url is None for e in result.events)
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("camera_id", ["../../x", "/etc/cam", "..", "cam 1", "cam/1", "x" * 65])
def test_unsafe_camera_ids_are_config_errors(camera_id):
    with pytest.raises(ValidationError, match="camera id"):
        CameraConfig(id=camera_id)


@pytest.mark.parametrize("camera_id", ["cam0", "Gate-2.north_in", "0"])
def test_safe_camera_ids(camera_id):
    assert CameraConfig(id=camera_id).id == camera_id


def test_cli_camera_id_traversal_is_one_line(tmp_path, clip, capsys):
    code = main(["run", "--source", str(clip), "--camera-id", "../../x", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "cameras.0.id" in lines[0] and "ConfigError" in lines[0]
