"""The FastAPI app: REST API over the event store, live events (SSE), the web page and `/metrics`.

Reads are open; writes (POST, PUT, DELETE) need the API token. Inputs are checked before anything is
touched: bodies over the limit get 413, malformed JSON 400, invalid fields 422, unknown crops 404.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import hmac
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..events.model import PlateEvent
from ..pipeline.alpr import Alpr, PlateRead
from ..store import CameraStatus, EventQuery, EventStore, Watchlist, WatchlistEntry
from .service import EventService, event_json
from .settings import ServeSettings
from .snapshot import snapshot_router
from .watch import LABELS, PATTERN_RE

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
PLATE_QUERY = r"^[A-Za-z0-9 -]{1,20}$"
CAMERA_ID = r"^[A-Za-z0-9._:@-]{1,128}$"
EVENT_ID = r"^[A-Za-z0-9_-]{1,64}$"
NAME = r"^[A-Za-z0-9._-]{1,64}$"
CSV_COLUMNS = [
    "event_id",
    "captured_at",
    "camera_id",
    "track_id",
    "plate",
    "plate_text",
    "confidence",
    "region",
    "vehicle_type",
    "latency_ms",
    "site",
    "host",
    "plate_url",
    "alerts",
]


# ---------------------------------------------------------------- request bodies


class IncomingEvent(PlateEvent):
    """A `PlateEvent` as posted: optional `crops` (kind -> base64 JPEG/PNG) travel with it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(pattern=EVENT_ID)
    camera_id: str = Field(pattern=CAMERA_ID)
    crops: dict[Literal["plate", "vehicle", "frame"], str] = Field(default_factory=dict)


_INCOMING = TypeAdapter(IncomingEvent | list[IncomingEvent])


class CameraStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_frame_at: datetime | None = None
    fps: float | None = Field(default=None, ge=0)
    frames: int | None = Field(default=None, ge=0)
    dropped_frames: int | None = Field(default=None, ge=0)
    source_up: bool | None = None


class WatchlistEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(pattern=PATTERN_RE.pattern, description="plate, or pattern with * and ?")
    note: str | None = Field(default=None, max_length=256)


class WatchlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Literal["allow", "deny", "watch"] = "watch"
    tolerance: int = Field(default=0, ge=0, le=2, description="edit distance for plain plates")
    entries: list[WatchlistEntryIn] = Field(default_factory=list, max_length=10_000)


# ---------------------------------------------------------------- body size limit


