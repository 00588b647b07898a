from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safezone.core.geo import Latitude, Longitude, polygon_geometry

ASSET_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
CameraOwner = Literal["police", "municipality", "private"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StationRead(_Read):
    id: str
    name_th: str
    name_en: str
    lat: float
    lon: float


def _check_geometry(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        try:
            polygon_geometry(value)
        except ValueError as exc:
            raise ValueError(f"geometry {exc}") from exc
    return value


class ZoneCreate(_In):
    id: str = Field(pattern=ASSET_ID, description="Stable id, e.g. ZONE-INDOCHINA")
    name: str = Field(min_length=1, max_length=200, description="Thai name")
    name_en: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (lon, lat)")
    active: bool = True

    _geometry = field_validator("geometry")(_check_geometry)


class ZoneUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    geometry: dict[str, Any] | None = None
    active: bool | None = None

    _geometry = field_validator("geometry")(_check_geometry)


class ZoneRead(_Read):
    id: str
    station_id: str
    name: str
    name_en: str
    description: str
    geometry: dict[str, Any]
    active: bool
    updated_at: datetime


class CameraCreate(_In):
    id: str = Field(pattern=ASSET_ID)
    pole_id: str = Field(pattern=ASSET_ID, description="Pole or mounting point")
    name: str = Field("", max_length=200)
    lat: Latitude
    lon: Longitude
    bearing_deg: float = Field(ge=0, lt=360, description="Direction the camera faces")
    fov_deg: float = Field(gt=0, le=360, description="Horizontal field of view")
    range_m: float = Field(gt=0, le=2000, description="How far it sees usefully")
    stream_url: str = Field("", max_length=500)
    snapshot_url: str = Field("", max_length=500)
    owner: CameraOwner = "police"
    sharing_agreement: str = Field("", max_length=500)
    active: bool = True


class CameraUpdate(_In):
    pole_id: str | None = Field(None, pattern=ASSET_ID)
    name: str | None = Field(None, max_length=200)
    lat: Latitude | None = None
    lon: Longitude | None = None
    bearing_deg: float | None = Field(None, ge=0, lt=360)
    fov_deg: float | None = Field(None, gt=0, le=360)
    range_m: float | None = Field(None, gt=0, le=2000)
    stream_url: str | None = Field(None, max_length=500)
    snapshot_url: str | None = Field(None, max_length=500)
    owner: CameraOwner | None = None
    sharing_agreement: str | None = Field(None, max_length=500)
    active: bool | None = None


class CameraRead(_Read):
    id: str
    station_id: str
    pole_id: str
    name: str
    lat: float
    lon: float
    bearing_deg: float
    fov_deg: float
    range_m: float
    stream_url: str
    snapshot_url: str
    owner: CameraOwner
    sharing_agreement: str
    active: bool
    updated_at: datetime


class SosBoxCreate(_In):
    id: str = Field(pattern=ASSET_ID)
    name: str = Field("", max_length=200)
    lat: Latitude
    lon: Longitude
    secret: str | None = Field(
        None, min_length=16, max_length=128, description="HMAC secret; generated if omitted"
    )
    heartbeat_interval_s: int = Field(60, ge=5, le=86400)
    active: bool = True


class SosBoxUpdate(_In):
    name: str | None = Field(None, max_length=200)
    lat: Latitude | None = None
    lon: Longitude | None = None
    secret: str | None = Field(None, min_length=16, max_length=128)
    heartbeat_interval_s: int | None = Field(None, ge=5, le=86400)
    active: bool | None = None


class SosBoxRead(_Read):
    id: str
    station_id: str
    name: str
    lat: float
    lon: float
    heartbeat_interval_s: int
    active: bool
    updated_at: datetime


class SosBoxWithSecret(SosBoxRead):
    """Returned once, to the admin who creates a box or sets its secret."""

    secret: str


class CheckpointCreate(_In):
    id: str = Field(pattern=ASSET_ID)
    name: str = Field("", max_length=200)
    lat: Latitude
    lon: Longitude
    radius_m: float = Field(30.0, ge=5, le=500, description="Geofence radius")
    active: bool = True


class CheckpointUpdate(_In):
    name: str | None = Field(None, max_length=200)
    lat: Latitude | None = None
    lon: Longitude | None = None
    radius_m: float | None = Field(None, ge=5, le=500)
    active: bool | None = None


class CheckpointRead(_Read):
    id: str
    station_id: str
    name: str
    lat: float
    lon: float
    radius_m: float
    active: bool
    updated_at: datetime


class MaintenanceAlertRead(_Read):
    id: int
    asset_kind: str
    asset_id: str
    kind: str
    detail: str
    raised_at: datetime
    cleared_at: datetime | None


class ImportResult(BaseModel):
    created: dict[str, int]
    updated: dict[str, int]
