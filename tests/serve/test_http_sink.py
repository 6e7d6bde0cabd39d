"""`http://` sink into a live `serve`: events (with crops) arrive; while the service is down they wait in the
spool and arrive once it is back, each stored once."""

from __future__ import annotations

from pathlib import Path

from ovr_alpr.events.model import ImageRefs
from ovr_alpr.serve.app import create_app
from ovr_alpr.serve.settings import ServeSettings
from ovr_alpr.sinks.http import HttpSink, HttpSinkConfig
from ovr_alpr.store import EventStore
from service_fixtures import JPEG, TOKEN, LiveServer, free_port, minutes, plate_event, wait_until


def _drive(sink: HttpSink, done, timeout_s: float = 15.0) -> bool:
    def step() -> bool:
        sink.poll()
        return done()

    return wait_until(step, timeout_s, 0.02)


def test_nothing_lost_while_the_service_is_down(tmp_path: Path) -> None:
    port = free_port()
    settings = ServeSettings(db=str(tmp_path / "events.db"), output_dir=str(tmp_path), token=TOKEN)
    crop = tmp_path / "crop.jpg"
    crop.write_bytes(JPEG)
    sink = HttpSink(
        HttpSinkConfig(url=f"http://127.0.0.1:{port}", token=TOKEN, timeout_s=2),
        spool_dir=tmp_path / "spool",
        retry_min_s=0.1,
        retry_max_s=0.3,
    )
    first = [plate_event(f"AB{i:03d}CD", at=minutes(i)) for i in range(3)]
    first[0] = first[0].model_copy(update={"images": ImageRefs(plate_url=str(crop))})
    for event in first:  # nobody listens yet
        sink.publish(event)
    assert _drive(sink, lambda: sink.spooled == 3)
    server = LiveServer(create_app(settings), port=port).start()
    try:
        later = [plate_event(f"XY{i:03d}ZZ", at=minutes(10 + i)) for i in range(2)]
        for event in later:
            sink.publish(event)
        assert sink.flush(15.0) == 0
        assert sink.stats.delivered >= 5
        store: EventStore = server.app.state.service.store
        assert store.count() == 5
        assert store.crop_path(first[0].event_id, "plate").read_bytes() == JPEG
    finally:
        sink.close()
        server.stop()


def test_wrong_token_keeps_events_spooled(tmp_path: Path, live_server) -> None:
    server = live_server(ServeSettings(db=str(tmp_path / "events.db"), token=TOKEN))
    sink = HttpSink(
        HttpSinkConfig(url=server.url, token="wrong"), spool_dir=tmp_path / "spool", retry_min_s=0.1
    )
    try:
        sink.publish(plate_event())
        assert sink.flush(2.0) == 1  # refused (401): kept, not dropped
    finally:
        sink.close()
    assert server.app.state.service.store.count() == 0
