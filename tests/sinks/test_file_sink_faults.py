"""File sinks on a failing disk: never a torn or repeated line, nothing lost; unwritten events are spooled."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovr_alpr.sinks import CsvSink, JsonlSink, Spool
from ovr_alpr.sinks import files as files_module
from ovr_alpr.sinks.csv import CsvSinkConfig
from ovr_alpr.sinks.jsonl import JsonlSinkConfig


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["event_id"] for line in path.read_text().splitlines()]


@contextlib.contextmanager
def _small_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the disk with one file; return it (remove it to free the disk)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"x" * 1024)
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"x")
    return filler


def test_dev_full_spools_every_event_and_the_next_run_writes_them(tmp_path: Path, events, caplog) -> None:
    spool_dir = tmp_path / "spool" / "jsonl-x"
    sent = events(3)
    sink = JsonlSink(JsonlSinkConfig(path="/dev/full"), spool_dir=spool_dir)
    with caplog.at_level(logging.WARNING):
        for event in sent:
            sink.publish(event)
        assert sink.flush(0.1) == 3
        sink.close()
    assert sink.stats.spooled == 3 and sink.stats.dropped == 0
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("cannot write /dev/full" in m for m in warnings) == 1  # one line per outage, not per event
    assert any("kept in" in m and str(spool_dir) in m for m in warnings)
    with Spool(spool_dir) as spool:
        assert spool.count == 3
    # the next run (same spool, a writable file) writes them first, in order, once
    out = tmp_path / "events.jsonl"
    again = JsonlSink(JsonlSinkConfig(path=str(out)), spool_dir=spool_dir)
    later = events(1, start=3)[0]
    again.publish(later)
    again.close()
    assert _ids(out) == [e.event_id for e in [*sent, later]]
    assert not list(spool_dir.glob("*.jsonl"))


def test_a_disk_that_fills_and_frees_loses_and_repeats_nothing(tmp_path: Path, events) -> None:
    sent = events(12)
    with _small_disk(tmp_path / "disk") as disk:
        out = disk / "events.jsonl"
        sink = JsonlSink(JsonlSinkConfig(path=str(out)), spool_dir=tmp_path / "spool", retry_min_s=0.0)
        for event in sent[:2]:
            sink.publish(event)
        filler = _fill(disk)
        for event in sent[2:10]:
            sink.publish(event)
            # whatever reached the file so far is whole lines of distinct events
            assert len(set(_ids(out))) == len(_ids(out))
        assert sink.spooled > 0 and sink.stats.failed > 0
        filler.unlink()
        sink.poll()
        for event in sent[10:]:
            sink.publish(event)
        assert sink.flush(0.1) == 0
        sink.close()
        ids = _ids(out)
    assert sorted(ids) == sorted(e.event_id for e in sent) and len(ids) == len(sent)


def test_spool_on_the_same_full_disk_holds_events_in_memory_until_it_frees(tmp_path: Path, events) -> None:
    sent = events(40)
    with _small_disk(tmp_path / "disk") as disk:
        out = disk / "events.csv"
        sink = CsvSink(CsvSinkConfig(path=str(out)), spool_dir=disk / "spool", retry_min_s=0.0)
        sink.publish(sent[0])
        filler = _fill(disk)
        for event in sent[1:39]:  # the file's last page takes some rows, then the disk refuses
            sink.publish(event)
        assert sink.spooled >= 10 and sink._memory  # the spool could not be written either
        filler.unlink()
        sink.publish(sent[39])
        assert sink.flush(0.1) == 0
        sink.close()
        with open(out, newline="") as handle:
            rows = list(csv.DictReader(handle))
    assert sorted(r["event_id"] for r in rows) == sorted(e.event_id for e in sent)


class _FlakyDisk:
    """Stands in for `os.write` on one fd: the next `fail` writes store `part` bytes, then raise ENOSPC."""

    def __init__(self, fd: int, fail: int, part: int = 7) -> None:
        self.fd, self.fail, self.part = fd, fail, part
        self.real = os.write

    def __call__(self, fd: int, data: bytes) -> int:
        if fd != self.fd or self.fail <= 0:
            return self.real(fd, data)
        if getattr(self, "_half", False):
            self._half = False
            self.fail -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        self._half = True
        return self.real(fd, bytes(data)[: self.part])


@pytest.mark.parametrize("sink_cls, config_cls", [(JsonlSink, JsonlSinkConfig), (CsvSink, CsvSinkConfig)])
def test_half_written_events_are_cut_back_and_written_once(
    tmp_path: Path, events, monkeypatch, sink_cls, config_cls
) -> None:
    out = tmp_path / "events.out"
    sink = sink_cls(config_cls(path=str(out)), spool_dir=tmp_path / "spool", retry_min_s=0.0)
    flaky = _FlakyDisk(sink._fd, fail=3)
    monkeypatch.setattr(files_module.os, "write", flaky)
    sent = events(5)
    for event in sent:
        sink.publish(event)
    monkeypatch.undo()
    assert sink.flush(0.1) == 0
    sink.close()
    text = out.read_text()
    if sink_cls is JsonlSink:
        ids = _ids(out)
    else:
        assert text.count("event_id,") == 1
        ids = [row["event_id"] for row in csv.DictReader(text.splitlines())]
    assert sorted(ids) == sorted(e.event_id for e in sent) and len(ids) == 5


def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path: Path, events) -> None:
    event = events(1)[0]
    event = event.model_copy(
        update={
            "camera_id": '=HYPERLINK("http://x")',
            "node": event.node.model_copy(update={"site": "+1", "host": "@host"}),
            "plate": event.plate.model_copy(update={"text": "-AB12"}),
        }
    )
    out = tmp_path / "events.csv"
    sink = CsvSink(CsvSinkConfig(path=str(out)), spool_dir=tmp_path / "spool")
    sink.publish(event)
    sink.close()
    with open(out, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["camera_id"] == '\'=HYPERLINK("http://x")'
    assert (row["site"], row["host"], row["plate_text"]) == ("'+1", "'@host", "'-AB12")
    assert row["plate_normalized"] == event.plate.normalized_text  # plain cells are unchanged
