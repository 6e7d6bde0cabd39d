"""Helpers shared by the event-store, db-sink and event-service tests: events, a real PostgreSQL server,
and a live `ovr-alpr serve` on a free local port.

PostgreSQL is Debian's (`initdb` + `pg_ctl`), started on 127.0.0.1 in a temporary folder; as root it runs
as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ovr_alpr.events.model import ImageRefs, NodeInfo, PlateEvent, PlateInfo, VehicleInfo

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60 + b"\xff\xd9"


def sink_fixtures():
    """The sink tests' conftest (tansu and mosquitto fixtures, `wait_until`), loaded by path."""
    path = Path(__file__).parent / "sinks" / "conftest.py"
    spec = importlib.util.spec_from_file_location("sink_conftest_shared", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plate_event(
    plate: str = "AB123CD",
    camera_id: str = "gate-1",
    at: datetime | None = None,
    confidence: float = 0.9,
    event_id: str | None = None,
    plate_url: str | None = None,
) -> PlateEvent:
    return PlateEvent(
        event_id=event_id or uuid.uuid4().hex,
        captured_at=at or T0,
        camera_id=camera_id,
        track_id=7,
        plate=PlateInfo(text=plate, normalized_text=plate, confidence=confidence, region="eu"),
        vehicle=VehicleInfo(type="car"),
        images=ImageRefs(plate_url=plate_url),
        latency_ms=40.0,
        node=NodeInfo(site="lab", host="edge1"),
        extras={"frame_number": 12, "bbox": [1.0, 2.0, 30.0, 12.0]},
    )


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step_s)
    return True


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


class PostgresServer:
    """A throw-away PostgreSQL on 127.0.0.1:`port`; `new_database()` gives each test its own database."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # False: fsync off, as tests need no crash safety (benchmarks pass True)
        self.initdb = _pg_bin("initdb")
        self.pg_ctl = _pg_bin("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="ovr-alpr-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "alpr"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root and there is no 'postgres' user to run the server"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._count = 0

    def _run(self, *argv: str) -> None:
        result = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {(result.stderr or result.stdout)[-800:]}")

    def start(self) -> None:
        self._run(
            self.initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self._count += 1
        name = f"t{self._count}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------- a live service


class LiveServer:
    """`create_app(...)` served by uvicorn on a thread, on a free 127.0.0.1 port."""

    def __init__(self, app, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        if not wait_until(lambda: self.server.started, 15):
            raise RuntimeError("uvicorn did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
