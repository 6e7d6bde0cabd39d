"""Live sources: latest-frame hand-over, dropped-frame counting, reconnecting, and a prompt close()."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import numpy as np
import pytest
from source_helpers import MjpegCamera, decode_seq, wait_until

from ovr_alpr.config import CameraConfig
from ovr_alpr.sources import CameraSource, LiveSource, StreamSource, open_source
from ovr_alpr.types import Frame


class Consumer:
    """Iterates a source in a thread, like the pipeline does, pausing `delay_s` after each frame."""

    def __init__(self, source: LiveSource, camera: MjpegCamera | None = None, delay_s: float = 0.0) -> None:
        self.frames: queue.Queue[tuple[Frame, int]] = queue.Queue()
        self._source, self._camera, self._delay_s = source, camera, delay_s
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for frame in self._source:
            self.frames.put((frame, self._camera.seq if self._camera else -1))
            time.sleep(self._delay_s)

    def take(self, count: int, timeout_s: float = 10.0) -> list[tuple[Frame, int]]:
        return [self.frames.get(timeout=timeout_s) for _ in range(count)]


def _stream(camera: MjpegCamera, **options: object) -> StreamSource:
    cfg = CameraConfig(id="lane1", source=camera.url, reconnect_max_s=0.4)
    source = open_source(cfg, backoff_initial_s=0.1, read_timeout_s=3.0, open_timeout_s=3.0, **options)
    assert isinstance(source, StreamSource)
    return source


def test_slow_consumer_gets_recent_frames_and_drops_are_counted(mjpeg_camera: MjpegCamera) -> None:
    source = _stream(mjpeg_camera)
    consumer = Consumer(source, mjpeg_camera, delay_s=0.15)
    received = consumer.take(6)
    source.close()
    consumer.thread.join(timeout=5)
    assert not consumer.thread.is_alive(), "close() ends the consumer's loop"
    stats = source.stats

    seqs = [decode_seq(frame.image) for frame, _ in received]
    assert seqs == sorted(set(seqs)), "frames arrive in order, never twice"
    # The camera sends ~15 frames per pause; a queue would fall further behind each time, the latest-frame
    # hand-over stays within a few frames of what the camera last sent.
    lags = [sent - decode_seq(frame.image) for frame, sent in received]
    assert max(lags) < 15, lags
    assert stats.dropped_frames > 0
    assert stats.is_live and stats.kind == "stream"
    assert stats.frames_yielded == 6
    unaccounted = stats.frames_read - stats.frames_yielded - stats.dropped_frames
    assert unaccounted in (0, 1), "every frame read is yielded, dropped, or the one still waiting"
    assert stats.input_fps > 0

    times = [frame.captured_at for frame, _ in received]
    assert times == sorted(times)
    assert all(abs((datetime.now(timezone.utc) - t).total_seconds()) < 60 for t in times)


def test_reconnects_after_the_camera_restarts(
    mjpeg_camera: MjpegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ovr_alpr.sources")
    source = _stream(mjpeg_camera)
    consumer = Consumer(source, mjpeg_camera)
    consumer.take(1)

    mjpeg_camera.stop()
    assert wait_until(lambda: source.stats.reconnect_attempts >= 2), "keeps retrying while the camera is down"
    assert not source.stats.connected
    mjpeg_camera.start(first_seq=2000)  # same port, new numbers
    assert wait_until(lambda: source.stats.reconnects >= 1)
    deadline = time.monotonic() + 10
    while decode_seq(consumer.take(1)[0][0].image) < 2000:
        assert time.monotonic() < deadline, "no frame from the restarted camera"

    source.close()
    consumer.thread.join(timeout=5)
    assert not consumer.thread.is_alive()
    assert not source.is_running
    messages = caplog.text
    assert "reconnect attempt 1" in messages and "reconnect attempt 2" in messages
    assert "reconnected to" in messages


# ---------------------------------------------------------------- with an injected capture


class FakeCapture:
    """Plays a script: True = a frame, False = a failed read; after the script, reads fail (end)."""

    def __init__(self, script: list[bool]) -> None:
        self._script: Iterator[bool] = iter(script)
        self.count = 0

    def isOpened(self) -> bool:
        return True

    def grab(self) -> bool:
        time.sleep(0.002)
        ok = next(self._script, False)
        self.count += ok
        return ok

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, np.full((4, 4, 3), self.count, np.uint8)

    def get(self, prop_id: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


class ClosedCapture(FakeCapture):
    def isOpened(self) -> bool:
        return False


def _camera(*captures: FakeCapture, **options: object) -> CameraSource:
    """A camera source whose successive connections are `captures`, then connections that fail."""
    queue_ = iter(captures)
    cfg = CameraConfig(id="cam0", source="0", reconnect_max_s=float(options.pop("reconnect_max_s", 30.0)))
    return CameraSource(cfg, capture_factory=lambda: next(queue_, ClosedCapture([])), **options)


def test_a_bad_read_is_counted_without_reconnecting() -> None:
    source = _camera(FakeCapture([True, True, False, True, True, *[True] * 50]), max_bad_reads=3)
    assert wait_until(lambda: source.stats.frames_read >= 50)
    source.close()
    stats = source.stats
    assert stats.corrupt_frames == 1
    assert stats.reconnect_attempts == 0


def test_backoff_between_failed_reconnects(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ovr_alpr.sources")
    fakes = [FakeCapture([True] * 3), ClosedCapture([]), ClosedCapture([]), FakeCapture([True] * 500)]
    source = _camera(*fakes, reconnect_max_s=0.08, backoff_initial_s=0.02)
    assert wait_until(lambda: source.stats.reconnects == 1)
    source.close()
    stats = source.stats
    assert (stats.reconnect_attempts, stats.reconnects, stats.corrupt_frames) == (3, 1, 0)
    announced = [r for r in caplog.records if r.msg.startswith("camera %s: reconnect attempt %d to")]
    assert [r.args[-1] for r in announced] == [0.02, 0.04, 0.08]


def test_close_interrupts_the_backoff_wait() -> None:
    source = _camera(FakeCapture([True]), reconnect_max_s=60, backoff_initial_s=30)
    assert wait_until(lambda: not source.stats.connected)
    source.close()
    assert not source.is_running
    assert source.stats.reconnect_attempts == 0


def test_fail_fast_off_keeps_retrying_in_the_background() -> None:
    source = _camera(ClosedCapture([]), FakeCapture([True] * 500), backoff_initial_s=0.01, fail_fast=False)
    assert wait_until(lambda: source.stats.frames_read > 0)
    source.close()
    assert source.stats.reconnects == 1


def test_next_frame_polls_with_a_timeout() -> None:
    source = _camera(FakeCapture([True]), backoff_initial_s=30)
    first = source.next_frame(timeout_s=5)
    assert first is not None and first.index == 0
    assert source.next_frame(timeout_s=0.05) is None, "no newer frame: times out"
    source.close()
    assert source.next_frame(timeout_s=5) is None, "closed: returns at once"
