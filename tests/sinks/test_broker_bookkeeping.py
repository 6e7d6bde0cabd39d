"""`BrokerSink` bookkeeping, driven by a scripted client: what is spooled, when, and in what order.

Delivery through real brokers is tested in test_kafka_sink.py and test_mqtt_sink.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ovr_alpr.sinks.broker import BrokerSink


class ScriptedSink(BrokerSink):
    """A `BrokerSink` whose client only records what it was given; the test acknowledges by hand."""

    def __init__(self, spool_dir: Path, **delivery) -> None:
        delivery.setdefault("retry_min_s", 0.0)
        delivery.setdefault("retry_max_s", 0.0)
        delivery.setdefault("close_timeout_s", 0.0)
        super().__init__("scripted", spool_dir, **delivery)
        self.sent: list[tuple[int, str]] = []  # (token, event_id)
        self.resets = 0
        self.discards = 0

    def _send(self, token: int, record: str, key: str) -> bool:
        self.sent.append((token, json.loads(record)["event_id"]))
        return True

    def _serve(self, timeout_s: float) -> None:
        time.sleep(min(timeout_s, 0.001))

    def _close_client(self) -> None:
        return None

    def _discard_pending(self) -> None:
        self.discards += 1

    def _reset_client(self) -> None:
        self.resets += 1

    def ack(self, *, fail: bool = False) -> list[str]:
        """Acknowledge (or fail) everything sent so far; return the event ids."""
        sent, self.sent = self.sent, []
        for token, _ in sent:
            self._report_delivery(token, "broker said no" if fail else None)
        self.poll()
        return [event_id for _, event_id in sent]


def test_acknowledged_events_are_not_spooled(tmp_path: Path, events) -> None:
    sink = ScriptedSink(tmp_path)
    batch = events(3)
    for event in batch:
        sink.publish(event)
    assert sink.inflight == 3
    assert sink.ack() == [e.event_id for e in batch]
    assert sink.flush(0.1) == 0 and sink.spooled == 0 and sink.stats.delivered == 3
    sink.close()


def test_failures_and_later_events_are_spooled_then_resent_in_order(tmp_path: Path, events) -> None:
    sink = ScriptedSink(tmp_path)
    first, later = events(2), events(3, start=2)
    for event in first:
        sink.publish(event)
    sink.ack(fail=True)  # the poll inside already sends one spooled event as a probe
    assert sink.stats.failed == 2 and sink.stats.spooled == 2
    # While a backlog exists new events queue behind it, on disk.
    for event in later:
        sink.publish(event)
    assert sink.spooled == 5
    # The probe (oldest event) succeeds, then the rest of its segment follows, then the next segment.
    order = sink.ack()
    while sink.spooled:
        order += sink.ack()
    assert order == [e.event_id for e in first + later]
    assert sink.flush(0.1) == 0 and sink.stats.resent == 5
    assert not list(tmp_path.glob("*.jsonl"))
    sink.close()


def test_unacknowledged_event_is_spooled_after_ack_timeout(tmp_path: Path, events) -> None:
    sink = ScriptedSink(tmp_path, ack_timeout_s=0.05, retry_min_s=60.0, retry_max_s=60.0)
    sink.publish(events(1)[0])
    time.sleep(0.1)
    sink.poll()
    assert sink.inflight == 0 and sink.spooled == 1 and sink.stats.failed == 1
    sink.close()


def test_flush_timeout_moves_inflight_to_spool_and_ignores_late_acks(tmp_path: Path, events) -> None:
    sink = ScriptedSink(tmp_path)
    batch = events(4)
    for event in batch:
        sink.publish(event)
    late = list(sink.sent)
    sink.sent.clear()
    assert sink.flush(0.05) == 4
    assert sink.inflight == 0 and sink.spooled == 4 and sink.discards == 1
    for token, _ in late:
        sink._report_delivery(token, None)
    sink.poll()
    assert sink.stats.delivered == 0  # acks for given-up events change nothing
    sink.close()
    # The next run finds them.
    nxt = ScriptedSink(tmp_path)
    assert nxt.spooled == 4
    order: list[str] = []
    while nxt.spooled:
        nxt.poll()
        order += nxt.ack()
    assert order == [e.event_id for e in batch]
    nxt.close()


def test_spool_from_earlier_run_with_torn_line_is_resent(tmp_path: Path, events) -> None:
    batch = events(3)
    segment = tmp_path / "000000000001.jsonl"
    segment.write_bytes(
        b"".join(e.to_json().encode() + b"\n" for e in batch) + b"not json\n" + b'{"event_id": "torn'
    )
    sink = ScriptedSink(tmp_path)
    assert sink.spooled == 4  # complete lines; the unparsable one is dropped when read
    order: list[str] = []
    for _ in range(10):
        sink.poll()
        order += sink.ack()
    assert order == [e.event_id for e in batch]
    assert sink.spooled == 0 and sink.stats.dropped == 1 and sink._spool.torn_lines == 1
    sink.close()


def test_unusable_client_is_reset_and_its_events_spooled(tmp_path: Path, events) -> None:
    sink = ScriptedSink(tmp_path, retry_min_s=60.0, retry_max_s=60.0)
    for event in events(2):
        sink.publish(event)
    sink._report_client_unusable("fatal: unknown producer id")
    sink._report_client_unusable("fatal: same client again")
    sink.sent.clear()  # what the old client held is gone with it
    sink.poll()
    assert sink.resets == 1 and sink.spooled == 2
    # The new client re-sends them from the spool (a probe first, then the rest).
    while sink.spooled:
        sink.ack()
    assert sink.stats.resent == 2
    sink.close()
