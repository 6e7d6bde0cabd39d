"""Fixtures for the event-store tests: a store on SQLite and, where it can start, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ovr_alpr.store import EventStore
from service_fixtures import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
        server.start()
    except Exception as exc:
        pytest.skip(f"PostgreSQL cannot start here ({exc}); apt-get install postgresql")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """An empty store on each database; crops under tmp_path/crops."""
    if request.param == "sqlite":
        target = str(tmp_path / "events.db")
    else:
        target = request.getfixturevalue("postgres").new_database()
    with EventStore(target, crops_dir=tmp_path / "crops") as s:
        yield s
