"""`PlateEvent`: the event published for one vehicle pass.

The field layout is kept from the system OVR-ALPR is modelled on, so its consumers keep working.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer


class PlateInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    normalized_text: str
    confidence: float = Field(ge=0.0, le=1.0)
    region: str | None = None


class VehicleInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str | None = None
    make: str | None = None
    model: str | None = None
    color: str | None = None


class ImageRefs(BaseModel):
    model_config = ConfigDict(frozen=True)

    plate_url: str | None = None
    vehicle_url: str | None = None
    frame_url: str | None = None


class NodeInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str = "default"
    host: str = "localhost"


def _new_event_id() -> str:
    return uuid.uuid4().hex


class PlateEvent(BaseModel):
    """One plate read of one vehicle pass.

    Attributes:
        event_id: unique id (hex uuid4).
        captured_at: UTC time of the frame the best shot came from (not the processing time).
        camera_id: camera that saw the vehicle.
        track_id: tracker id of the plate (or vehicle) track.
        latency_ms: measured time from frame capture to publish.
        extras: roi, direction, quality_score, frame_number, bbox ([x1, y1, x2, y2] px).
    """

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(default_factory=_new_event_id)
    captured_at: datetime
    camera_id: str
    track_id: int
    plate: PlateInfo
    vehicle: VehicleInfo = Field(default_factory=VehicleInfo)
    images: ImageRefs = Field(default_factory=ImageRefs)
    latency_ms: float | None = None
    node: NodeInfo = Field(default_factory=NodeInfo)
    extras: dict[str, Any] = Field(default_factory=dict)

    @field_serializer("captured_at")
    def _utc_iso(self, value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_json(self) -> str:
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> PlateEvent:
        return cls.model_validate_json(text)
