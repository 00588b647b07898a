"""Dispatch: send a unit to an incident, make sure its officer acknowledges in time, and
time every step of the response.

An assignment moves assigned -> acknowledged -> en_route -> on_scene -> resolved (steps
may be skipped, never taken back) or is cancelled by the control room. Each step is
stamped, audited and published; the unit's status and the incident's lifecycle follow.
An open assignment belongs to whoever crews the unit now: when the crew changes, it moves
to the new officer (``follow_crew_change``, ADR 0018).
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, Forbidden, InvalidTransition, NotFound
from safezone.core.permissions import Principal
from safezone.dispatch.models import Assignment
from safezone.dispatch.schemas import (
    AssignmentCreate,
    AssignmentRead,
    CancelRequest,
    Percentiles,
    ResponseSummary,
    ResponseTimes,
    StepReport,
)
from safezone.incidents import service as incidents_service
from safezone.patrol import roads
from safezone.patrol import service as patrol_service
from safezone.patrol.schemas import UnitSuggestion

ORDER = ("assigned", "acknowledged", "en_route", "on_scene", "resolved")
FINAL = ("resolved", "cancelled")
ACTIVE = ("assigned", "acknowledged", "en_route", "on_scene")
_STEP_COLUMN = {
    "acknowledged": "acknowledged_at",
    "en_route": "en_route_at",
    "on_scene": "on_scene_at",
    "resolved": "resolved_at",
}
# What the unit's status becomes at each step.
_UNIT_STATUS = {
    "assigned": "busy",
    "en_route": "en_route",
    "on_scene": "on_scene",
    "resolved": "available",
    "cancelled": "available",
}
_CLOSED_INCIDENT = ("resolved", "closed")
# The topics of the events this domain publishes (dispatch.assigned, dispatch.step,
# dispatch.cancelled, dispatch.ack_overdue, dispatch.crew_changed); each carries the
# assignment as "assignment".
EVENT_TOPICS: tuple[str, ...] = ("dispatch.",)


def _span(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


def response_times(a: Assignment) -> ResponseTimes:
    return ResponseTimes(
        to_acknowledge_s=_span(a.assigned_at, a.acknowledged_at),
        to_depart_s=_span(a.assigned_at, a.en_route_at),
        travel_s=_span(a.en_route_at, a.on_scene_at),
        to_arrive_s=_span(a.assigned_at, a.on_scene_at),
        on_scene_s=_span(a.on_scene_at, a.resolved_at),
        total_s=_span(a.assigned_at, a.resolved_at),
    )


def read(a: Assignment) -> AssignmentRead:
    values: dict[str, Any] = {
        name: getattr(a, name) for name in AssignmentRead.model_fields if name != "times"
    }
    return AssignmentRead(**values, times=response_times(a))


def _publish(
    session: Session, a: Assignment, *, actor: str, action: str, extra: dict[str, Any]
) -> None:
    snapshot = read(a).model_dump(mode="json")
    audit_service.record(
        session,
        actor=actor,
        action=action,
        object_type="dispatch_assignment",
        object_id=a.id,
        station_id=a.station_id,
        payload={**extra, "assignment": snapshot},
        event={**extra, "assignment": snapshot},
    )


def event_is_for_officer(payload: Any, *, user_id: int) -> bool:
    """Whether a dispatch event is about an assignment this officer must act on: the
    same rule as ``list_assignments`` for an officer (the assignment's officer as the event
    left it), read from the event itself so that a replay decides as the live event did.
    A ``dispatch.crew_changed`` event also goes to the officer the assignment was taken
    from (``previous_officer_user_id``), so their app drops it at once."""
    if not isinstance(payload, dict):
        return False
    assignment = payload.get("assignment")
    if isinstance(assignment, dict) and assignment.get("officer_user_id") == user_id:
        return True
    previous = payload.get("previous_officer_user_id")
    return isinstance(previous, int) and previous == user_id


def suggestions(
    session: Session,
    *,
    incident_id: int,
    principal: Principal,
    limit: int = 5,
    graph: roads.RoadGraph | None = None,
) -> list[UnitSuggestion]:
    """Available units ranked by estimated travel time to the incident."""
    incident = incidents_service.get_incident(
        session, incident_id=incident_id, station_id=principal.station_id
    )
    return patrol_service.rank_available(
        session,
        station_id=incident.station_id,
        lat=incident.lat,
        lon=incident.lon,
        limit=limit,
        graph=graph,
    )


def _advance_incident(
    session: Session,
    *,
    incident: Any,
    to: Literal["dispatched", "on_scene"],
    principal: Principal,
    note: str,
) -> None:
    """Move the incident along with its first unit; later units leave it as it is."""
    path = {"dispatched": ("new", "acknowledged"), "on_scene": ("dispatched",)}[to]
    if incident.status not in path:
        return
    if incident.status == "new":
        incidents_service.transition(
            session,
            incident_id=incident.id,
            to_status="acknowledged",
            note=note,
            principal=principal,
        )
    incidents_service.transition(
        session,
        incident_id=incident.id,
        to_status=to,
        note=note,
        principal=principal,
    )


def assign(
    session: Session,
    *,
    data: AssignmentCreate,
    principal: Principal,
    ack_timeout_s: int,
    graph: roads.RoadGraph | None = None,
) -> Assignment:
    """Send an available unit to an open incident. Its officer must acknowledge within
    ``ack_timeout_s`` or the control room is alerted (``overdue_acknowledgements``)."""
    incident = incidents_service.get_incident(
        session, incident_id=data.incident_id, station_id=principal.station_id
    )
    if incident.status in _CLOSED_INCIDENT:
        raise InvalidTransition(
            f"Incident {incident.id} is '{incident.status}'; units go only to open incidents.",
            field="incident_id",
        )
    unit = patrol_service.get_unit(session, unit_id=data.unit_id, station_id=principal.station_id)
    if unit.status != "available":
        raise Conflict(
            f"Unit '{unit.id}' is '{unit.status}', not available; pick another unit or "
            "stand it down first.",
            field="unit_id",
        )
    busy = session.scalar(
        select(Assignment.id).where(Assignment.unit_id == unit.id, Assignment.status.in_(ACTIVE))
    )
    if busy is not None:
        raise Conflict(f"Unit '{unit.id}' is still on assignment {busy}.", field="unit_id")
    now = utcnow()
    estimate = patrol_service.travel_estimate(
        unit, lat=incident.lat, lon=incident.lon, now=now, graph=graph
    )
    assignment = Assignment(
        station_id=principal.station_id,
        incident_id=incident.id,
        unit_id=unit.id,
        officer_user_id=unit.officer_user_id,
        status="assigned",
        note=data.note,
        assigned_by=principal.actor,
        distance_m=estimate[0] if estimate else None,
        eta_s=estimate[1] if estimate else None,
        assigned_at=now,
        ack_due_at=now + timedelta(seconds=ack_timeout_s),
    )
    session.add(assignment)
    session.flush()
    patrol_service.set_unit_status(
        session,
        unit=unit,
        status=_UNIT_STATUS["assigned"],
        actor=principal.actor,
        reason=f"assigned to incident {incident.id}",
    )
    _advance_incident(
        session,
        incident=incident,
        to="dispatched",
        principal=principal,
        note=f"unit {unit.callsign} ({unit.id}) assigned",
    )
    _publish(session, assignment, actor=principal.actor, action="dispatch.assigned", extra={})
    return assignment


def get_assignment(session: Session, *, assignment_id: int, principal: Principal) -> Assignment:
    """An assignment at the caller's station; an officer sees only their own."""
    a = session.get(Assignment, assignment_id)
    if a is None or a.station_id != principal.station_id:
        raise NotFound(f"No assignment {assignment_id} at your station.", field="id")
    if principal.role == "officer" and a.officer_user_id != principal.user_id:
        raise Forbidden("This assignment is for another officer's unit.")
    return a


