"""MQTT credentials written in the sink URL reach a broker that requires them."""

from __future__ import annotations

import pytest

from ovr_alpr.pipeline.config import parse_sink_spec
from ovr_alpr.sinks import build_sinks

pytestmark = pytest.mark.integration


def test_mqtt_credentials_from_the_url_reach_the_broker(tmp_path, events, mosquitto_with_password, caplog):
    port = mosquitto_with_password.port
    for spec, delivered in [
        (f"mqtt://alice:s%40cr3t@127.0.0.1:{port}/alpr/x", True),
        (f"mqtt://127.0.0.1:{port}/alpr/x", False),  # anonymous: refused by this broker
    ]:
        (sink,) = build_sinks([parse_sink_spec(spec)], tmp_path / ("ok" if delivered else "anon"))
        sink.publish(events(1)[0])
        left = sink.flush(5.0 if delivered else 1.5)
        sink.close()
        assert (left == 0) is delivered, spec
    assert "cr3t" not in caplog.text
