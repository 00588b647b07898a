from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from safezone.core.deps import SessionDep, SettingsDep
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, allow, public
from safezone.sos import schemas
from safezone.sos import service as sos_service
from safezone.zones.schemas import ASSET_ID

router = APIRouter(prefix="/api/v1/sos", tags=["sos"])

Anyone = Annotated[Principal | None, public()]
ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Staff = Annotated[Principal, allow(*STAFF)]
BoxId = Annotated[str, Path(pattern=ASSET_ID, max_length=64)]


@router.post(
    "/boxes/{box_id}/events",
    responses={201: {"model": schemas.BoxAnswer}, 200: {"model": schemas.BoxAnswer}},
)
async def box_event(
    box_id: BoxId, request: Request, settings: SettingsDep, principal: Anyone
) -> JSONResponse:
    """HTTP fallback for boxes without MQTT: the same signed body as on MQTT.

    The box is authenticated by its HMAC signature, not by a user account. 201 accepted,
    200 the same message again (already stored), 401 unknown box or bad signature,
    409 a reused seq, 422 malformed or a clock outside the window.
    """
    body = await request.body()
    db = request.app.state.db

    def handle() -> sos_service.BoxResult:
        return sos_service.receive(
            db,
            box_id=box_id,
            body=body,
            transport="http",
            tolerance_s=settings.sos_clock_tolerance_s,
        )

    result = await run_in_threadpool(handle)
    status, content = result.http()
    return JSONResponse(content, status_code=status)


@router.get("/boxes/status", response_model=list[schemas.BoxStatusRead])
def box_status(session: SessionDep, principal: Staff) -> Any:
    return sos_service.box_statuses(session, station_id=principal.station_id)


@router.get("/rejections", response_model=list[schemas.RejectionCount])
def rejections(session: SessionDep, principal: ControlRoom) -> Any:
    """How many messages each box had refused, by reason (admins also see those from box
    ids that no station has registered)."""
    return sos_service.rejection_counts(
        session, station_id=principal.station_id, unregistered=principal.role == "admin"
    )


@router.get("/responses/{incident_id}", response_model=schemas.ResponseRead)
def response(incident_id: int, session: SessionDep, principal: Staff) -> Any:
    """The cameras, snapshots, suggested units and location trail of an SOS incident."""
    return sos_service.get_response(
        session, incident_id=incident_id, station_id=principal.station_id
    )


@router.post("/panic", response_model=schemas.PanicState, status_code=201)
def start_panic(
    data: schemas.PanicStart, request: Request, session: SessionDep, principal: Anyone
) -> Any:
    """The citizen app's SOS button. Anyone may press it; no account is needed. Never
    refused for coming often from one address; the incident says so from the third."""
    address = request.client.host if request.client else "unknown"
    same_source = request.app.state.panic_sources.note(address, data.client_ref)
    return sos_service.start_panic(session, data=data, principal=principal, same_source=same_source)


@router.get("/panic/{tracking_code}", response_model=schemas.PanicState)
def panic_state(tracking_code: str, session: SessionDep, principal: Anyone) -> Any:
    return sos_service.panic_state(session, tracking_code=tracking_code)


@router.post("/panic/{tracking_code}/trail", response_model=schemas.PanicState)
def add_trail(
    tracking_code: str, data: schemas.TrailBatch, session: SessionDep, principal: Anyone
) -> Any:
    return sos_service.add_trail(session, tracking_code=tracking_code, batch=data)


@router.post("/panic/{tracking_code}/cancel", response_model=schemas.PanicState)
def cancel_panic(tracking_code: str, session: SessionDep, principal: Anyone) -> Any:
    return sos_service.cancel_panic(session, tracking_code=tracking_code)
