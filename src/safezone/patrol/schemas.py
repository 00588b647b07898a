from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from safezone.core.geo import Latitude, Longitude
from safezone.zones.schemas import ASSET_ID

UnitKind = Literal["car", "motorbike", "foot"]
UnitStatus = Literal["available", "en_route", "on_scene", "busy", "off_duty"]


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ASSET_ID)
    callsign: str = Field(min_length=1, max_length=64)
    kind: UnitKind
    status: UnitStatus = "off_duty"
    officer_user_id: int | None = None


class UnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callsign: str | None = Field(None, min_length=1, max_length=64)
    kind: UnitKind | None = None
    status: UnitStatus | None = None
    officer_user_id: int | None = None


class LocationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lon: Longitude
    accuracy_m: float | None = Field(None, ge=0, le=10_000, allow_inf_nan=False)


class UnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    station_id: str
    callsign: str
    kind: UnitKind
    status: UnitStatus
    officer_user_id: int | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    location_at: datetime | None


RouteKind = Literal["straight", "road"]


class UnitSuggestion(BaseModel):
    unit_id: str
    callsign: str
    kind: UnitKind
    distance_m: float
    eta_s: float
    lat: float
    lon: float
    route: RouteKind = Field(
        "straight", description="How distance_m was measured: by road, or a straight line"
    )


# --- checkpoints, devices, shifts, check-ins -------------------------------------------

DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{3,127}$"
CheckInStatus = Literal["accepted", "flagged", "rejected"]


class DisplayKeyRead(BaseModel):
    """What a checkpoint's screen needs to show rotating codes (docs/checkpoints.md)."""

    checkpoint_id: str
    key_version: int
    display_key: str = Field(description="HMAC-SHA256 key, as this ASCII hex text")
    window_s: int
    code_format: str


class KeyRotated(BaseModel):
    checkpoint_id: str
    key_version: int
    retired_version: int | None


class DeviceRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_user_id: int = Field(ge=1)
    device_id: str = Field(
        pattern=DEVICE_ID, description="The id the officer app shows (4-128 characters)"
    )
    label: str = Field("", max_length=100, description="e.g. the phone's model")


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    officer_user_id: int
    device_id: str
    label: str
    registered_by: str
    registered_at: datetime
    revoked_at: datetime | None


class ShiftRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    officer_user_id: int
    started_at: datetime
    ended_at: datetime | None


class CheckInCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qr: str = Field(min_length=1, max_length=200, description="The scanned code, as read")
    lat: Latitude
    lon: Longitude
    accuracy_m: float = Field(ge=0, le=10_000, allow_inf_nan=False, description="GPS accuracy")
    scanned_at: AwareDatetime = Field(description="When the phone scanned it, with UTC offset")
    device_id: str = Field(pattern=DEVICE_ID)


class CheckInResult(BaseModel):
    id: int
    status: CheckInStatus
    reasons: list[str]
    checkpoint_id: str | None
    mode: str | None
    distance_m: float | None


class CheckInRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    officer_user_id: int
    checkpoint_id: str | None
    mode: str | None
    lat: float
    lon: float
    accuracy_m: float
    device_id: str
    scanned_at: datetime
    received_at: datetime
    status: CheckInStatus
    reasons: list[str]
    distance_m: float | None
    shift_id: int | None
