from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from safezone.core.deps import SessionDep
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, allow
from safezone.incidents import schemas
from safezone.incidents import service as incidents_service
from safezone.reports import service as reports_service

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

Staff = Annotated[Principal, allow(*STAFF)]
ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]


def _detail(session: SessionDep, incident: Any) -> schemas.IncidentDetail:
    base = schemas.IncidentSummary.model_validate(incident).model_dump()
    return schemas.IncidentDetail(
        **base,
        description=incident.description,
        created_by=incident.created_by,
        acknowledged_at=incident.acknowledged_at,
        dispatched_at=incident.dispatched_at,
        on_scene_at=incident.on_scene_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        timeline=[
            schemas.TimelineEntry.model_validate(e)
            for e in incidents_service.timeline(session, incident_id=incident.id)
        ],
        reports=[
            schemas.LinkedReport(
                id=r.id,
                tracking_code=r.tracking_code,
                kind=r.kind,
                status=r.status,
                created_at=r.created_at,
            )
            for r in reports_service.reports_for_incident(session, incident_id=incident.id)
        ],
        allowed_next=incidents_service.allowed_next(incident),
    )


@router.get("", response_model=list[schemas.IncidentSummary])
def list_incidents(
    session: SessionDep,
    principal: Staff,
    since: Annotated[
        datetime | None, Query(description="ISO 8601; created at or after (UTC if no zone)")
    ] = None,
    status: Annotated[
        list[str] | None, Query(description="One or more statuses (repeat or comma-separate)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    statuses = [s for value in status or [] for s in value.split(",") if s]
    return incidents_service.list_incidents(
        session, station_id=principal.station_id, since=since, statuses=statuses, limit=limit
    )


@router.post("", response_model=schemas.IncidentDetail, status_code=201)
def create_incident(
    data: schemas.IncidentCreate, session: SessionDep, principal: ControlRoom
) -> Any:
    incident = incidents_service.create_incident(
        session,
        data=data,
        source="operator",
        actor=principal.actor,
        station_id=principal.station_id,
    )
    return _detail(session, incident)


@router.get("/{incident_id}", response_model=schemas.IncidentDetail)
def get_incident(incident_id: int, session: SessionDep, principal: Staff) -> Any:
    incident = incidents_service.get_incident(
        session, incident_id=incident_id, station_id=principal.station_id
    )
    return _detail(session, incident)


@router.post("/{incident_id}/transitions", response_model=schemas.IncidentDetail)
def transition(
    incident_id: int, data: schemas.TransitionRequest, session: SessionDep, principal: Staff
) -> Any:
    incident = incidents_service.transition(
        session,
        incident_id=incident_id,
        to_status=data.status,
        note=data.note,
        principal=principal,
    )
    return _detail(session, incident)


@router.patch("/{incident_id}", response_model=schemas.IncidentDetail)
def update_incident(
    incident_id: int, data: schemas.IncidentUpdate, session: SessionDep, principal: ControlRoom
) -> Any:
    incident = incidents_service.update_incident(
        session, incident_id=incident_id, data=data, principal=principal
    )
    return _detail(session, incident)


@router.post("/{incident_id}/notes", response_model=schemas.IncidentDetail)
def add_note(
    incident_id: int, data: schemas.NoteRequest, session: SessionDep, principal: Staff
) -> Any:
    incident = incidents_service.add_note(
        session,
        incident_id=incident_id,
        note=data.note,
        actor=principal.actor,
        station_id=principal.station_id,
    )
    return _detail(session, incident)
