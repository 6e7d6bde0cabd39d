"""A corpus of bad input, generated here (no binaries in git): each ends with the documented exit code,
at most one `error:` line and never a traceback; unreadable frames are skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.cli import main


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((120, 160, 3), 90, np.uint8))
    assert ok
    return data.tobytes()


def _folder(tmp: Path, files: dict[str, bytes]) -> str:
    folder = tmp / "images"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return str(folder)


def _file(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def _config(tmp: Path, data: bytes) -> list[str]:
    return ["--config", _file(tmp, "config.yaml", data)]


RNG = np.random.default_rng(7)

# name -> (builds the arguments in a temp folder, exit code, text the error line must hold, corrupt frames)
CORPUS: dict[str, tuple[Callable[[Path, Path], list[str]], int, str, int | None]] = {
    "truncated jpeg beside a good one": (
        lambda t, c: ["--source", _folder(t, {"a.jpg": _jpeg(), "b.jpg": _jpeg()[:300]})],
        0,
        "",
        1,
    ),
    "zero-byte image": (lambda t, c: ["--source", _folder(t, {"a.png": b"", "b.jpg": _jpeg()})], 0, "", 1),
    "text named .jpg": (lambda t, c: ["--source", _folder(t, {"a.jpg": b"hello, not an image\n"})], 0, "", 1),
    "only non-images in the folder": (
        lambda t, c: ["--source", _folder(t, {"notes.txt": b"x"})],
        3,
        "has no images",
        None,
    ),
    "zero-byte video": (lambda t, c: ["--source", _file(t, "empty.mp4", b"")], 3, "empty.mp4", None),
    "random bytes as .mp4": (
        lambda t, c: ["--source", _file(t, "noise.mp4", RNG.bytes(50_000))],
        3,
        "noise.mp4",
        None,
    ),
    "first half of a real clip": (
        lambda t, c: ["--source", _file(t, "half.mp4", c.read_bytes()[: c.stat().st_size // 2])],
        None,  # FFmpeg may or may not decode the start: 0 with frames, or 3; never a crash
        "",
        None,
    ),
    "non-UTF-8 YAML": (lambda t, c: _config(t, b"cameras:\n  - id: caf\xe9\n"), 2, "not UTF-8", None),
    "binary garbage as YAML": (lambda t, c: _config(t, RNG.bytes(2000)), 2, "config", None),
    "YAML list at the top": (lambda t, c: _config(t, b"- a\n- b\n"), 2, "mapping", None),
    "empty YAML": (lambda t, c: _config(t, b""), 2, "no source", None),
    "unknown sink type": (
        lambda t, c: [*_config(t, b"sinks:\n  - {type: ftp, path: x}\n"), "--source", str(c)],
        2,
        "sinks",
        None,
    ),
    "camera id with a slash": (
        lambda t, c: [*_config(t, b"cameras:\n  - {id: a/b, source: x.mp4}\n")],
        2,
        "camera id",
        None,
    ),
    "inverted roi": (
        lambda t, c: [*_config(t, f"cameras:\n  - {{source: {c}, roi: [50, 50, 10, 10]}}\n".encode())],
        2,
        "roi",
        None,
    ),
    "negative frame skip": (lambda t, c: ["--source", str(c), "--frame-skip", "-1"], 2, "frame_skip", None),
    "unsupported URL scheme": (lambda t, c: ["--source", "ftp://cam/x"], 3, "ftp://", None),
    "missing source": (lambda t, c: ["--source", str(t / "gone.mp4")], 3, "gone.mp4", None),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_bad_input(case, tmp_path, clip, fake_models, capsys):
    build, code, needle, corrupt = CORPUS[case]
    stats = tmp_path / "stats.json"
    args = build(tmp_path, clip)
    got = main(["run", *args, "-o", str(tmp_path / "out"), "--quiet", "--stats-json", str(stats)])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [x for x in err.splitlines() if x.startswith("error:")]
    if code is None:
        assert got in (0, 3), err
        code = got
    assert got == code, err
    if code == 0:
        assert not errors, err
        if corrupt is not None:
            assert json.loads(stats.read_text())["corrupt_frames"] == corrupt
    else:
        assert len(errors) == 1 and needle in errors[0], err