def report_step(
    session: Session, *, assignment_id: int, data: StepReport, principal: Principal
) -> Assignment:
    """The unit acknowledges, departs, arrives or finishes. The control room may record a
    step on the unit's behalf (a radio call); the actor says who did."""
    a = get_assignment(session, assignment_id=assignment_id, principal=principal)
    if a.status in FINAL:
        raise InvalidTransition(f"Assignment {a.id} is already {a.status}.", field="status")
    if ORDER.index(data.status) <= ORDER.index(a.status):
        later = ", ".join(ORDER[ORDER.index(a.status) + 1 :])
        raise InvalidTransition(
            f"Assignment {a.id} is '{a.status}'; it can only move on to: {later}.",
            field="status",
        )
    now = utcnow()
    previous = a.status
    a.status = data.status
    setattr(a, _STEP_COLUMN[data.status], now)
    if a.acknowledged_at is None:
        # Acting on an assignment acknowledges it.
        a.acknowledged_at = now
    if a.acknowledged_by is None:
        a.acknowledged_by = principal.actor
    session.flush()
    unit = patrol_service.get_unit(session, unit_id=a.unit_id, station_id=a.station_id)
    if data.status in _UNIT_STATUS:
        patrol_service.set_unit_status(
            session,
            unit=unit,
            status=_UNIT_STATUS[data.status],
            actor=principal.actor,
            reason=f"assignment {a.id} {data.status}",
        )
    if data.status == "on_scene":
        incident = incidents_service.get_incident(
            session, incident_id=a.incident_id, station_id=a.station_id
        )
        _advance_incident(
            session,
            incident=incident,
            to="on_scene",
            principal=principal,
            note=f"unit {unit.callsign} ({unit.id}) on scene",
        )
    _publish(
        session,
        a,
        actor=principal.actor,
        action="dispatch.step",
        extra={"from": previous, "to": data.status, "note": data.note},
    )
    return a


