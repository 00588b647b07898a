"""The incident lifecycle: new -> acknowledged -> dispatched -> on_scene -> resolved -> closed.

Every step records its time, who took it and a note on the timeline, in the same
transaction as its audit entry and its outbox event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, make_transient_to_detached

from safezone.audit import service as audit_service
from safezone.core.db import utcnow
from safezone.core.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from safezone.core.geo import h3_cell
from safezone.core.permissions import CONTROL_ROOM, Principal
from safezone.incidents.models import Incident, IncidentEvent
from safezone.incidents.schemas import (
    Category,
    IncidentCreate,
    IncidentSummary,
    IncidentUpdate,
    Priority,
    Source,
    Status,
)
from safezone.zones import service as zones_service

STATUSES: tuple[Status, ...] = get_args(Status)
CATEGORIES: tuple[Category, ...] = get_args(Category)
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

TRANSITIONS: dict[str, tuple[Status, ...]] = {
    "new": ("acknowledged",),
    # An incident handled without a visit (a false alarm settled by phone) may be resolved
    # straight from acknowledged or dispatched, but only with a note saying why.
    "acknowledged": ("dispatched", "resolved"),
    "dispatched": ("on_scene", "resolved"),
    "on_scene": ("resolved",),
    "resolved": ("closed",),
    "closed": (),
}
_STEP_COLUMN = {
    "acknowledged": "acknowledged_at",
    "dispatched": "dispatched_at",
    "on_scene": "on_scene_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}
MAX_LIST = 1000


def summary(incident: Incident) -> dict[str, Any]:
    """The incident as carried in events and lists."""
    return IncidentSummary.model_validate(incident).model_dump(mode="json")


def _publish(
    session: Session, incident: Incident, *, actor: str, action: str, payload: dict[str, Any]
) -> None:
    audit_service.record(
        session,
        actor=actor,
        action=action,
        object_type="incident",
        object_id=incident.id,
        station_id=incident.station_id,
        payload=payload,
        event={"incident": summary(incident), **payload},
    )


def _open(
    session: Session,
    *,
    data: IncidentCreate,
    source: Source,
    actor: str,
    station_id: str | None,
    at: datetime,
    placement: zones_service.Placement | None = None,
) -> Incident:
    """The incident row and its first timeline line ("created").

    Both go in through Core (an SOS opens an incident while holding the write lock, and
    the ORM's unit of work costs more than the INSERT); the incident is then handed to the
    session as the stored row it is, with every column known, so that later changes to
    it are tracked as usual and reading it asks the database nothing.
    """
    placement = placement or zones_service.place(session, lat=data.lat, lon=data.lon)
    values: dict[str, Any] = dict.fromkeys(_STEP_COLUMN.values()) | {
        "station_id": station_id or placement.station_id,
        "zone_id": placement.zone_id,
        "status": "new",
        "priority": data.priority,
        "category": data.category,
        "source": source,
        "title": data.title,
        "description": data.description,
        "lat": data.lat,
        "lon": data.lon,
        "h3_cell": h3_cell(data.lat, data.lon),
        "created_by": actor,
        "created_at": at,
        "updated_at": at,
        "escalated_at": None,
    }
    connection = session.connection()
    incident = Incident(id=connection.execute(_INSERT_INCIDENT, values).scalar_one(), **values)
    make_transient_to_detached(incident)
    session.add(incident)
    connection.execute(  # Core: a new incident's first line needs no ORM object
        _FIRST_LINE,
        {
            "incident_id": incident.id,
            "ts": at,
            "actor": actor,
            "action": "created",
            "to_status": "new",
            "note": f"source: {source}",
        },
    )
    return incident


_INSERT_INCIDENT = insert(Incident).returning(Incident.id)
_FIRST_LINE = insert(IncidentEvent)


def create_incident(
    session: Session,
    *,
    data: IncidentCreate,
    source: Source,
    actor: str,
    station_id: str | None = None,
    placement: zones_service.Placement | None = None,
) -> Incident:
    """Open a new incident where the point is; the station is the caller's or the place's.
    ``placement``: where the point is, when the caller has already looked it up."""
    incident = _open(
        session,
        data=data,
        source=source,
        actor=actor,
        station_id=station_id,
        at=utcnow(),
        placement=placement,
    )
    _publish(session, incident, actor=actor, action="incident.created", payload={})
    return incident


def get_incident(session: Session, *, incident_id: int, station_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.station_id != station_id:
        raise NotFound(f"No incident with id {incident_id} at your station.", field="id")
    return incident


def created_between(
    session: Session, *, station_id: str, since: datetime, until: datetime, limit: int | None = None
) -> list[Incident]:
    """The station's incidents created in [since, until), oldest first (for reports)."""
    query = (
        select(Incident)
        .where(
            Incident.station_id == station_id,
            Incident.created_at >= since,
            Incident.created_at < until,
        )
        .order_by(Incident.created_at, Incident.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def list_incidents(
    session: Session,
    *,
    station_id: str,
    since: datetime | None = None,
    statuses: list[str] | None = None,
    limit: int = 100,
) -> list[Incident]:
    """Newest first; ``since`` keeps incidents created at or after that moment."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}.", field="limit")
    for status in statuses or []:
        if status not in STATUSES:
            raise InvalidInput(
                f"Unknown status '{status}'; use one of: {', '.join(STATUSES)}.",
                field="status",
            )
    query = select(Incident).where(Incident.station_id == station_id)
    if since is not None:
        query = query.where(Incident.created_at >= since)
    if statuses:
        query = query.where(Incident.status.in_(statuses))
    query = query.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit)
    return list(session.scalars(query).all())


def timeline(session: Session, *, incident_id: int) -> list[IncidentEvent]:
    return list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.ts, IncidentEvent.id)
        ).all()
    )


def allowed_next(incident: Incident) -> list[Status]:
    return list(TRANSITIONS[incident.status])


def transition(
    session: Session, *, incident_id: int, to_status: Status, note: str, principal: Principal
) -> Incident:
    """Move an incident one step along its lifecycle, or refuse with the allowed steps."""
    incident = get_incident(session, incident_id=incident_id, station_id=principal.station_id)
    allowed = TRANSITIONS[incident.status]
    if to_status not in allowed:
        options = ", ".join(allowed) if allowed else "none (it is closed)"
        raise InvalidTransition(
            f"An incident that is '{incident.status}' cannot become '{to_status}'. "
            f"Allowed next: {options}.",
            field="status",
        )
    if to_status == "closed" and principal.role not in CONTROL_ROOM:
        raise Forbidden("Only operators, commanders and admins close incidents.")
    if to_status == "resolved" and incident.status != "on_scene" and not note.strip():
        raise InvalidInput(
            "Resolving an incident nobody attended needs a note saying why.", field="note"
        )
    now = utcnow()
    previous = incident.status
    incident.status = to_status
    incident.updated_at = now
    setattr(incident, _STEP_COLUMN[to_status], now)
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            ts=now,
            actor=principal.actor,
            action="status",
            from_status=previous,
            to_status=to_status,
            note=note,
        )
    )
    session.flush()
    _publish(
        session,
        incident,
        actor=principal.actor,
        action="incident.status_changed",
        payload={"from": previous, "to": to_status, "note": note},
    )
    return incident


def update_incident(
    session: Session, *, incident_id: int, data: IncidentUpdate, principal: Principal
) -> Incident:
    incident = get_incident(session, incident_id=incident_id, station_id=principal.station_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        raise InvalidInput("Nothing to change: give priority, category or title.")
    for key, value in changes.items():
        setattr(incident, key, value)
    incident.updated_at = utcnow()
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            ts=incident.updated_at,
            actor=principal.actor,
            action="updated",
            note=", ".join(f"{k}={v}" for k, v in sorted(changes.items())),
        )
    )
    session.flush()
    _publish(session, incident, actor=principal.actor, action="incident.updated", payload=changes)
    return incident


def add_note(
    session: Session,
    *,
    incident_id: int,
    note: str,
    actor: str,
    station_id: str,
    action: str = "note",
) -> Incident:
    """Add a line to the timeline (a note, or a report linked to the incident)."""
    incident = get_incident(session, incident_id=incident_id, station_id=station_id)
    incident.updated_at = utcnow()
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            ts=incident.updated_at,
            actor=actor,
            action=action,
            note=note,
        )
    )
    session.flush()
    _publish(session, incident, actor=actor, action=f"incident.{action}", payload={"note": note})
    return incident


def overdue_unacknowledged(
    session: Session, *, sources: tuple[str, ...], created_before: datetime
) -> list[Incident]:
    """Urgent incidents still 'new' past their deadline and not yet escalated."""
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.status == "new",
                Incident.source.in_(sources),
                Incident.created_at < created_before,
                Incident.escalated_at.is_(None),
            )
            .order_by(Incident.id)
        )
    )


def escalate(session: Session, *, incident_id: int, reason: str, actor: str) -> Incident:
    """Mark an incident as escalated (to the commander, and through the webhook)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"No incident with id {incident_id}.", field="id")
    incident.escalated_at = utcnow()
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            ts=incident.escalated_at,
            actor=actor,
            action="escalated",
            note=reason,
        )
    )
    session.flush()
    _publish(
        session, incident, actor=actor, action="incident.escalated", payload={"reason": reason}
    )
    return incident


