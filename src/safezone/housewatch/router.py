from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from safezone.core.deps import AuditedReadDep, SessionDep, SettingsDep
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, allow
from safezone.housewatch import schemas
from safezone.housewatch import service as housewatch_service

router = APIRouter(prefix="/api/v1/housewatch", tags=["housewatch"])

Citizen = Annotated[Principal, allow("citizen")]
Reader = Annotated[Principal, allow("citizen", *STAFF)]
OwnerOrControlRoom = Annotated[Principal, allow("citizen", *CONTROL_ROOM)]
ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Staff = Annotated[Principal, allow(*STAFF)]
RequestId = Annotated[int, Path(ge=1)]


@router.post("/requests", response_model=schemas.RequestRead, status_code=201)
def create_request(
    data: schemas.RequestCreate, session: SessionDep, settings: SettingsDep, principal: Citizen
) -> Any:
    """Ask the station to watch your house while you are away (ฝากบ้าน)."""
    return housewatch_service.create_request(
        session, data=data, principal=principal, today=housewatch_service.local_today(settings)
    )


@router.get("/requests", response_model=list[schemas.RequestRead])
def list_requests(
    session: SessionDep,
    principal: Reader,
    status: Annotated[schemas.RequestStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """A citizen's own requests; staff see their station's."""
    rows = housewatch_service.list_requests(
        session, principal=principal, status=status, limit=limit
    )
    return [
        housewatch_service.for_viewer(schemas.RequestRead.model_validate(r), principal)
        for r in rows
    ]


@router.get("/active", response_model=list[schemas.RequestRead])
def active_watches(session: SessionDep, settings: SettingsDep, principal: Staff) -> Any:
    """Houses under watch today at the station (the officers' house-watch tasks)."""
    rows = housewatch_service.active_for_station(
        session,
        station_id=principal.station_id,
        today=housewatch_service.local_today(settings),
    )
    return [
        housewatch_service.for_viewer(schemas.RequestRead.model_validate(r), principal)
        for r in rows
    ]


@router.get("/requests/{request_id}", response_model=schemas.RequestDetail)
def get_request(
    request_id: RequestId, session: SessionDep, settings: SettingsDep, principal: Reader
) -> Any:
    """The request with the patrol visits in its dates and the owner's notices."""
    row = housewatch_service.get_request(session, request_id=request_id, principal=principal)
    return housewatch_service.for_viewer(
        housewatch_service.detail(session, row=row, timezone=settings.local_timezone), principal
    )


@router.post("/requests/{request_id}/approve", response_model=schemas.RequestRead)
def approve(
    request_id: RequestId,
    data: schemas.Approval,
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    """Take the watch: the house becomes a temporary checkpoint on the plans for its dates."""
    return housewatch_service.approve(
        session,
        request_id=request_id,
        data=data,
        principal=principal,
        channels=housewatch_service.channels_for(settings),
        today=housewatch_service.local_today(settings),
    )


@router.post("/requests/{request_id}/decline", response_model=schemas.RequestRead)
def decline(
    request_id: RequestId,
    data: schemas.Decline,
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    return housewatch_service.decline(
        session,
        request_id=request_id,
        data=data,
        principal=principal,
        channels=housewatch_service.channels_for(settings),
    )


@router.post("/requests/{request_id}/cancel", response_model=schemas.RequestRead)
def cancel(
    request_id: RequestId, session: SessionDep, settings: SettingsDep, principal: Citizen
) -> Any:
    """The owner calls the watch off (back early); it stops from today."""
    return housewatch_service.cancel(
        session,
        request_id=request_id,
        principal=principal,
        today=housewatch_service.local_today(settings),
    )


@router.get(
    "/requests/{request_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def house_qr(
    request_id: RequestId, session: AuditedReadDep, principal: OwnerOrControlRoom
) -> Response:
    """The house's printed code, to fix at the gate while the watch is approved."""
    body = housewatch_service.house_qr_svg(session, request_id=request_id, principal=principal)
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