class BodyLimit:
    """ASGI middleware: a request whose Content-Length is over `max_bytes` gets 413 before it is read.

    Bodies without a length (chunked) are counted while read, by `read_body`.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                await _plain(send, 413, "request body too large")
                return
        await self.app(scope, receive, send)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or 413 as soon as it grows past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _plain(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------- the app


class _LazyAlpr:
    """`pipeline.Alpr` with the embedded models, loaded on the first upload (a store-only service never
    pays for them)."""

    def __init__(self) -> None:
        self._alpr: Alpr | None = None

    def read(self, image: np.ndarray) -> list[PlateRead]:
        if self._alpr is None:
            self._alpr = Alpr()
        return self._alpr.read(image)


def create_app(settings: ServeSettings | None = None, service: EventService | None = None) -> FastAPI:
    """Build the app. `service` defaults to one over `settings` (its store, notifiers, Kafka consumer)."""
    settings = settings or ServeSettings()
    svc = service or EventService(settings)
    store: EventStore = svc.store

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        svc.hub.bind(asyncio.get_running_loop())
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(
        title="OVR-ALPR event service",
        version="1",
        description="Search, watch and be alerted on licence-plate events. Writes need the API token.",
        lifespan=lifespan,
    )
    app.state.service = svc

    def require_token(request: Request) -> None:
        expected = settings.api_token
        if not expected:
            raise HTTPException(
                403, "writes are disabled: set OVR_ALPR_API_TOKEN (or token in the serve config)"
            )
        given = request.headers.get("x-api-token") or ""
        auth = request.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"})

    writer = [Depends(require_token)]
    if settings.plate_reader:
        app.include_router(snapshot_router(_LazyAlpr(), settings.api_token, settings.max_body_bytes))

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        svc.metrics.requests.labels(request.method, str(response.status_code)).inc()
        return response

    # ------------------------------------------------------------ events

    @app.post("/api/events", dependencies=writer, status_code=201, tags=["events"])
    async def post_events(request: Request) -> dict[str, Any]:
        """Store one event or a list of them (upsert by `event_id`); crops may come base64-encoded."""
        raw = await read_body(request, settings.max_body_bytes)
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(400, "body is not valid JSON") from None
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            data = data["events"]
        if isinstance(data, list) and len(data) > settings.max_batch:
            raise HTTPException(413, f"at most {settings.max_batch} events per request")
        try:
            parsed = _INCOMING.validate_python(data)
        except ValidationError as exc:
            raise HTTPException(422, _first_error(exc)) from None
        incoming = parsed if isinstance(parsed, list) else [parsed]
        events: list[PlateEvent] = []
        crops: dict[str, dict[str, bytes]] = {}
        for item in incoming:
            try:
                crops[item.event_id] = {k: base64.b64decode(v, validate=True) for k, v in item.crops.items()}
            except (binascii.Error, ValueError):
                raise HTTPException(422, f"event {item.event_id}: crops must be base64") from None
            events.append(PlateEvent.model_validate(item.model_dump(exclude={"crops"})))
        try:
            result = await asyncio.to_thread(svc.ingest, events, crops, "api")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {
            "received": result.received,
            "stored_new": result.new,
            "alerts": [a.to_dict() for a in result.alerts],
        }

    @app.get("/api/events", tags=["events"], response_model=None)
    def search_events(
        plate: Annotated[str | None, Query(pattern=PLATE_QUERY, description="plate text")] = None,
        match: Annotated[Literal["exact", "prefix", "fuzzy"], Query()] = "exact",
        max_distance: Annotated[int, Query(ge=0, le=2, description="fuzzy: edits allowed")] = 1,
        camera: Annotated[list[str] | None, Query(description="camera id (repeatable)")] = None,
        since: Annotated[datetime | None, Query(description="captured at or after (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="captured before (ISO 8601)")] = None,
        min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
        max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        format: Annotated[Literal["json", "csv"], Query(description="csv: every match, as a file")] = "json",
    ) -> Any:
        """Search events, newest first. `match=fuzzy` finds plates within `max_distance` edits."""
        for cam in camera or []:
            if not re.match(CAMERA_ID, cam):
                raise HTTPException(422, f"camera id {cam[:40]!r} is not valid")
        query = EventQuery(
            plate=plate,
            match=match,
            max_distance=max_distance,
            camera_ids=tuple(camera or ()),
            since=since,
            until=until,
            min_confidence=min_confidence,
            max_confidence=max_confidence,
            limit=limit,
            offset=offset,
        )
        if format == "csv":
            return StreamingResponse(
                _csv_rows(store, query),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="events.csv"'},
            )
        started = time.perf_counter()
        result = store.search(query)
        svc.metrics.search_seconds.labels(match if plate else "none").observe(time.perf_counter() - started)
        return {
            "events": [event_json(e) for e in result.events],
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if result.has_more else None,
            "max_distance": result.max_distance,
        }

    @app.get("/api/events/{event_id}", tags=["events"])
    def get_event(event_id: Annotated[str, PathParam(pattern=EVENT_ID)]) -> dict[str, Any]:
        """One event with its crop URLs and alerts."""
        stored = store.get(event_id)
        if stored is None:
            raise HTTPException(404, "no such event")
        return event_json(stored)

    @app.delete("/api/events/{event_id}", dependencies=writer, status_code=204, tags=["events"])
    def delete_event(event_id: Annotated[str, PathParam(pattern=EVENT_ID)]) -> Response:
        if not store.delete(event_id):
            raise HTTPException(404, "no such event")
        return Response(status_code=204)

    @app.get("/api/events/{event_id}/crops/{kind}", tags=["events"])
    def get_event_crop(
        event_id: Annotated[str, PathParam(pattern=EVENT_ID)], kind: Literal["plate", "vehicle", "frame"]
    ) -> FileResponse:
        path = store.crop_path(event_id, kind)
        if path is None:
            raise HTTPException(404, "no such crop")
        return FileResponse(path)

    @app.get("/api/crops/{relative:path}", tags=["events"])
    def get_crop(relative: str) -> FileResponse:
        """A crop file by the path in an event's `images`; nothing outside the crop folder is served."""
        if "\\" in relative or "\0" in relative or any(part in ("", "..") for part in relative.split("/")):
            raise HTTPException(404, "no such crop")
        path = store.resolve_crop(relative)
        if path is None:
            raise HTTPException(404, "no such crop")
        return FileResponse(path)

    # ------------------------------------------------------------ cameras, alerts, watchlists

    @app.get("/api/cameras", tags=["cameras"])
    def cameras() -> list[dict[str, Any]]:
        """Per camera: last frame time, fps, frames, dropped frames, source up, last event."""
        return [c.to_dict() for c in store.cameras()]

    @app.post("/api/cameras/{camera_id}/status", dependencies=writer, tags=["cameras"])
    def post_camera_status(
        camera_id: Annotated[str, PathParam(pattern=CAMERA_ID)], status: CameraStatusIn
    ) -> dict[str, Any]:
        svc.update_camera(CameraStatus(camera_id=camera_id, **status.model_dump()))
        return {"ok": True}

    @app.get("/api/alerts", tags=["alerts"])
    def alerts(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        return [a.to_dict() for a in store.recent_alerts(limit)]

    @app.get("/api/watchlists", tags=["watchlists"])
    def watchlists() -> list[dict[str, Any]]:
        return [w.to_dict() for w in store.watchlists()]

    @app.put("/api/watchlists/{name}", dependencies=writer, tags=["watchlists"])
    def put_watchlist(name: Annotated[str, PathParam(pattern=NAME)], body: WatchlistIn) -> dict[str, Any]:
        """Create or replace a watchlist: label allow/deny/watch, fuzzy tolerance, plates or patterns."""
        assert body.label in LABELS
        wl = Watchlist(
            name, body.label, body.tolerance, tuple(WatchlistEntry(e.pattern, e.note) for e in body.entries)
        )
        return svc.save_watchlist(wl).to_dict()

    @app.delete("/api/watchlists/{name}", dependencies=writer, status_code=204, tags=["watchlists"])
    def delete_watchlist(name: Annotated[str, PathParam(pattern=NAME)]) -> Response:
        if not svc.delete_watchlist(name):
            raise HTTPException(404, "no such watchlist")
        return Response(status_code=204)

    # ------------------------------------------------------------ live, health, metrics, page

    @app.get("/api/stream", tags=["live"])
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: `plate` (each new event), `alert`, `camera` (status updates)."""
        queue = svc.hub.subscribe()
        svc.metrics.sse_clients.inc()

        async def messages() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n: connected\n\n"
                while True:
                    if await request.is_disconnected():
                        return
                    try:
                        yield await asyncio.wait_for(queue.get(), timeout=15.0)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
            finally:
                svc.hub.unsubscribe(queue)
                svc.metrics.sse_clients.dec()

        return StreamingResponse(
            messages(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"ok": True, "events": store.count(), "writes": bool(settings.api_token)}

    @app.get("/metrics", tags=["service"])
    def metrics() -> Response:
        return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: Any) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "(body)"
    return f"{where}: {first['msg']}"


def _csv_rows(store: EventStore, query: EventQuery) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for stored in store.iter_search(query):
        ev = stored.event
        writer.writerow(
            [
                ev.event_id,
                ev.to_dict()["captured_at"],
                ev.camera_id,
                ev.track_id,
                ev.plate.normalized_text,
                ev.plate.text,
                ev.plate.confidence,
                ev.plate.region or "",
                ev.vehicle.type or "",
                "" if ev.latency_ms is None else ev.latency_ms,
                ev.node.site,
                ev.node.host,
                f"/api/crops/{stored.crops['plate']}" if "plate" in stored.crops else "",
                ";".join(f"{a.watchlist}:{a.label}" for a in stored.alerts),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
