"""Fixtures for the event-service tests: an app on a fresh SQLite store, a live server, real brokers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ovr_alpr.serve.app import create_app
from ovr_alpr.serve.settings import ServeSettings
from service_fixtures import TOKEN, LiveServer, sink_fixtures

_sinks = sink_fixtures()
tansu = _sinks.tansu
mosquitto = _sinks.mosquitto


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServeSettings:
    monkeypatch.delenv("OVR_ALPR_API_TOKEN", raising=False)
    return ServeSettings(db=str(tmp_path / "events.db"), output_dir=str(tmp_path), token=TOKEN)


@pytest.fixture
def client(settings: ServeSettings):
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def live_server() -> Iterator[Callable[[ServeSettings], LiveServer]]:
    """`live_server(settings)` -> a running uvicorn on a free port, stopped after the test."""
    servers: list[LiveServer] = []

    def start(settings: ServeSettings) -> LiveServer:
        server = LiveServer(create_app(settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
