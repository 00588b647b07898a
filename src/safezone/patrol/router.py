from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from safezone.core.deps import DatabaseDep, SessionDep
from safezone.core.geo import Latitude, Longitude
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, allow
from safezone.patrol import schemas
from safezone.patrol import service as patrol_service

router = APIRouter(prefix="/api/v1/units", tags=["patrol"])

Staff = Annotated[Principal, allow(*STAFF)]
ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Admin = Annotated[Principal, allow("admin")]


@router.get("", response_model=list[schemas.UnitRead])
def list_units(session: SessionDep, principal: Staff) -> Any:
    return patrol_service.list_units(session, station_id=principal.station_id)


@router.get("/nearest", response_model=list[schemas.UnitSuggestion])
def nearest(
    session: SessionDep,
    principal: ControlRoom,
    lat: Annotated[Latitude, Query()],
    lon: Annotated[Longitude, Query()],
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> Any:
    """Available units with a fresh location, fastest to reach the point first."""
    return patrol_service.rank_available(
        session, station_id=principal.station_id, lat=lat, lon=lon, limit=limit
    )


@router.post("", response_model=schemas.UnitRead, status_code=201)
def create_unit(data: schemas.UnitCreate, session: SessionDep, principal: Admin) -> Any:
    return patrol_service.create_unit(session, data=data, principal=principal)


@router.patch("/{unit_id}", response_model=schemas.UnitRead)
def update_unit(
    unit_id: str, data: schemas.UnitUpdate, session: SessionDep, principal: Staff
) -> Any:
    """The control room changes any unit; an officer only their own unit's status."""
    return patrol_service.update_unit(session, unit_id=unit_id, data=data, principal=principal)


@router.post("/{unit_id}/location", status_code=204)
def report_location(
    unit_id: str, data: schemas.LocationReport, db: DatabaseDep, principal: Staff
) -> Response:
    """Phones report every few seconds; a fix inside the throttle interval is checked with
    a read, so it never holds the write lock that an SOS may be waiting for."""
    with db.reader() as session:
        due = patrol_service.location_due(session, unit_id=unit_id, principal=principal)
    if due:
        with db.transaction() as session:
            patrol_service.report_location(
                session, unit_id=unit_id, report=data, principal=principal
            )
    return Response(status_code=204)
