"""Recognise-this-image HTTP API: an image upload in, its plates out, in the JSON shapes integrations already
speak: Plate Recognizer's Snapshot API (`POST /v1/plate-reader/`) and CodeProject.AI / DeepStack's ALPR
(`POST /v1/vision/alpr`). A FastAPI router, mounted by the service app.

Example:
    >>> app = FastAPI()                                                          # doctest: +SKIP
    >>> app.include_router(snapshot_router(Alpr(AppConfig()), token="s3cret"))   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

import cv2
import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..pipeline.alpr import PlateRead

#: Default largest upload, in bytes.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: Largest image, in pixels, decoded (a small file can decompress to a huge image).
MAX_PIXELS = 64_000_000
#: Room for the multipart framing and form fields on top of the image itself.
_FORM_OVERHEAD_BYTES = 64 * 1024


class ImageReader(Protocol):
    """What the router needs: `pipeline.Alpr` (finds and reads every plate of one still image)."""

    def read(self, image: np.ndarray) -> Sequence[PlateRead]: ...


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def decode_image(data: bytes, max_bytes: int) -> np.ndarray:
    """A BGR image from uploaded bytes; HTTPException 413 (too large) or 400 (empty, not an image)."""
    if len(data) > max_bytes:
        raise HTTPException(status_code=413, detail=f"upload is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise _bad_request("the upload is empty: send an image file in the form field 'upload'")
    array = np.frombuffer(data, dtype=np.uint8)
    header = cv2.imdecode(array, cv2.IMREAD_REDUCED_GRAYSCALE_8) if len(data) > 1024 * 1024 else None
    if header is not None and header.size * 64 > MAX_PIXELS:
        raise HTTPException(status_code=413, detail=f"the image has more than {MAX_PIXELS} pixels")
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise _bad_request(
            "the upload is not an image that can be decoded (send JPEG, PNG, BMP, WebP or TIFF bytes)"
        )
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise HTTPException(status_code=413, detail=f"the image has more than {MAX_PIXELS} pixels")
    return image


async def _upload_bytes(upload: UploadFile | str | None, max_bytes: int) -> tuple[bytes, str | None]:
    """The image bytes of the `upload` field: a file, or (Plate Recognizer) a base64 string."""
    if upload is None:
        raise _bad_request("no image: send it as multipart/form-data in the field 'upload'")
    if isinstance(upload, str):
        text = upload.split(",", 1)[1] if upload.startswith("data:") else upload
        if len(text) > max_bytes * 4 // 3 + 4:
            raise HTTPException(
                status_code=413, detail=f"upload is larger than the limit of {max_bytes} bytes"
            )
        try:
            return base64.b64decode(text, validate=True), None
        except (binascii.Error, ValueError):
            raise _bad_request("the field 'upload' is neither a file nor base64 image data") from None
    data = await upload.read(max_bytes + 1)
    return data, upload.filename


def _box(read: PlateRead) -> dict[str, int]:
    x1, y1, x2, y2 = read.xyxy
    return {"xmin": round(x1), "ymin": round(y1), "xmax": round(x2), "ymax": round(y2)}


def plate_recognizer_result(read: PlateRead) -> dict[str, Any]:
    """One `results[]` entry of Plate Recognizer's Snapshot answer (plates in lower case, as it gives them).

    `region.score` is the read's confidence when the text matched a configured region (the region follows
    from the text, it is not a separate model), 0 otherwise; `candidates` holds the read, and the raw reader
    output when normalisation changed it.
    """
    plate = read.text.lower()
    candidates = [{"plate": plate, "score": round(read.confidence, 3)}]
    raw = "".join(ch for ch in read.raw_text.lower() if ch.isalnum())
    if raw and raw != plate:
        candidates.append({"plate": raw, "score": round(read.confidence * 0.9, 3)})
    result: dict[str, Any] = {
        "box": _box(read),
        "plate": plate,
        "region": {"code": read.region, "score": round(read.confidence, 3) if read.region else 0.0},
        "score": round(read.confidence, 3),
        "candidates": candidates,
        "dscore": round(read.detection_confidence, 3),
        "vehicle": None,
    }
    if read.vehicle_xyxy is not None:
        x1, y1, x2, y2 = read.vehicle_xyxy
        result["vehicle"] = {
            "type": read.vehicle_type,
            "score": None,
            "box": {"xmin": round(x1), "ymin": round(y1), "xmax": round(x2), "ymax": round(y2)},
        }
    return result


def codeproject_prediction(read: PlateRead) -> dict[str, Any]:
    """One `predictions[]` entry of CodeProject.AI's ALPR answer."""
    x1, y1, x2, y2 = read.xyxy
    return {
        "label": f"Plate: {read.text}",
        "plate": read.text,
        "confidence": round(read.confidence, 3),
        "x_min": round(x1),
        "y_min": round(y1),
        "x_max": round(x2),
        "y_max": round(y2),
    }


