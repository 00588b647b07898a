from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safezone.core.geo import Latitude, Longitude
from safezone.incidents.schemas import Category, Priority

ReportKind = Literal["incident", "tip", "emergency"]
ReportStatus = Literal["received", "in_progress", "merged", "rejected"]


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ReportKind
    category: Category
    description: str = Field(min_length=1, max_length=5000)
    lat: Latitude
    lon: Longitude
    accuracy_m: float | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)
    anonymous: bool = Field(False, description="Keep no link to the account, if signed in")
    client_ref: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="The app's own id for this report: a retry with the same value returns "
        "the first report instead of making a second one.",
    )

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty; say what happened")
        return value


class ReportCreated(BaseModel):
    id: int
    tracking_code: str
    status: ReportStatus
    outside_zone: bool


class PhotoRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    created_at: datetime


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    zone_id: str | None
    outside_zone: bool
    tracking_code: str
    kind: ReportKind
    category: Category
    description: str
    lat: float
    lon: float
    accuracy_m: float | None
    anonymous: bool
    status: ReportStatus
    incident_id: int | None
    created_at: datetime
    updated_at: datetime


class ReportDetail(ReportRead):
    photos: list[PhotoRead]


class PublicUpdate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ts: datetime
    status: str
    message: str


class TrackingView(BaseModel):
    tracking_code: str
    kind: ReportKind
    category: Category
    status: ReportStatus
    outside_zone: bool
    created_at: datetime
    incident_status: str | None
    photos: int
    updates: list[PublicUpdate]


class TriageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["create_incident", "merge", "reject"]
    incident_id: int | None = Field(None, description="With merge: the incident to join")
    priority: Priority | None = Field(None, description="With create_incident")
    category: Category | None = Field(None, description="With create_incident")
    note: str = Field("", max_length=2000, description="Internal note for the timeline")
    public_message: str = Field(
        "", max_length=1000, description="Shown to the citizen on the tracking page"
    )
