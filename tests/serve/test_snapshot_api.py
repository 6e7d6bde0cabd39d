"""The recognise-this-image router on its own FastAPI app: Plate Recognizer and CodeProject.AI shapes, token,
size limit, bad uploads; with a stub reader, and once with the embedded models on a rendered plate image."""

from __future__ import annotations

import base64
from datetime import datetime

import cv2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ovr_alpr.pipeline.alpr import PlateRead
from ovr_alpr.serve.snapshot import snapshot_router
from ovr_alpr.synth.clip import make_images

READ = PlateRead(
    xyxy=(100.4, 200.6, 260.2, 240.9),
    detection_confidence=0.934,
    text="AB123CD",
    raw_text="AB-123CD",
    confidence=0.9123,
    region="eu",
)


class StubAlpr:
    def __init__(self, reads=(READ,)) -> None:
        self.reads = list(reads)
        self.shapes: list[tuple[int, ...]] = []

    def read(self, image):
        self.shapes.append(image.shape)
        return self.reads


def _client(alpr=None, token=None, max_bytes=1_000_000) -> TestClient:
    app = FastAPI()
    app.include_router(snapshot_router(alpr or StubAlpr(), token=token, max_bytes=max_bytes))
    return TestClient(app)


def _jpeg(width=320, height=240) -> bytes:
    return cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))[1].tobytes()


def test_plate_recognizer_shape() -> None:
    alpr = StubAlpr()
    response = _client(alpr).post(
        "/v1/plate-reader/", files={"upload": ("car.jpg", _jpeg(), "image/jpeg")}, data={"camera_id": "gate"}
    )
    assert response.status_code == 201
    body = response.json()
    assert alpr.shapes == [(240, 320, 3)]
    assert body["filename"] == "car.jpg" and body["camera_id"] == "gate"
    assert body["processing_time"] >= 0 and datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    (result,) = body["results"]
    assert result["plate"] == "ab123cd" and result["score"] == 0.912 and result["dscore"] == 0.934
    assert result["box"] == {"xmin": 100, "ymin": 201, "xmax": 260, "ymax": 241}
    assert result["region"] == {"code": "eu", "score": 0.912}
    assert result["candidates"][0] == {"plate": "ab123cd", "score": 0.912}


def test_plate_recognizer_takes_base64_too() -> None:
    response = _client().post("/v1/plate-reader/", data={"upload": base64.b64encode(_jpeg()).decode()})
    assert response.status_code == 201 and response.json()["results"][0]["plate"] == "ab123cd"


def test_codeproject_shape_and_min_confidence() -> None:
    client = _client()
    body = client.post("/v1/vision/alpr", files={"upload": ("a.jpg", _jpeg(), "image/jpeg")}).json()
    assert body["success"] is True and body["count"] == 1
    (prediction,) = body["predictions"]
    assert prediction == {
        "label": "Plate: AB123CD",
        "plate": "AB123CD",
        "confidence": 0.912,
        "x_min": 100,
        "y_min": 201,
        "x_max": 260,
        "y_max": 241,
    }
    none = client.post(
        "/v1/vision/alpr", files={"upload": ("a.jpg", _jpeg(), "image/jpeg")}, data={"min_confidence": "0.95"}
    ).json()
    assert none["success"] is True and none["predictions"] == [] and none["message"] == "No plates found"


@pytest.mark.parametrize("header", ["Token s3cret", "Bearer s3cret"])
def test_token_accepted(header) -> None:
    response = _client(token="s3cret").post(
        "/v1/plate-reader/", files={"upload": ("a.jpg", _jpeg())}, headers={"Authorization": header}
    )
    assert response.status_code == 201


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Token wrong"}, {"Authorization": "s3cret"}])
def test_token_refused(headers) -> None:
    alpr = StubAlpr()
    client = _client(alpr, token="s3cret")
    response = client.post("/v1/plate-reader/", files={"upload": ("a.jpg", _jpeg())}, headers=headers)
    assert response.status_code == 401 and "Authorization: Token" in response.json()["detail"]
    cp = client.post("/v1/vision/alpr", files={"upload": ("a.jpg", _jpeg())}, headers=headers)
    assert cp.status_code == 401 and cp.json()["success"] is False and "token" in cp.json()["error"]
    assert alpr.shapes == []


def test_too_large_is_413_on_both_routes() -> None:
    big = _jpeg(2000, 2000) + b"\0" * 200_000  # a valid JPEG with trailing bytes, over the limit
    client = _client(max_bytes=150_000)
    assert client.post("/v1/plate-reader/", files={"upload": ("a.jpg", big)}).status_code == 413
    cp = client.post("/v1/vision/alpr", files={"upload": ("a.jpg", big)})
    assert cp.status_code == 413 and cp.json()["success"] is False and "limit" in cp.json()["error"]
    # a body that only just passes the declared-size check is still measured after reading
    near = _jpeg() + b"\0" * 160_000
    assert client.post("/v1/plate-reader/", files={"upload": ("a.jpg", near)}).status_code == 413


def test_bad_uploads_are_400_with_a_message() -> None:
    client = _client()
    not_image = client.post("/v1/plate-reader/", files={"upload": ("a.txt", b"hello, not a picture")})
    assert not_image.status_code == 400 and "not an image" in not_image.json()["detail"]
    missing = client.post("/v1/plate-reader/", data={"camera_id": "x"})
    assert missing.status_code == 400 and "'upload'" in missing.json()["detail"]
    empty = client.post("/v1/vision/alpr", files={"upload": ("a.jpg", b"")})
    assert empty.status_code == 400 and empty.json()["success"] is False
    raw = client.post("/v1/vision/alpr", content=_jpeg(), headers={"Content-Type": "image/jpeg"})
    assert raw.status_code == 400 and "multipart/form-data" in raw.json()["error"]
    bad_b64 = client.post("/v1/plate-reader/", data={"upload": "%%% not base64 %%%"})
    assert bad_b64.status_code == 400


def test_embedded_models_read_a_rendered_plate(tmp_path) -> None:
    from ovr_alpr.pipeline import Alpr

    (labeled,) = make_images(tmp_path, 1, seed=7)
    client = _client(Alpr(), max_bytes=5_000_000)
    with open(labeled.image_path, "rb") as handle:
        body = client.post("/v1/plate-reader/", files={"upload": (labeled.image_path.name, handle)}).json()
    plates = [r["plate"] for r in body["results"]]
    assert labeled.plate_text.lower() in plates
    result = body["results"][plates.index(labeled.plate_text.lower())]
    x, y, w, h = labeled.plate_box_xywh
    assert abs(result["box"]["xmin"] - x) < 0.2 * w and abs(result["box"]["ymax"] - (y + h)) < 0.5 * h
    with open(labeled.image_path, "rb") as handle:
        cp = client.post("/v1/vision/alpr", files={"upload": ("a.jpg", handle)}).json()
    assert labeled.plate_text in [p["plate"] for p in cp["predictions"]]
