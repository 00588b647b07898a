from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
)

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


# --- patrol plans and compliance ---------------------------------------------------------

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{value}' (e.g. Asia/Bangkok)") from exc
    return value


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]


class PlanStop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_id: str = Field(pattern=ASSET_ID, max_length=64)
    target_visits: int = Field(1, ge=1, le=48, description="Visits due per shift")


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName | None = Field(
        None,
        description="IANA time zone of the shift hours; omitted: the station's "
        "(SAFEZONE_LOCAL_TIMEZONE)",
    )
    start_time: str = Field(pattern=HHMM, description="Shift start, local HH:MM")
    end_time: str = Field(
        pattern=HHMM, description="Shift end, local HH:MM; at or before the start = next day"
    )
    valid_from: date = Field(description="First shift date (local)")
    valid_to: date | None = Field(
        None, description="Last shift date; null = every day from valid_from on"
    )
    checkpoints: list[PlanStop] = Field(min_length=1, max_length=100, description="In order")


class PlanUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    active: bool | None = None
    valid_to: date | None = None
    checkpoints: list[PlanStop] | None = Field(None, min_length=1, max_length=100)


class PlanStopRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    checkpoint_id: str
    target_visits: int
    valid_from: date | None
    valid_to: date | None
    housewatch_request_id: int | None


class PlanRead(BaseModel):
    id: int
    station_id: str
    name: str
    timezone: str
    start_time: str
    end_time: str
    valid_from: date
    valid_to: date | None
    active: bool
    created_by: str
    created_at: datetime
    checkpoints: list[PlanStopRead]


Outcome = Literal["on_time", "late", "missed", "pending"]
CheckpointState = Literal["on_time", "late", "partial", "missed", "pending"]


class SlotRead(BaseModel):
    index: int
    due_from: datetime
    due_until: datetime
    outcome: Outcome
    checkin_id: int | None
    officer_user_id: int | None
    officer: str | None
    scanned_at: datetime | None
    checkin_status: Literal["accepted", "flagged"] | None


class Counts(BaseModel):
    on_time: int
    late: int
    missed: int
    pending: int
    flagged: int = Field(description="Slots filled by a flagged check-in (also on time/late)")


class CheckpointCompliance(Counts):
    position: int
    checkpoint_id: str
    name: str
    lat: float | None
    lon: float | None
    target_visits: int
    state: CheckpointState
    extra_visits: int = Field(description="Counted check-ins that filled no slot")
    rejected_scans: int
    housewatch_request_id: int | None
    slots: list[SlotRead]


class OfficerCompliance(BaseModel):
    officer_user_id: int
    officer: str
    on_time: int
    late: int
    flagged: int
    checkins: int = Field(description="Counted check-ins at the plan's checkpoints")
    rejected_scans: int


class ComplianceReport(BaseModel):
    plan_id: int
    plan_name: str
    station_id: str
    date: date
    timezone: str
    shift_start: datetime
    shift_end: datetime
    generated_at: datetime
    finished: bool = Field(description="The shift has ended: unfilled slots are missed")
    totals: Counts
    checkpoints: list[CheckpointCompliance]
    officers: list[OfficerCompliance]
