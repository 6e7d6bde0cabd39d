import pytest

from ovr_alpr.errors import ConfigError
from ovr_alpr.pipeline.config import AppConfig, load_config, parse_sink_spec
from ovr_alpr.sinks.kafka import KafkaSinkConfig
from ovr_alpr.sinks.mqtt import MqttSinkConfig


def test_defaults_are_the_embedded_offline_models():
    cfg = AppConfig()
    assert cfg.plate_detector.model.path is None and cfg.ocr.model.path is None
    assert cfg.vehicle_detector is None and cfg.events.dedup_similarity == 0.85
    assert cfg.events.dedup_window_s == 300


def test_sink_specs():
    k = parse_sink_spec("kafka://10.0.0.5:9093/alpr")
    assert isinstance(k, KafkaSinkConfig) and k.bootstrap_servers == "10.0.0.5:9093" and k.topic == "alpr"
    m = parse_sink_spec("mqtt://broker/plates/gate")
    assert isinstance(m, MqttSinkConfig) and m.port == 1883 and m.topic == "plates/gate"
    assert parse_sink_spec("jsonl:out/e.jsonl").path == "out/e.jsonl"
    with pytest.raises(ConfigError):
        parse_sink_spec("kafka://:9092/x")


def test_yaml_with_two_cameras_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "cameras:\n  - {id: a, source: a.mp4}\n  - {id: b, source: rtsp://cam/b, frame_skip: 2}\n"
        "sinks:\n  - {type: mqtt, host: 127.0.0.1}\n"
    )
    cfg = load_config(f, {"ocr.max_attempts": 2})
    assert [c.id for c in cfg.cameras] == ["a", "b"] and cfg.cameras[1].frame_skip == 2
    assert cfg.ocr.max_attempts == 2 and cfg.sinks[0].qos == 1


@pytest.mark.parametrize(
    "text, key",
    [
        ("cameras:\n  - {id: a, source: x}\n  - {id: a, source: y}\n", "unique"),
        ("plate_detector:\n  model:\n    device: gpu\n", "plate_detector.model.device"),
        ("sinks:\n  - {type: ftp, path: x}\n", "sinks.0"),
        ("events:\n  regions: {bad: '[A-'}\n", "events.regions"),
    ],
)
def test_invalid_configs_name_the_problem(tmp_path, text, key):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert key in err.value.one_line()
