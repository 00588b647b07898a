from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, computed_field

from safezone.zones.schemas import CameraRead


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


class CameraListed(CameraRead):
    """A camera of the registry; with a point asked, also how far the point is."""

    distance_m: float | None = None
    bearing_to_point_deg: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def bearing(self) -> float:
        """The direction the camera faces (same as bearing_deg)."""
        return self.bearing_deg


class CameraHealthRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    camera_id: str
    online: bool
    source: str
    fps: float | None
    last_frame_at: datetime | None
    last_checked_at: datetime
    last_error: str


class EvidenceExportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    exporter: str
    reason: str
    file_count: int
    files_sha256: str
    audit_seq: int
    exported_at: datetime
