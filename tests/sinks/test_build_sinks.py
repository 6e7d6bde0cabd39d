"""`build_sinks` and `SinkSet`: names, default spool folders, setup errors, fan-out."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from ovr_alpr.errors import SinkError
from ovr_alpr.events.model import PlateEvent
from ovr_alpr.pipeline.config import parse_sink_spec
from ovr_alpr.sinks import SINKS, KafkaSink, MqttSink, Sink, SinkSet, build_sinks, sink_name
from ovr_alpr.sinks.base import BaseSink
from ovr_alpr.sinks.csv import CsvSinkConfig
from ovr_alpr.sinks.jsonl import JsonlSinkConfig
from ovr_alpr.sinks.kafka import KafkaSinkConfig
from ovr_alpr.sinks.mqtt import MqttSinkConfig


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_registry_has_every_sink_type() -> None:
    assert {"csv", "db", "http", "jsonl", "kafka", "mqtt"} <= set(SINKS.names())  # tests may register more


@pytest.mark.parametrize(
    "spec, name",
    [
        ("kafka://127.0.0.1:9092/topic", "kafka-127.0.0.1-9092-topic"),
        ("mqtt://broker.local/alpr/events", "mqtt-broker.local-1883-alpr-events"),
        ("jsonl:out/events.jsonl", "jsonl-out-events.jsonl"),
        ("csv:/var/log/alpr.csv", "csv-var-log-alpr.csv"),
    ],
)
def test_sink_names_are_file_name_safe(spec: str, name: str) -> None:
    assert sink_name(parse_sink_spec(spec)) == name


def test_unreachable_brokers_are_not_fatal(tmp_path: Path) -> None:
    port = _closed_port()
    configs = [
        JsonlSinkConfig(path=str(tmp_path / "events.jsonl")),
        CsvSinkConfig(path=str(tmp_path / "events.csv")),
        KafkaSinkConfig(bootstrap_servers=f"127.0.0.1:{port}", topic="t"),
        MqttSinkConfig(host="127.0.0.1", port=port, topic="t"),
    ]
    sinks = build_sinks(configs, tmp_path / "out")
    try:
        assert [s.name for s in sinks] == [sink_name(c) for c in configs]
        assert all(isinstance(s, Sink) for s in sinks)
        kafka, mqtt = sinks[2], sinks[3]
        assert isinstance(kafka, KafkaSink) and isinstance(mqtt, MqttSink)
        assert kafka.spool_dir == tmp_path / "out" / "spool" / f"kafka-127.0.0.1-{port}-t"
        assert mqtt.spool_dir.is_dir()
    finally:
        SinkSet(sinks).close()


def test_spool_dir_from_config_wins(tmp_path: Path) -> None:
    config = KafkaSinkConfig(
        bootstrap_servers=f"127.0.0.1:{_closed_port()}", spool_dir=str(tmp_path / "mine")
    )
    (sink,) = build_sinks([config], tmp_path / "out")
    sink.close()
    assert (tmp_path / "mine").is_dir() and not (tmp_path / "out").exists()


def test_invalid_settings_raise_sink_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError) as err:
        build_sinks([JsonlSinkConfig(path=str(blocker / "e.jsonl"))], tmp_path)
    assert "\n" not in err.value.one_line() and err.value.hint
    with pytest.raises(SinkError, match="invalid producer setting"):
        build_sinks(
            [KafkaSinkConfig(bootstrap_servers="127.0.0.1:1", extra={"no.such.setting": 1})], tmp_path
        )
    with pytest.raises(SinkError, match="spool"):
        build_sinks([MqttSinkConfig(host="127.0.0.1", spool_dir=str(blocker / "spool"))], tmp_path)
    with pytest.raises(SinkError, match="topic"):
        build_sinks([KafkaSinkConfig(bootstrap_servers="127.0.0.1:1", topic="alpr events")], tmp_path)
    with pytest.raises(SinkError, match="cannot publish to topic"):
        build_sinks([MqttSinkConfig(host="127.0.0.1", topic="alpr/#")], tmp_path)
    twice = JsonlSinkConfig(path=str(tmp_path / "e.jsonl"))
    with pytest.raises(SinkError, match="twice"):
        build_sinks([twice, twice], tmp_path)


def test_failed_build_closes_the_sinks_already_built(tmp_path: Path) -> None:
    good = KafkaSinkConfig(bootstrap_servers=f"127.0.0.1:{_closed_port()}", topic="t")
    bad = KafkaSinkConfig(bootstrap_servers="127.0.0.1:1", topic="u", extra={"acks": "sometimes"})
    with pytest.raises(SinkError):
        build_sinks([good, bad], tmp_path)
    # The first sink's spool lock was released, so it can be built again.
    (again,) = build_sinks([good], tmp_path)
    again.close()


class _Counting(BaseSink):
    def __init__(self, name: str, undelivered: int = 0, fail: bool = False) -> None:
        self.name = name
        self.undelivered = undelivered
        self.fail = fail
        self.published: list[str] = []
        self.closed = False

    def publish(self, event: PlateEvent) -> None:
        if self.fail:
            raise RuntimeError("boom")
        self.published.append(event.event_id)

    def poll(self) -> None:
        return None

    def flush(self, timeout_s: float) -> int:
        return self.undelivered

    def close(self) -> None:
        self.closed = True


def test_sink_set_fans_out_and_sums_undelivered(events, caplog) -> None:
    a, broken, c = _Counting("a", 2), _Counting("broken", fail=True), _Counting("c", 3)
    event = events(1)[0]
    with SinkSet([a, broken, c]) as sinks, caplog.at_level(logging.ERROR):
        sinks.publish(event)
        sinks.poll()
        assert sinks.flush(0.1) == 5
    assert a.published == c.published == [event.event_id]
    assert "broken" in caplog.text
    assert a.closed and broken.closed and c.closed


def test_sink_set_with_file_sinks(tmp_path: Path, events) -> None:
    configs = [JsonlSinkConfig(path=str(tmp_path / "e.jsonl")), CsvSinkConfig(path=str(tmp_path / "e.csv"))]
    with SinkSet(build_sinks(configs, tmp_path)) as sinks:
        for event in events(4):
            sinks.publish(event)
        assert sinks.flush(1.0) == 0
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == 4
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 5
