from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safezone.zones.schemas import ASSET_ID

AssignmentStatus = Literal[
    "assigned", "acknowledged", "en_route", "on_scene", "resolved", "cancelled"
]
# Steps the unit reports after the assignment, in order.
Step = Literal["acknowledged", "en_route", "on_scene", "resolved"]


class AssignmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: int = Field(ge=1)
    unit_id: str = Field(pattern=ASSET_ID, max_length=64)
    note: str = Field("", max_length=1000)


class StepReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Step
    note: str = Field("", max_length=1000)


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, description="Why the unit is stood down")


class ResponseTimes(BaseModel):
    """Seconds between the recorded steps; None until both steps happened."""

    to_acknowledge_s: float | None
    to_depart_s: float | None
    travel_s: float | None
    to_arrive_s: float | None
    on_scene_s: float | None
    total_s: float | None


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    unit_id: str
    officer_user_id: int | None
    status: AssignmentStatus
    note: str
    assigned_by: str
    distance_m: float | None
    eta_s: float | None
    assigned_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    resolved_at: datetime | None
    cancelled_at: datetime | None
    ack_overdue_at: datetime | None
    times: ResponseTimes


class Percentiles(BaseModel):
    count: int
    median_s: float | None
    p90_s: float | None


class ResponseSummary(BaseModel):
    """Response-time figures over assignments made in a period."""

    since: datetime
    assignments: int
    acknowledged_late: int
    to_acknowledge: Percentiles
    to_arrive: Percentiles
    travel: Percentiles
