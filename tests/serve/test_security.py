"""Safe by default: local bind, writes need the token, bad input gets a 4xx and changes nothing."""

from __future__ import annotations

import pytest

from ovr_alpr.serve.app import create_app
from ovr_alpr.serve.settings import ServeSettings
from service_fixtures import AUTH, JPEG, TOKEN, plate_event


def count(client) -> int:
    return len(client.get("/api/events", params={"limit": 1000}).json()["events"])


def test_defaults_are_local_and_read_only(tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    monkeypatch.delenv("OVR_ALPR_API_TOKEN", raising=False)
    settings = ServeSettings(db=str(tmp_path / "e.db"))
    assert settings.host == "127.0.0.1" and settings.api_token is None
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/events", json=plate_event().to_dict())
        assert response.status_code == 403 and "OVR_ALPR_API_TOKEN" in response.json()["detail"]
        assert client.get("/api/events").status_code == 200
        assert count(client) == 0
    monkeypatch.setenv("OVR_ALPR_API_TOKEN", "from-env")
    with TestClient(create_app(ServeSettings(db=str(tmp_path / "e.db")))) as client:
        assert (
            client.post(
                "/api/events", json=plate_event().to_dict(), headers={"X-API-Token": "from-env"}
            ).status_code
            == 201
        )


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"X-API-Token": TOKEN + "x"}]
)
def test_writes_need_the_token(client, headers) -> None:
    assert client.post("/api/events", json=plate_event().to_dict(), headers=headers).status_code == 401
    assert client.put("/api/watchlists/x", json={"entries": []}, headers=headers).status_code == 401
    assert client.delete("/api/watchlists/x", headers=headers).status_code == 401
    assert client.post("/api/cameras/c/status", json={}, headers=headers).status_code == 401
    assert count(client) == 0 and client.get("/api/watchlists").json() == []


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 422),
        (b'{"event_id": "x"}', 422),
        (b"null", 422),
    ],
)
def test_bad_json_is_refused(client, body, status) -> None:
    response = client.post("/api/events", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status
    assert count(client) == 0


def test_bad_events_change_nothing(client) -> None:
    good = plate_event().to_dict()
    for bad in (
        {**good, "event_id": "../../etc/passwd"},
        {**good, "camera_id": "cam/../../x"},
        {**good, "plate": {**good["plate"], "confidence": 7}},
        {**good, "crops": {"plate": "not base64!!"}},
        {**good, "crops": {"plate": "PD9waHAgZWNobyAxOyA/Pg=="}},  # base64, but not an image
        {**good, "crops": {"../x": "AAAA"}},
    ):
        response = client.post("/api/events", json=[plate_event("AB000AA").to_dict(), bad], headers=AUTH)
        assert response.status_code == 422, bad
    assert count(client) == 0


def test_huge_bodies_are_refused(client, settings) -> None:
    huge = b"[" + b" " * (settings.max_body_bytes + 10) + b"]"
    assert (
        client.post(
            "/api/events", content=huge, headers={**AUTH, "Content-Type": "application/json"}
        ).status_code
        == 413
    )

    def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b" " * 65536

    response = client.post(
        "/api/events", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    too_many = [plate_event().to_dict() for _ in range(settings.max_batch + 1)]
    assert client.post("/api/events", json=too_many, headers=AUTH).status_code == 413
    assert count(client) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"plate": "' OR 1=1 --"},
        {"plate": "AB1; DROP TABLE events"},
        {"plate": "AB%"},
        {"plate": "x" * 100},
        {"camera": "gate' OR '1'='1"},
        {"since": "yesterday; DELETE"},
        {"match": "regex"},
        {"limit": 100000},
        {"max_distance": 9},
        {"min_confidence": "1 OR 1"},
    ],
)
def test_sql_looking_search_strings_are_refused(client, params) -> None:
    client.post("/api/events", json=plate_event().to_dict(), headers=AUTH)
    assert client.get("/api/events", params=params).status_code == 422
    assert count(client) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/crops/../events.db",
        "/api/crops/..%2Fevents.db",
        "/api/crops/%2e%2e/%2e%2e/etc/passwd",
        "/api/crops//etc/passwd",
        "/api/crops/%2Fetc%2Fpasswd",
        "/api/crops/2024-05-01/gate-1/..%5C..%5Cevents.db",
        "/api/crops/2024-05-01/gate-1/x.jpg%00.png",
        "/api/crops/events.db",
        "/api/events/..%2F..%2Fetc/crops/plate",
        "/api/events/x/crops/..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_path_tricks_in_crop_urls_get_4xx(client, path, tmp_path) -> None:
    ev = plate_event()
    client.post(
        "/api/events",
        json={**ev.to_dict(), "crops": {"plate": __import__("base64").b64encode(JPEG).decode()}},
        headers=AUTH,
    )
    (tmp_path / "secret.jpg").write_bytes(JPEG)  # outside the crop folder
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert client.get("/api/crops/../secret.jpg").status_code == 404
