from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from safezone.core.db import utcnow
from safezone.core.deps import SessionDep, SettingsDep
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, allow
from safezone.dispatch import schemas
from safezone.dispatch import service as dispatch_service
from safezone.patrol import service as patrol_service
from safezone.patrol.schemas import UnitSuggestion

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatch"])

Staff = Annotated[Principal, allow(*STAFF)]
ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]


@router.get("/incidents/{incident_id}/suggestions", response_model=list[UnitSuggestion])
def suggestions(
    incident_id: int,
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> Any:
    """Available units for the incident, fastest to arrive first (by road when a road
    graph is configured)."""
    return dispatch_service.suggestions(
        session,
        incident_id=incident_id,
        principal=principal,
        limit=limit,
        graph=patrol_service.road_graph(settings),
    )


@router.post("/assignments", response_model=schemas.AssignmentRead, status_code=201)
def assign(
    data: schemas.AssignmentCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    """Send a unit; its officer must acknowledge within SAFEZONE_DISPATCH_ACK_TIMEOUT_S."""
    assignment = dispatch_service.assign(
        session,
        data=data,
        principal=principal,
        ack_timeout_s=settings.dispatch_ack_timeout_s,
        graph=patrol_service.road_graph(settings),
    )
    return dispatch_service.read(assignment)


@router.get("/assignments", response_model=list[schemas.AssignmentRead])
def list_assignments(
    session: SessionDep,
    principal: Staff,
    incident_id: Annotated[int | None, Query(ge=1)] = None,
    active: Annotated[bool | None, Query(description="only open / finished ones")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Newest first; an officer sees their own unit's assignments."""
    rows = dispatch_service.list_assignments(
        session, principal=principal, incident_id=incident_id, active=active, limit=limit
    )
    return [dispatch_service.read(a) for a in rows]


@router.get("/assignments/{assignment_id}", response_model=schemas.AssignmentRead)
def get_assignment(assignment_id: int, session: SessionDep, principal: Staff) -> Any:
    return dispatch_service.read(
        dispatch_service.get_assignment(session, assignment_id=assignment_id, principal=principal)
    )


@router.post("/assignments/{assignment_id}/acknowledge", response_model=schemas.AssignmentRead)
def acknowledge(assignment_id: int, session: SessionDep, principal: Staff) -> Any:
    """The officer has seen the assignment (the control room may record a radio reply)."""
    assignment = dispatch_service.report_step(
        session,
        assignment_id=assignment_id,
        data=schemas.StepReport(status="acknowledged"),
        principal=principal,
    )
    return dispatch_service.read(assignment)


@router.post("/assignments/{assignment_id}/steps", response_model=schemas.AssignmentRead)
def report_step(
    assignment_id: int, data: schemas.StepReport, session: SessionDep, principal: Staff
) -> Any:
    """en_route, on_scene or resolved (or acknowledged): forward only, each one timed."""
    assignment = dispatch_service.report_step(
        session, assignment_id=assignment_id, data=data, principal=principal
    )
    return dispatch_service.read(assignment)


@router.post("/assignments/{assignment_id}/cancel", response_model=schemas.AssignmentRead)
def cancel(
    assignment_id: int, data: schemas.CancelRequest, session: SessionDep, principal: ControlRoom
) -> Any:
    assignment = dispatch_service.cancel(
        session, assignment_id=assignment_id, data=data, principal=principal
    )
    return dispatch_service.read(assignment)


@router.get("/response-times", response_model=schemas.ResponseSummary)
def response_times(
    session: SessionDep,
    principal: ControlRoom,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Any:
    """Median and 90th percentile of time to acknowledge, to arrive and on the road."""
    return dispatch_service.response_summary(
        session, station_id=principal.station_id, since=utcnow() - timedelta(days=days)
    )
