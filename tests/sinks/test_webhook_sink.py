"""Webhook sink against a real local HTTP server that fails (503, closed port) and recovers."""

from __future__ import annotations

import email.parser
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.errors import ConfigError
from ovr_alpr.events.model import ImageRefs, PlateEvent, PlateInfo
from ovr_alpr.pipeline.config import AppConfig, parse_sink_spec
from ovr_alpr.sinks import build_sinks
from ovr_alpr.sinks.webhook import REJECTED_FILE, WebhookSink, WebhookSinkConfig


def make_event(index: int) -> PlateEvent:
    text = f"AB{index:04d}C"
    return PlateEvent(
        captured_at=datetime(2024, 5, 1, 12, 0, index % 60, tzinfo=timezone.utc),
        camera_id="cam1",
        track_id=index,
        plate=PlateInfo(text=text, normalized_text=text, confidence=0.91, region="eu"),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
    return True


class Receiver:
    """An HTTP server on 127.0.0.1:`port` recording each POST; `status` sets its answer, `stop`/`start`
    close and reopen the port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.status = 200
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def event_ids(self) -> list[str]:
        with self.lock:
            return [r["event"]["event_id"] for r in self.requests if r["status"] == 200]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get("Content-Type", "")
                record = {"status": receiver.status, "headers": dict(self.headers), "files": {}}
                if kind.startswith("multipart/form-data"):
                    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        f"Content-Type: {kind}\r\n\r\n".encode() + body
                    )
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        if name == "event":
                            record["event"] = json.loads(part.get_content())
                        else:
                            record["files"][name] = part.get_payload(decode=True)
                else:
                    record["event"] = json.loads(body)
                with receiver.lock:
                    receiver.requests.append(record)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver():
    server = Receiver(free_port())
    server.start()
    yield server
    server.stop()


def _sink(url: str, spool: Path, **config) -> WebhookSink:
    return WebhookSink(
        WebhookSinkConfig(url=url, timeout_s=2.0, **config),
        spool_dir=spool,
        retry_min_s=0.05,
        retry_max_s=0.2,
        close_timeout_s=0.5,
    )


def _pump(sink: WebhookSink, condition, timeout_s: float = 10.0) -> bool:
    def step() -> bool:
        sink.poll()
        sink._serve(0.02)
        return condition()

    return wait_until(step, timeout_s)


def test_spec_and_yaml_sections() -> None:
    config = parse_sink_spec("webhook:https://hooks.example.com:8443/alpr?key=secret")
    assert isinstance(config, WebhookSinkConfig) and config.url.endswith("?key=secret")
    assert "secret" not in config.target()
    assert parse_sink_spec("webhook:http://127.0.0.1/x").url == "http://127.0.0.1/x"
    with pytest.raises(ConfigError, match=r"cannot parse sink .webhook:ftp"):
        parse_sink_spec("webhook:ftp://host/x")
    app = AppConfig.model_validate(
        {"sinks": [{"type": "webhook", "url": "https://h/x", "token": "t0k", "multipart": True}]}
    )
    assert app.sinks[0].multipart and "t0k" not in repr(app.sinks[0])


def test_posts_json_with_token_and_headers(tmp_path: Path, receiver: Receiver) -> None:
    sink = _sink(receiver.url, tmp_path / "spool", token="s3cret", headers={"X-Site": "gate-1"})
    batch = [make_event(i) for i in range(3)]
    for event in batch:
        sink.publish(event)
    assert sink.flush(5.0) == 0
    assert sorted(receiver.event_ids()) == sorted(e.event_id for e in batch)
    headers = receiver.requests[0]["headers"]
    assert headers["Authorization"] == "Bearer s3cret" and headers["X-Site"] == "gate-1"
    assert headers["Idempotency-Key"] == receiver.requests[0]["event"]["event_id"]
    assert sink.stats.delivered == 3 and sink.spooled == 0
    sink.close()


def test_multipart_carries_the_images(tmp_path: Path, receiver: Receiver) -> None:
    plate = tmp_path / "plate.jpg"
    cv2.imwrite(str(plate), np.full((20, 80, 3), 200, np.uint8))
    event = make_event(1).model_copy(
        update={"images": ImageRefs(plate_url=str(plate), vehicle_url=str(tmp_path / "missing.jpg"))}
    )
    sink = _sink(receiver.url, tmp_path / "spool", multipart=True)
    sink.publish(event)
    assert sink.flush(5.0) == 0
    (request,) = receiver.requests
    assert request["event"]["event_id"] == event.event_id
    assert request["files"] == {"plate_image": plate.read_bytes()}  # a missing image is left out
    sink.close()


def test_nothing_lost_while_receiver_answers_503(tmp_path: Path, receiver: Receiver) -> None:
    sink = _sink(receiver.url, tmp_path / "spool")
    receiver.status = 503
    down = [make_event(i) for i in range(5)]
    for event in down:
        sink.publish(event)
    assert _pump(sink, lambda: sink.spooled == 5)
    assert receiver.event_ids() == []
    receiver.status = 200
    later = [make_event(i) for i in range(5, 8)]
    for event in later:
        sink.publish(event)
    assert sink.flush(10.0) == 0
    ids = receiver.event_ids()
    assert Counter(ids) == Counter(e.event_id for e in down + later)  # each exactly once
    assert sink.stats.failed >= 1 and sink.spooled == 0
    sink.close()


def test_closed_port_then_new_sink_resends_the_spool(tmp_path: Path) -> None:
    port = free_port()
    receiver = Receiver(port)  # not started: connection refused
    spool = tmp_path / "spool"
    sink = _sink(receiver.url, spool)
    batch = [make_event(i) for i in range(6)]
    for event in batch:
        sink.publish(event)
    assert sink.flush(0.5) == 6
    sink.close()  # a restart of ovr-alpr: the events stay on disk
    assert sink.spooled == 6
    receiver.start()
    try:
        again = _sink(receiver.url, spool)
        assert again.spooled == 6
        assert again.flush(10.0) == 0
        assert Counter(receiver.event_ids()) == Counter(e.event_id for e in batch)
        assert sorted(receiver.event_ids()) == sorted(e.event_id for e in batch)
        again.close()
    finally:
        receiver.stop()


def test_receiver_down_mid_run_and_back(tmp_path: Path, receiver: Receiver) -> None:
    sink = _sink(receiver.url, tmp_path / "spool")
    first = [make_event(i) for i in range(3)]
    for event in first:
        sink.publish(event)
    assert sink.flush(5.0) == 0
    receiver.stop()
    gone = [make_event(i) for i in range(3, 7)]
    for event in gone:
        sink.publish(event)
    assert _pump(sink, lambda: sink.spooled == 4)
    receiver.start()
    assert sink.flush(10.0) == 0
    assert Counter(receiver.event_ids()) == Counter(e.event_id for e in first + gone)
    sink.close()


def test_a_rejected_event_is_kept_aside_and_does_not_block(tmp_path: Path, receiver: Receiver) -> None:
    sink = _sink(receiver.url, tmp_path / "spool")
    receiver.status = 422
    bad = make_event(1)
    sink.publish(bad)
    assert sink.flush(5.0) == 0
    receiver.status = 200
    good = make_event(2)
    sink.publish(good)
    assert sink.flush(5.0) == 0
    assert receiver.event_ids() == [good.event_id]
    kept = (tmp_path / "spool" / REJECTED_FILE).read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in kept] == [bad.event_id] and sink.rejected == 1
    sink.close()


def test_build_sinks_names_and_spools_it(tmp_path: Path, receiver: Receiver) -> None:
    (sink,) = build_sinks([parse_sink_spec(f"webhook:{receiver.url}")], tmp_path)
    assert sink.name == f"webhook-127.0.0.1-{receiver.port}-hook"
    assert sink.spool_dir == tmp_path / "spool" / sink.name
    sink.publish(make_event(0))
    assert sink.flush(5.0) == 0 and len(receiver.event_ids()) == 1
    sink.close()