def public_status(session: Session, *, incident_id: int) -> tuple[str, datetime] | None:
    """The status a citizen may see for the incident their report fed, and when it changed."""
    incident = session.get(Incident, incident_id)
    return (incident.status, incident.updated_at) if incident else None


def record_past_incident(
    session: Session,
    *,
    data: IncidentCreate,
    source: Source,
    occurred_at: datetime,
    steps: dict[Status, datetime],
    actor: str,
    station_id: str,
) -> Incident:
    """Enter an incident that already happened (imported history, the demo's past weeks).

    The lifecycle times are the real ones; the audit entry records when it was entered.
    No live event is published: nothing is happening now.
    """
    order = [s for s in STATUSES if s in steps]
    previous_step, previous_time = "new", occurred_at
    for step in order:
        if step not in TRANSITIONS[previous_step]:
            raise InvalidInput(
                f"'{previous_step}' cannot be followed by '{step}'.", field=f"steps.{step}"
            )
        if steps[step] < previous_time:
            raise InvalidInput(f"'{step}' happens before '{previous_step}'.", field=f"steps.{step}")
        previous_step, previous_time = step, steps[step]
    incident = _open(
        session, data=data, source=source, actor=actor, station_id=station_id, at=occurred_at
    )
    incident.status = order[-1] if order else "new"
    incident.updated_at = max([occurred_at, *steps.values()])
    for step, moment in steps.items():
        setattr(incident, _STEP_COLUMN[step], moment)
    previous: Status = "new"
    for step in order:
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                ts=steps[step],
                actor=actor,
                action="status",
                from_status=previous,
                to_status=step,
                note="",
            )
        )
        previous = step
    audit_service.record(
        session,
        actor=actor,
        action="incident.recorded",
        object_type="incident",
        object_id=incident.id,
        station_id=station_id,
        payload={"occurred_at": occurred_at.isoformat(), "status": incident.status},
    )
    return incident


def incident_points(
    session: Session,
    *,
    station_id: str,
    since: datetime,
    until: datetime,
    category: str | None = None,
) -> list[tuple[datetime, str, float, float]]:
    """(created_at, category, lat, lon) of a station's incidents with since <= created_at
    < until, oldest first: the input of hotspot maps and forecasts."""
    if category is not None and category not in CATEGORIES:
        raise InvalidInput(
            f"Unknown category '{category}'; use one of: {', '.join(CATEGORIES)}.",
            field="category",
        )
    query = select(Incident.created_at, Incident.category, Incident.lat, Incident.lon).where(
        Incident.station_id == station_id,
        Incident.created_at >= since,
        Incident.created_at < until,
    )
    if category is not None:
        query = query.where(Incident.category == category)
    rows = session.execute(query.order_by(Incident.created_at, Incident.id)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
