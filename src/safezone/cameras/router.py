from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse, Response

from safezone.cameras import evidence
from safezone.cameras import health as camera_health
from safezone.cameras import service as cameras_service
from safezone.cameras.schemas import CameraHealthRead, CameraListed, EvidenceExportRead
from safezone.core.deps import AuditedReadDep, DatabaseDep, SessionDep, SettingsDep
from safezone.core.errors import InvalidInput
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, allow

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])
health_router = APIRouter(prefix="/api/v1/camera-health", tags=["cameras"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Staff = Annotated[Principal, allow(*STAFF)]


def _listed(row: Any, principal: Principal) -> CameraListed:
    """Only admins see a camera's stream and snapshot URLs: they often carry the camera's
    password, and anyone else must look through the audited snapshot route."""
    view = CameraListed.model_validate(row)
    if principal.role != "admin":
        view = view.model_copy(update={"stream_url": "", "snapshot_url": ""})
    return view


@router.get("", response_model=list[CameraListed], name="list_cameras")
def list_cameras(
    session: SessionDep,
    principal: Staff,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Point to be seen")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_m: Annotated[
        float | None, Query(gt=0, le=5000, description="Only cameras this close to the point")
    ] = None,
) -> Any:
    """The station's cameras (lat, lon, bearing, fov_deg, range_m, owner...). With
    ``lat`` and ``lon``: only the active cameras whose field of view covers that point
    (distance and bearing checked), nearest first."""
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput("Give both lat and lon for a point.", field=missing)
    if lat is None or lon is None:
        if radius_m is not None:
            raise InvalidInput("radius_m needs a point (lat and lon).", field="lat")
        return [
            _listed(row, principal)
            for row in cameras_service.list_cameras(session, station_id=principal.station_id)
        ]
    rows = {
        row.id: row
        for row in cameras_service.list_cameras(session, station_id=principal.station_id)
    }
    views = cameras_service.covering(
        session, station_id=principal.station_id, lat=lat, lon=lon, radius_m=radius_m
    )
    return [
        _listed(rows[view.camera_id], principal).model_copy(
            update={
                "distance_m": view.distance_m,
                "bearing_to_point_deg": view.bearing_to_point_deg,
            }
        )
        for view in views
    ]


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 502: {"description": "camera unreachable"}},
)
def live_snapshot(
    camera_id: str,
    db: DatabaseDep,
    settings: SettingsDep,
    principal: ControlRoom,
    reason: Annotated[str, Query(min_length=3, max_length=300, description="Why you look")],
) -> Any:
    """The camera's current picture (JPEG). Every viewing, also a failed one, is written
    to the audit chain with who, which camera, when and why."""
    frames = cameras_service.live_snapshot(
        db,
        camera_id=camera_id,
        principal=principal,
        reason=reason,
        timeout_s=settings.snapshot_timeout_s,
    )
    if frames.jpeg is None:
        body = {
            "error": {
                "code": "camera_unavailable",
                "message": f"Camera {camera_id} gave no picture: {frames.error}.",
                "field": "camera_id",
            }
        }
        return JSONResponse(body, status_code=502)
    return Response(frames.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/snapshots/{snapshot_id}", response_class=FileResponse)
def snapshot_image(
    snapshot_id: int, session: AuditedReadDep, settings: SettingsDep, principal: ControlRoom
) -> Any:
    """An evidence snapshot's image. Every viewing is written to the audit trail."""
    path, content_type = cameras_service.view_snapshot(
        session, snapshot_id=snapshot_id, principal=principal, media_dir=settings.media_dir
    )
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "no-store"})


@health_router.get("", response_model=list[CameraHealthRead])
def camera_health_list(session: SessionDep, principal: Staff) -> Any:
    """What the health monitor last saw of each camera: online, fps, last frame time."""
    return camera_health.list_health(session, station_id=principal.station_id)


evidence_router = APIRouter(prefix="/api/v1/evidence-exports", tags=["cameras"])


@evidence_router.get("", response_model=list[EvidenceExportRead])
def evidence_exports(
    session: SessionDep,
    principal: ControlRoom,
    incident_id: Annotated[int | None, Query(description="Only this incident's exports")] = None,
) -> Any:
    """Who exported which incident's evidence, when, why, and where the export sits in the
    audit chain (made with ``safezone evidence export``; checked with ``evidence verify``)."""
    return evidence.list_exports(session, station_id=principal.station_id, incident_id=incident_id)