def snapshot_router(
    alpr: ImageReader, token: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> APIRouter:
    """Routes `POST /v1/plate-reader/` and `POST /v1/vision/alpr` reading uploads with `alpr`.

    Args:
        alpr: the still-image reader (`pipeline.Alpr`); calls are serialised (one image at a time).
        token: when set, requests need `Authorization: Token TOKEN` or `Authorization: Bearer TOKEN`
            (else 401).
        max_bytes: largest upload accepted (else 413).

    The token and the declared size are checked before the body is read. Errors are 400 (no image, not an
    image), 401 and 413, as `{"detail": message}` on the Plate Recognizer route and as
    `{"success": false, "error": message, "code": status}` on the CodeProject.AI one.
    """
    lock = threading.Lock()

    def check(request: Request) -> None:
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() not in ("token", "bearer") or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                raise HTTPException(
                    status_code=401,
                    detail="missing or wrong API token: send the header 'Authorization: Token <token>'",
                    headers={"WWW-Authenticate": "Token"},
                )
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes + _FORM_OVERHEAD_BYTES:
            raise HTTPException(
                status_code=413, detail=f"request is {length} bytes; the limit is {max_bytes}"
            )

    async def image_of(request: Request) -> tuple[np.ndarray, str | None, Any]:
        check(request)
        if not request.headers.get("content-type", "").startswith(
            ("multipart/form-data", "application/x-www")
        ):
            raise _bad_request("send the image as multipart/form-data in the field 'upload'")
        try:
            form = await request.form(max_files=1, max_fields=16)
        except HTTPException:
            raise
        except Exception as exc:  # a malformed multipart body
            raise _bad_request(f"cannot parse the form: {exc}") from None
        data, filename = await _upload_bytes(form.get("upload"), max_bytes)
        return decode_image(data, max_bytes), filename, form

    def read(image: np.ndarray) -> tuple[list[PlateRead], float]:
        start = time.perf_counter()
        with lock:
            reads = list(alpr.read(image))
        return reads, (time.perf_counter() - start) * 1000.0

    router = APIRouter(tags=["recognise an image"])
    upload_doc = {
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"upload": {"type": "string", "format": "binary"}},
                        "required": ["upload"],
                    }
                }
            }
        }
    }

    @router.post(
        "/v1/plate-reader/",
        summary="Plate Recognizer Snapshot-compatible plate reading",
        status_code=201,
        openapi_extra=upload_doc,
    )
    async def plate_reader(request: Request) -> JSONResponse:
        image, filename, form = await image_of(request)
        reads, elapsed_ms = await run_in_threadpool(read, image)
        camera_id = form.get("camera_id")
        body = {
            "processing_time": round(elapsed_ms, 3),
            "results": [plate_recognizer_result(r) for r in reads],
            "filename": filename,
            "version": 1,
            "camera_id": camera_id if isinstance(camera_id, str) else None,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "image_width": int(image.shape[1]),
            "image_height": int(image.shape[0]),
        }
        return JSONResponse(body, status_code=201)

    @router.post(
        "/v1/vision/alpr",
        summary="CodeProject.AI / DeepStack-compatible plate reading",
        openapi_extra=upload_doc,
    )
    async def vision_alpr(request: Request) -> JSONResponse:
        try:
            image, _, form = await image_of(request)
            min_confidence = _fraction(form.get("min_confidence"))
        except HTTPException as exc:
            return JSONResponse(
                {"success": False, "error": exc.detail, "code": exc.status_code},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        reads, elapsed_ms = await run_in_threadpool(read, image)
        predictions = [codeproject_prediction(r) for r in reads if r.confidence >= min_confidence]
        labels = ", ".join(p["label"] for p in predictions)
        body = {
            "success": True,
            "predictions": predictions,
            "count": len(predictions),
            "message": f"Found {labels}" if predictions else "No plates found",
            "processMs": round(elapsed_ms),
            "inferenceMs": round(elapsed_ms),
            "code": 200,
            "command": "alpr",
            "moduleId": "ovr-alpr",
        }
        return JSONResponse(body)

    return router


def _fraction(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad_request(f"min_confidence must be a number 0..1, got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise _bad_request(f"min_confidence must be a number 0..1, got {value!r}")
    return number
