"""REST API: post events (with crops), search (exact/prefix/fuzzy, filters, pages, CSV), detail, crops."""

from __future__ import annotations

import base64
import csv
import io

from service_fixtures import AUTH, JPEG, minutes, plate_event


def post(client, *events, crops: dict | None = None):
    body = []
    for ev in events:
        data = ev.to_dict()
        if crops and ev.event_id in crops:
            data["crops"] = {k: base64.b64encode(v).decode() for k, v in crops[ev.event_id].items()}
        body.append(data)
    return client.post("/api/events", json=body if len(body) != 1 else body[0], headers=AUTH)


def test_post_then_get_with_crop(client) -> None:
    ev = plate_event("AB123CD")
    response = post(client, ev, crops={ev.event_id: {"plate": JPEG}})
    assert response.status_code == 201
    assert response.json() == {"received": 1, "stored_new": 1, "alerts": []}
    detail = client.get(f"/api/events/{ev.event_id}").json()
    assert (
        detail["plate"]["normalized_text"] == "AB123CD"
        and detail["captured_at"] == "2024-05-01T12:00:00.000Z"
    )
    crop = client.get(detail["images"]["plate_url"])
    assert crop.status_code == 200 and crop.content == JPEG and crop.headers["content-type"] == "image/jpeg"
    assert client.get(f"/api/events/{ev.event_id}/crops/plate").content == JPEG
    assert client.get(f"/api/events/{ev.event_id}/crops/frame").status_code == 404
    assert client.get("/api/events/doesnotexist").status_code == 404


def test_redelivery_is_stored_once(client) -> None:
    events = [plate_event(f"AB{i:03d}CD", at=minutes(i)) for i in range(3)]
    assert post(client, *events).json()["stored_new"] == 3
    assert post(client, *events).json() == {"received": 3, "stored_new": 0, "alerts": []}
    assert len(client.get("/api/events").json()["events"]) == 3
    # the {"events": [...]} envelope works too
    assert (
        client.post("/api/events", json={"events": [e.to_dict() for e in events]}, headers=AUTH).status_code
        == 201
    )


def test_search_filters_pages_and_fuzzy(client) -> None:
    post(
        client,
        plate_event("AB123CD", "gate-1", minutes(0), 0.95),
        plate_event("AB123CO", "gate-2", minutes(1), 0.55),
        plate_event("XY999ZZ", "gate-1", minutes(2), 0.90),
    )

    def plates(**params) -> list[str]:
        response = client.get("/api/events", params=params)
        assert response.status_code == 200, response.text
        return [e["plate"]["normalized_text"] for e in response.json()["events"]]

    assert plates(plate="AB123CO") == ["AB123CO"]
    assert plates(plate="AB123CO", match="fuzzy") == ["AB123CO", "AB123CD"]
    fuzzy = client.get("/api/events", params={"plate": "AB123CX", "match": "fuzzy"}).json()
    assert {e["plate"]["normalized_text"]: e["distance"] for e in fuzzy["events"]} == {
        "AB123CD": 1,
        "AB123CO": 1,
    }
    assert plates(plate="ab1", match="prefix") == ["AB123CO", "AB123CD"]
    assert plates(camera="gate-1") == ["XY999ZZ", "AB123CD"]
    assert plates(camera=["gate-1", "gate-2"], min_confidence=0.9) == ["XY999ZZ", "AB123CD"]
    assert plates(since="2024-05-01T12:01:00Z", until="2024-05-01T12:02:00Z") == ["AB123CO"]
    page = client.get("/api/events", params={"limit": 2}).json()
    assert page["next_offset"] == 2 and len(page["events"]) == 2
    assert client.get("/api/events", params={"limit": 2, "offset": 2}).json()["next_offset"] is None


def test_csv_export(client) -> None:
    post(client, *[plate_event(f"AB{i:03d}CD", at=minutes(i)) for i in range(5)])
    response = client.get("/api/events", params={"format": "csv", "plate": "AB00", "match": "prefix"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["plate"] for r in rows] == [f"AB{i:03d}CD" for i in range(4, -1, -1)]
    assert rows[0]["captured_at"] == "2024-05-01T12:04:00.000Z"


def test_openapi_docs_and_health(client) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/events", "/api/events/{event_id}", "/api/watchlists/{name}", "/api/stream"} <= set(paths)
    assert client.get("/healthz").json()["writes"] is True


def test_camera_status_posted(client) -> None:
    response = client.post(
        "/api/cameras/gate-1/status",
        json={
            "last_frame_at": "2024-05-01T12:00:05Z",
            "fps": 9.5,
            "frames": 100,
            "dropped_frames": 2,
            "source_up": True,
        },
        headers=AUTH,
    )
    assert response.status_code == 200
    post(client, plate_event("AB123CD", "gate-1", minutes(0)))
    (cam,) = client.get("/api/cameras").json()
    assert (cam["fps"], cam["dropped_frames"], cam["source_up"], cam["last_plate"]) == (
        9.5,
        2,
        True,
        "AB123CD",
    )
    assert cam["last_frame_at"] == "2024-05-01T12:00:05.000Z"


def test_delete_event_removes_crop(client, settings) -> None:
    ev = plate_event()
    post(client, ev, crops={ev.event_id: {"plate": JPEG}})
    url = client.get(f"/api/events/{ev.event_id}").json()["images"]["plate_url"]
    assert client.delete(f"/api/events/{ev.event_id}").status_code == 401
    assert client.delete(f"/api/events/{ev.event_id}", headers=AUTH).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(f"/api/events/{ev.event_id}", headers=AUTH).status_code == 404
