"""JSONL and CSV sinks: round trip, header once, folders created, unusable paths refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ovr_alpr.errors import SinkError
from ovr_alpr.events.model import PlateEvent
from ovr_alpr.sinks import CsvSink, JsonlSink
from ovr_alpr.sinks.csv import CSV_COLUMNS, CsvSinkConfig
from ovr_alpr.sinks.jsonl import JsonlSinkConfig


def test_jsonl_round_trip_creates_folders(tmp_path: Path, events) -> None:
    path = tmp_path / "a" / "b" / "events.jsonl"
    sent = events(3)
    sink = JsonlSink(JsonlSinkConfig(path=str(path)))
    for event in sent:
        sink.publish(event)
    # Flushed per event: readable before close.
    assert len(path.read_text().splitlines()) == 3
    assert sink.flush(1.0) == 0
    sink.close()
    assert [PlateEvent.from_json(line) for line in path.read_text().splitlines()] == sent


def test_jsonl_appends_across_instances(tmp_path: Path, events) -> None:
    path = tmp_path / "events.jsonl"
    for batch in (events(2), events(2, start=2)):
        sink = JsonlSink(JsonlSinkConfig(path=str(path)))
        for event in batch:
            sink.publish(event)
        sink.close()
    ids = [json.loads(line)["event_id"] for line in path.read_text().splitlines()]
    assert len(ids) == 4 and len(set(ids)) == 4


def test_csv_columns_and_values(tmp_path: Path, events) -> None:
    path = tmp_path / "out" / "events.csv"
    sent = events(2)
    sink = CsvSink(CsvSinkConfig(path=str(path)))
    for event in sent:
        sink.publish(event)
    sink.close()
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert [r["event_id"] for r in rows] == [e.event_id for e in sent]
    row, event = rows[1], sent[1]
    assert row["captured_at"] == "2024-05-01T12:00:01.123Z"
    assert row["plate_text"] == event.plate.text and row["plate_normalized"] == event.plate.normalized_text
    assert float(row["plate_confidence"]) == pytest.approx(0.91)
    assert row["region"] == "eu" and row["vehicle_type"] == "car" and row["plate_url"] == "crops/1.jpg"
    assert (row["site"], row["host"], row["track_id"], row["frame_number"]) == ("lab", "edge1", "1", "101")
    assert json.loads(row["bbox"]) == [10.0, 20.0, 110.0, 50.0]
    assert float(row["quality_score"]) == pytest.approx(0.8) and float(row["latency_ms"]) == pytest.approx(
        42.5
    )


def test_csv_appends_without_second_header(tmp_path: Path, events) -> None:
    path = tmp_path / "events.csv"
    for batch in (events(2), events(3, start=2)):
        sink = CsvSink(CsvSinkConfig(path=str(path)))
        for event in batch:
            sink.publish(event)
        sink.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 5
    assert sum(line.startswith("event_id,") for line in lines) == 1


def test_csv_missing_values_are_empty(tmp_path: Path, events) -> None:
    event = events(1)[0].model_copy(update={"extras": {}, "latency_ms": None})
    path = tmp_path / "events.csv"
    sink = CsvSink(CsvSinkConfig(path=str(path)))
    sink.publish(event)
    sink.close()
    with open(path, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["bbox"] == row["frame_number"] == row["latency_ms"] == row["quality_score"] == ""


@pytest.mark.parametrize("sink_cls, config_cls", [(JsonlSink, JsonlSinkConfig), (CsvSink, CsvSinkConfig)])
def test_unusable_path_is_a_sink_error(tmp_path: Path, sink_cls, config_cls) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(SinkError) as err:
        sink_cls(config_cls(path=str(blocker / "events.out")))
    line = err.value.one_line()
    assert "not-a-folder" in line and "->" in line and "\n" not in line
