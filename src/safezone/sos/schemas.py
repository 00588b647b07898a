from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from safezone.cameras.schemas import CameraView, SnapshotRead
from safezone.core.geo import Latitude, Longitude
from safezone.patrol.schemas import UnitSuggestion

_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?")
BoxMessageType = Literal["press", "cancel", "heartbeat", "tamper", "power", "test"]
TYPES: tuple[str, ...] = ("press", "cancel", "heartbeat", "tamper", "power", "test")


class BoxMessage(BaseModel):
    """The signed JSON a box sends (docs/devices.md)."""

    model_config = ConfigDict(extra="forbid")

    type: BoxMessageType
    # A JSON integer: not "42", 42.0 or true (the signed bytes would differ on re-encoding).
    seq: StrictInt = Field(ge=0, le=2**53)
    ts: datetime = Field(description="ISO-8601 UTC, e.g. 2026-11-26T14:00:00Z")
    sig: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="HMAC-SHA256, hex")
    data: dict[str, Any] | None = Field(None, description="Vendor extras, signed too")

    @field_validator("ts", mode="before")
    @classmethod
    def _ts_is_text(cls, value: Any) -> Any:
        # Only ISO-8601 date-and-time text: not a number, nor what else the parser takes.
        if not isinstance(value, str) or not _ISO_8601.fullmatch(value):
            raise ValueError("must be ISO-8601 text, e.g. 2026-11-26T14:00:00Z")
        return value

    @field_validator("ts")
    @classmethod
    def _ts_has_zone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:  # a box's local clock would pass for UTC
            raise ValueError("needs its time zone: end it with Z (UTC)")
        return value


class BoxAnswer(BaseModel):
    status: Literal["accepted", "duplicate"]
    box_id: str
    seq: int
    incident_id: int | None = None


class BoxStatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    box_id: str
    online: bool
    last_heartbeat_at: datetime | None
    last_message_at: datetime | None
    offline_since: datetime | None


class RejectionCount(BaseModel):
    box_id: str
    reason: str
    count: int


class PanicStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lon: Longitude
    accuracy_m: float | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)
    client_ref: str = Field(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="The app's id for this SOS; a retry (offline queue) returns the first.",
    )
    description: str = Field("", max_length=1000)
    location_source: Literal["gps", "map"] = Field(
        "gps",
        description="gps: the phone's position; map: the phone had none and the caller "
        "marked the place on a map (the operator is told).",
    )


class TrailPointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lon: Longitude
    accuracy_m: float | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)
    at: datetime


class TrailBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[TrailPointIn] = Field(min_length=1, max_length=200)


class PanicState(BaseModel):
    tracking_code: str
    incident_id: int
    incident_status: str
    active: bool
    cancelled_at: datetime | None
    trail_points: int


class ResponseRead(BaseModel):
    incident_id: int
    trigger: str
    box_id: str | None
    cameras: list[CameraView]
    units: list[UnitSuggestion]
    snapshots: list[SnapshotRead]
    trail: list[TrailPointIn]
    cancelled_at: datetime | None
