"""Serve settings (YAML, env token, validation) and retention run by the service."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ovr_alpr.errors import ConfigError
from ovr_alpr.serve.service import EventService
from ovr_alpr.serve.settings import ServeSettings, load_settings
from service_fixtures import JPEG, plate_event


def test_settings_from_yaml_and_options(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OVR_ALPR_API_TOKEN", raising=False)
    path = tmp_path / "serve.yaml"
    path.write_text("port: 9000\ntoken: from-file\nwebhooks: [http://127.0.0.1:1/hook]\nretention_days: 7\n")
    settings = load_settings(path, port=9100, host=None)
    assert (settings.port, settings.host, settings.api_token, settings.retention_days) == (
        9100,
        "127.0.0.1",
        "from-file",
        7,
    )
    monkeypatch.setenv("OVR_ALPR_API_TOKEN", "from-env")
    assert load_settings(None).api_token == "from-env"
    assert load_settings(None).db_target.endswith("events.db")
    for bad in ("nosuchkey: 1\n", "port: -5\n", "kafka: justahost\n"):
        path.write_text(bad)
        with pytest.raises(ConfigError):
            load_settings(path)
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "missing.yaml")


def test_service_retention_removes_old_events(tmp_path) -> None:
    now = datetime.now(timezone.utc)
    service = EventService(ServeSettings(db=str(tmp_path / "e.db"), retention_days=1))
    try:
        old, new = plate_event("OLD1", at=now - timedelta(days=3)), plate_event("NEW1", at=now)
        service.ingest([old, new], {old.event_id: {"plate": JPEG}})
        crop = service.store.crop_path(old.event_id, "plate")
        assert service.run_retention() == 1
        assert service.store.get(old.event_id) is None and not crop.exists()
        assert "alpr_retention_deleted_events_total 1.0" in service.metrics.render().decode()
    finally:
        service.close()
