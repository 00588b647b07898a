from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safezone.core.geo import Latitude, Longitude

Status = Literal["new", "acknowledged", "dispatched", "on_scene", "resolved", "closed"]
Priority = Literal["critical", "high", "medium", "low"]
Source = Literal["report", "tip", "emergency", "operator", "sos", "camera", "patrol", "import"]
Category = Literal[
    "theft",
    "burglary",
    "robbery",
    "assault",
    "drugs",
    "traffic",
    "disturbance",
    "suspicious",
    "vandalism",
    "fire",
    "medical",
    "missing_person",
    "sos",
    "other",
]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    priority: Priority = "medium"
    title: str = Field("", max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    lat: Latitude
    lon: Longitude


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    note: str = Field("", max_length=2000)


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)


class IncidentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority | None = None
    category: Category | None = None
    title: str | None = Field(None, max_length=200)


class IncidentSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    zone_id: str | None
    status: Status
    priority: Priority
    category: Category
    source: Source
    title: str
    lat: float
    lon: float
    created_at: datetime
    updated_at: datetime
    escalated_at: datetime | None = None


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ts: datetime
    actor: str
    action: str
    from_status: Status | None
    to_status: Status | None
    note: str


class LinkedReport(BaseModel):
    id: int
    tracking_code: str
    kind: str
    status: str
    created_at: datetime


class IncidentDetail(IncidentSummary):
    description: str
    created_by: str
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    on_scene_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    timeline: list[TimelineEntry]
    reports: list[LinkedReport] = []
    allowed_next: list[Status]
