from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class UnitSuggestion(BaseModel):
    unit_id: str
    callsign: str
    kind: UnitKind
    distance_m: float
    eta_s: float
    lat: float
    lon: float
