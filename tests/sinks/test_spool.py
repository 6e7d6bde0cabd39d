"""The on-disk spool: order, durability across reopen, torn last lines, atomic rewrite, exclusive use."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovr_alpr.errors import SinkError
from ovr_alpr.sinks.spool import Spool


def _drain_all(spool: Spool) -> list[str]:
    records: list[str] = []
    while (path := spool.oldest()) is not None:
        records += spool.read(path).records
        spool.remove(path)
    return records


def test_records_come_back_oldest_first_across_segments(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", segment_max_records=3) as spool:
        for i in range(8):
            spool.append(f'{{"n": {i}}}')
        assert spool.count == 8
        assert len(spool.segments()) == 3
        assert _drain_all(spool) == [f'{{"n": {i}}}' for i in range(8)]
        assert spool.count == 0 and spool.segments() == []


def test_records_survive_reopen(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append("a")
        spool.append("b")
    with Spool(tmp_path) as spool:
        assert spool.count == 2
        spool.append("c")
        assert _drain_all(spool) == ["a", "b", "c"]


def test_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append('{"id": 1}')
        spool.append('{"id": 2}')
        segment = spool.segments()[0]
    # The process died half-way through writing a third record.
    with open(segment, "ab") as handle:
        handle.write(b'{"id": 3, "pla')
    with Spool(tmp_path) as spool:
        assert spool.count == 2
        path = spool.oldest()
        assert path is not None
        read = spool.read(path)
        assert read.records == ['{"id": 1}', '{"id": 2}'] and read.torn == 1
        assert spool.torn_lines == 1
        # Appends after a restart go to a new segment, never after the torn bytes.
        spool.append('{"id": 4}')
        assert len(spool.segments()) == 2


def test_rewrite_keeps_only_undelivered_atomically(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for name in "abcd":
            spool.append(name)
        path = spool.oldest()
        assert path is not None
        spool.rewrite(path, ["b", "d"])
        assert spool.count == 2
        assert not list(tmp_path.glob("*.tmp"))
        assert spool.read(path).records == ["b", "d"]
        spool.rewrite(path, [])
        assert spool.count == 0 and not path.exists()


def test_leftover_rewrite_file_is_discarded(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append("a")
        segment = spool.segments()[0]
    # A rewrite that died before its rename leaves a .tmp next to the intact segment.
    (segment.parent / (segment.name + ".tmp")).write_text("half")
    with Spool(tmp_path) as spool:
        assert _drain_all(spool) == ["a"]
    assert not list(tmp_path.glob("*.tmp"))


def test_folder_used_by_another_spool_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SinkError, match="in use"):
        Spool(tmp_path)
    Spool(tmp_path).close()  # free again once closed


def test_unwritable_folder_is_a_sink_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="spool"):
        Spool(blocker / "spool")


def test_multiline_record_is_rejected(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool, pytest.raises(ValueError):
        spool.append("a\nb")


_WRITER = """
import sys
from ovr_alpr.sinks.spool import Spool
spool = Spool(sys.argv[1], segment_max_records=40)
i = 0
while True:
    spool.append('{"event_id": "%06d", "camera_id": "cam", "pad": "%s"}' % (i, "x" * 2000))
    print(i, flush=True)
    i += 1
"""


def test_killed_writer_loses_no_acknowledged_record(tmp_path: Path) -> None:
    """A writer killed mid-stream: every append that returned is on disk, intact; at most one line torn."""
    import json
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acknowledged = -1
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 100:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with Spool(tmp_path) as spool:
        records = _drain_all(spool)
        assert spool.torn_lines <= 1
    numbers = [int(json.loads(r)["event_id"]) for r in records]
    assert numbers == list(range(len(numbers)))
    assert len(numbers) >= acknowledged + 1
