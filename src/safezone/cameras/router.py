from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from safezone.cameras import service as cameras_service
from safezone.core.deps import AuditedReadDep, SettingsDep
from safezone.core.permissions import CONTROL_ROOM, Principal, allow

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]


@router.get("/snapshots/{snapshot_id}", response_class=FileResponse)
def snapshot_image(
    snapshot_id: int, session: AuditedReadDep, settings: SettingsDep, principal: ControlRoom
) -> Any:
    """An evidence snapshot's image. Every viewing is written to the audit trail."""
    path, content_type = cameras_service.view_snapshot(
        session, snapshot_id=snapshot_id, principal=principal, media_dir=settings.media_dir
    )
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "no-store"})
