"""Watchlists (allow/deny/watch, plates or patterns, fuzzy tolerance) raise alerts: stored with the event,
sent to the page's live stream and to webhooks (retried until the receiver takes them)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from ovr_alpr.serve.settings import ServeSettings
from ovr_alpr.serve.watch import WatchMatcher
from ovr_alpr.store import Watchlist, WatchlistEntry
from service_fixtures import AUTH, TOKEN, minutes, plate_event, wait_until


def test_matcher_plates_patterns_and_tolerance() -> None:
    matcher = WatchMatcher(
        [
            Watchlist("stolen", "deny", 1, (WatchlistEntry("AB123CD"),)),
            Watchlist("staff", "allow", 0, (WatchlistEntry("ST*"), WatchlistEntry("?X99"))),
        ]
    )
    assert [(h.watchlist, h.distance) for h in matcher.match("AB123CO")] == [("stolen", 1)]
    assert matcher.match("AB12300") == []
    assert [h.watchlist for h in matcher.match("st-1234")] == ["staff"]
    assert [h.pattern for h in matcher.match("QX99")] == ["?X99"]
    assert matcher.match("QQX99") == []


def test_watchlist_api_and_alert_stored_with_event(client) -> None:
    body = {"label": "deny", "tolerance": 1, "entries": [{"pattern": "AB123CD", "note": "stolen 1 May"}]}
    assert client.put("/api/watchlists/stolen", json=body, headers=AUTH).status_code == 200
    assert (
        client.put(
            "/api/watchlists/vip", json={"label": "allow", "entries": [{"pattern": "VIP*"}]}, headers=AUTH
        ).status_code
        == 200
    )
    assert [w["name"] for w in client.get("/api/watchlists").json()] == ["stolen", "vip"]
    for bad in ({"label": "block"}, {"tolerance": 5}, {"entries": [{"pattern": "AB'; --"}]}, {"extra": 1}):
        assert client.put("/api/watchlists/bad", json=bad, headers=AUTH).status_code == 422
    assert client.put("/api/watchlists/..%2Fx", json={}, headers=AUTH).status_code in (404, 422)

    hit, miss = plate_event("AB123CO", at=minutes(1)), plate_event("ZZ000ZZ", at=minutes(2))
    response = client.post("/api/events", json=[hit.to_dict(), miss.to_dict()], headers=AUTH).json()
    assert [(a["watchlist"], a["label"], a["distance"]) for a in response["alerts"]] == [
        ("stolen", "deny", 1)
    ]
    detail = client.get(f"/api/events/{hit.event_id}").json()
    assert [a["watchlist"] for a in detail["alerts"]] == ["stolen"]
    assert client.get(f"/api/events/{miss.event_id}").json()["alerts"] == []
    # a re-delivered event raises no second alert
    assert client.post("/api/events", json=hit.to_dict(), headers=AUTH).json()["alerts"] == []
    assert len(client.get("/api/alerts").json()) == 1
    assert (
        client.post("/api/events", json=plate_event("VIP42").to_dict(), headers=AUTH).json()["alerts"][0][
            "label"
        ]
        == "allow"
    )
    assert client.delete("/api/watchlists/vip", headers=AUTH).status_code == 204
    assert (
        client.post("/api/events", json=plate_event("VIP43").to_dict(), headers=AUTH).json()["alerts"] == []
    )
    assert 'alpr_alerts_total{label="deny",watchlist="stolen"} 1.0' in client.get("/metrics").text


class _Receiver(BaseHTTPRequestHandler):
    failures_left = 0
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.failures_left > 0:
            _Receiver.failures_left -= 1
            self.send_response(503)
        else:
            _Receiver.received.append(json.loads(body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def webhook_receiver():
    _Receiver.failures_left = 2
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_webhook_retried_until_delivered(tmp_path, webhook_receiver) -> None:
    from fastapi.testclient import TestClient

    from ovr_alpr.serve.app import create_app

    settings = ServeSettings(db=str(tmp_path / "e.db"), token=TOKEN, webhooks=[webhook_receiver])
    app = create_app(settings)
    app.state.service.webhooks.backoff_s = 0.05
    with TestClient(app) as client:
        client.put(
            "/api/watchlists/watch", json={"label": "watch", "entries": [{"pattern": "AB*"}]}, headers=AUTH
        )
        event = plate_event("AB777XY")
        client.post("/api/events", json=event.to_dict(), headers=AUTH)
        assert wait_until(lambda: len(_Receiver.received) == 1, 10)
        assert (
            _Receiver.received[0]["event_id"] == event.event_id and _Receiver.received[0]["label"] == "watch"
        )
        assert 'alpr_webhook_deliveries_total{result="retry"} 2.0' in client.get("/metrics").text


def test_live_stream_carries_events_and_alerts(tmp_path, live_server) -> None:
    server = live_server(ServeSettings(db=str(tmp_path / "e.db"), token=TOKEN))
    httpx.put(
        f"{server.url}/api/watchlists/stolen",
        json={"label": "deny", "entries": [{"pattern": "AB123CD"}]},
        headers=AUTH,
    )
    seen: list[tuple[str, dict]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{server.url}/api/stream", timeout=10) as response:
            kind = None
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    seen.append((kind, json.loads(line[6:])))
                    if kind == "alert":
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(10)
    event = plate_event("AB123CD")
    assert httpx.post(f"{server.url}/api/events", json=event.to_dict(), headers=AUTH).status_code == 201
    thread.join(10)
    kinds = [k for k, _ in seen]
    assert kinds == ["plate", "alert"]
    assert seen[0][1]["event_id"] == event.event_id and seen[0][1]["alerts"][0]["watchlist"] == "stolen"
