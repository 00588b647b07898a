from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safezone.core.geo import Latitude, Longitude

ContactKind = Literal["app", "phone", "line", "email"]
RequestStatus = Literal["pending", "approved", "declined", "cancelled", "completed"]
# The longest watch one request may ask for; longer absences are arranged at the station.
MAX_DAYS = 60
CONTACT_PATTERNS: dict[str, str] = {
    "phone": r"^\+?[0-9][0-9 -]{7,19}$",
    "line": r"^@?[A-Za-z0-9._-]{3,40}$",
    "email": r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$",
}


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ContactKind = Field(description="app = in-app notices only")
    value: str = Field("", max_length=200, description="Phone number, LINE id or e-mail")


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=5, max_length=500)
    lat: Latitude
    lon: Longitude
    starts_on: date = Field(description="First day away (local date)")
    ends_on: date = Field(description="Last day away (local date)")
    contact: Contact
    note: str = Field("", max_length=1000, description="e.g. the dog is fed by a neighbour")


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_ids: list[int] | None = Field(
        None,
        max_length=20,
        description="Plans whose shifts visit the house; null = every active plan that "
        "has shifts on the dates",
    )
    target_visits: int = Field(1, ge=1, le=12, description="Visits due per shift")
    radius_m: float = Field(30.0, ge=10, le=200, description="Geofence of the house")
    note: str = Field("", max_length=1000)


class Decline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, description="Why, for the owner")


class NoticeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title_th: str
    title_en: str
    text_th: str
    text_en: str
    data: dict[str, Any]
    checkin_id: int | None
    created_at: datetime


class VisitRead(BaseModel):
    checkin_id: int
    scanned_at: datetime
    status: Literal["accepted", "flagged"]


class RequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    owner_user_id: int | None = Field(description="Null for officers: not theirs to know")
    address: str
    lat: float
    lon: float
    starts_on: date
    ends_on: date
    contact_kind: ContactKind
    contact_value: str | None = Field(
        description="The owner's phone, LINE id or e-mail: for the owner and the control "
        "room; null for officers"
    )
    note: str
    status: RequestStatus
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    checkpoint_id: str | None
    target_visits: int | None
    closed_at: datetime | None


class RequestDetail(RequestRead):
    visits: list[VisitRead]
    notices: list[NoticeRead]