def cancel(
    session: Session, *, assignment_id: int, data: CancelRequest, principal: Principal
) -> Assignment:
    """Stand a unit down from an assignment; it becomes available again."""
    a = get_assignment(session, assignment_id=assignment_id, principal=principal)
    if a.status in FINAL:
        raise InvalidTransition(f"Assignment {a.id} is already {a.status}.", field="status")
    previous = a.status
    a.status = "cancelled"
    a.cancelled_at = utcnow()
    session.flush()
    unit = patrol_service.get_unit(session, unit_id=a.unit_id, station_id=a.station_id)
    patrol_service.set_unit_status(
        session,
        unit=unit,
        status="available",
        actor=principal.actor,
        reason=f"assignment {a.id} cancelled",
    )
    _publish(
        session,
        a,
        actor=principal.actor,
        action="dispatch.cancelled",
        extra={"from": previous, "note": data.note},
    )
    return a


def follow_crew_change(
    session: Session,
    *,
    unit_id: str,
    officer_user_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> list[Assignment]:
    """The unit's crew changed (a shift hand-over): each of its open assignments moves to
    ``officer_user_id``, the unit's officer now, in the caller's transaction, audited and
    published as ``dispatch.crew_changed``. Returns the assignments moved.

    One still waiting for acknowledgement gives the new officer a fresh acknowledgement
    window as long as the one it was made with, and its overdue alarm is re-armed. When
    the unit is left with no officer, its open assignments stay open for the control room
    with no officer, and keep their deadline: nobody new has to see them first."""
    now = now or utcnow()
    moving = session.scalars(
        select(Assignment)
        .where(
            Assignment.unit_id == unit_id,
            Assignment.status.in_(ACTIVE),
            Assignment.officer_user_id.is_distinct_from(officer_user_id),
        )
        .order_by(Assignment.id)
    ).all()
    for a in moving:
        extra: dict[str, Any] = {
            "unit_id": a.unit_id,
            "previous_officer_user_id": a.officer_user_id,
            "previous_ack_due_at": a.ack_due_at.isoformat(),
            "previous_ack_overdue_at": a.ack_overdue_at.isoformat() if a.ack_overdue_at else None,
        }
        a.officer_user_id = officer_user_id
        if a.status == "assigned" and officer_user_id is not None:
            a.ack_due_at = now + (a.ack_due_at - a.assigned_at)
            a.ack_overdue_at = None
        session.flush()
        _publish(session, a, actor=actor, action="dispatch.crew_changed", extra=extra)
    return list(moving)


def _overdue_query(now: datetime) -> Select[Any]:
    return (
        select(Assignment)
        .where(
            Assignment.status == "assigned",
            Assignment.ack_due_at <= now,
            Assignment.ack_overdue_at.is_(None),
        )
        .order_by(Assignment.id)
    )


def any_acknowledgement_overdue(session: Session, *, now: datetime | None = None) -> bool:
    """Read-only: whether :func:`overdue_acknowledgements` has anything to alert."""
    return session.scalar(_overdue_query(now or utcnow()).limit(1)) is not None


def overdue_acknowledgements(session: Session, *, now: datetime | None = None) -> list[int]:
    """Alert the control room, once per assignment, about units that did not acknowledge
    in time (``dispatch.ack_overdue``). Returns the assignment ids alerted."""
    now = now or utcnow()
    overdue = session.scalars(_overdue_query(now)).all()
    for a in overdue:
        a.ack_overdue_at = now
        session.flush()
        late_by = round((now - a.ack_due_at).total_seconds(), 1)
        _publish(
            session,
            a,
            actor="system:dispatch",
            action="dispatch.ack_overdue",
            extra={"incident_id": a.incident_id, "unit_id": a.unit_id, "late_by_s": late_by},
        )
    return [a.id for a in overdue]


def list_assignments(
    session: Session,
    *,
    principal: Principal,
    incident_id: int | None = None,
    active: bool | None = None,
    limit: int = 100,
) -> list[Assignment]:
    """Newest first; an officer sees only their own unit's assignments."""
    query = select(Assignment).where(Assignment.station_id == principal.station_id)
    if principal.role == "officer":
        query = query.where(Assignment.officer_user_id == principal.user_id)
    if incident_id is not None:
        query = query.where(Assignment.incident_id == incident_id)
    if active is not None:
        query = query.where(
            Assignment.status.in_(ACTIVE) if active else Assignment.status.in_(FINAL)
        )
    return list(
        session.scalars(
            query.order_by(Assignment.assigned_at.desc(), Assignment.id.desc()).limit(limit)
        )
    )


def _percentiles(values: list[float]) -> Percentiles:
    if not values:
        return Percentiles(count=0, median_s=None, p90_s=None)
    ordered = sorted(values)
    # Nearest-rank 90th percentile: a value that really happened.
    p90 = ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]
    return Percentiles(
        count=len(ordered), median_s=round(statistics.median(ordered), 1), p90_s=round(p90, 1)
    )


def response_summary(session: Session, *, station_id: str, since: datetime) -> ResponseSummary:
    """Median and 90th percentile of acknowledgement, arrival and travel times."""
    rows = session.scalars(
        select(Assignment).where(
            Assignment.station_id == station_id, Assignment.assigned_at >= since
        )
    ).all()
    times = [response_times(a) for a in rows]
    return ResponseSummary(
        since=since,
        assignments=len(rows),
        acknowledged_late=sum(1 for a in rows if a.ack_overdue_at is not None),
        to_acknowledge=_percentiles(
            [t.to_acknowledge_s for t in times if t.to_acknowledge_s is not None]
        ),
        to_arrive=_percentiles([t.to_arrive_s for t in times if t.to_arrive_s is not None]),
        travel=_percentiles([t.travel_s for t in times if t.travel_s is not None]),
    )
