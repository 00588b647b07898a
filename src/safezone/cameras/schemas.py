from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CameraView(BaseModel):
    """A camera that sees a point, and how far away that point is."""

    camera_id: str
    pole_id: str
    name: str
    lat: float
    lon: float
    bearing_deg: float
    fov_deg: float
    range_m: float
    distance_m: float
    bearing_to_point_deg: float


class SnapshotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: str
    incident_id: int | None
    content_type: str
    size_bytes: int
    sha256: str
    captured_at: datetime
