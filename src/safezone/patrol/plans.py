"""Patrol plans (routes of checkpoints per shift, with target visits) and their compliance
reports. The patrol domain's service for plans: other domains (house-watch) add and end
temporary stops through the functions here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.auth import service as auth_service
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, InvalidInput, NotFound
from safezone.core.permissions import Principal
from safezone.patrol import compliance
from safezone.patrol.models import CheckIn, PatrolPlan, PlanCheckpoint, Shift
from safezone.patrol.schemas import (
    CheckpointCompliance,
    ComplianceReport,
    Counts,
    OfficerCompliance,
    PlanCreate,
    PlanRead,
    PlanStop,
    PlanStopRead,
    PlanUpdate,
    SlotRead,
)
from safezone.zones import service as zones_service


def _stops(session: Session, plan_id: int) -> list[PlanCheckpoint]:
    return list(
        session.scalars(
            select(PlanCheckpoint)
            .where(PlanCheckpoint.plan_id == plan_id)
            .order_by(PlanCheckpoint.position, PlanCheckpoint.id)
        )
    )


def read(session: Session, plan: PatrolPlan) -> PlanRead:
    return PlanRead(
        id=plan.id,
        station_id=plan.station_id,
        name=plan.name,
        timezone=plan.timezone,
        start_time=plan.start_time,
        end_time=plan.end_time,
        valid_from=plan.valid_from,
        valid_to=plan.valid_to,
        active=plan.active,
        created_by=plan.created_by,
        created_at=plan.created_at,
        checkpoints=[
            PlanStopRead.model_validate(s)
            for s in _stops(session, plan.id)
            if s.valid_to is None or s.valid_to >= local_today(plan)
        ],
    )


def get_plan(session: Session, *, plan_id: int, station_id: str) -> PatrolPlan:
    plan = session.get(PatrolPlan, plan_id)
    if plan is None or plan.station_id != station_id:
        raise NotFound(f"No patrol plan {plan_id} at your station.", field="plan_id")
    return plan


def list_plans(
    session: Session, *, station_id: str, active: bool | None = None
) -> list[PatrolPlan]:
    query = select(PatrolPlan).where(PatrolPlan.station_id == station_id)
    if active is not None:
        query = query.where(PatrolPlan.active.is_(active))
    return list(session.scalars(query.order_by(PatrolPlan.id)))


def _check_route(session: Session, *, station_id: str, stops: list[PlanStop]) -> None:
    seen: set[str] = set()
    kind = zones_service.KINDS["checkpoint"]
    for i, stop in enumerate(stops):
        field = f"checkpoints.{i}.checkpoint_id"
        if stop.checkpoint_id in seen:
            raise InvalidInput(
                f"Checkpoint '{stop.checkpoint_id}' appears twice on the route.", field=field
            )
        seen.add(stop.checkpoint_id)
        row = zones_service.find_asset(session, kind=kind, asset_id=stop.checkpoint_id)
        if row is None or row.station_id != station_id:
            raise InvalidInput(
                f"No checkpoint '{stop.checkpoint_id}' at your station.", field=field
            )


def local_today(plan: PatrolPlan, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(plan.timezone)).date()


def _replace_route(
    session: Session, plan: PatrolPlan, stops: list[PlanStop], *, from_day: date | None
) -> None:
    """Set the plan's own stops from ``from_day`` on (None: from the start). Stops that
    applied to earlier days are kept, ended the day before, so past shifts' reports keep
    the route they had; house-watch stops stay as they are, after the route."""
    if from_day is not None and from_day <= plan.valid_from:
        from_day = None
    temporary = []
    for row in _stops(session, plan.id):
        if row.housewatch_request_id is not None:
            temporary.append(row)
        elif row.valid_to is not None and from_day is not None and row.valid_to < from_day:
            continue  # history
        elif from_day is None or (row.valid_from is not None and row.valid_from >= from_day):
            session.delete(row)
        else:
            row.valid_to = from_day - timedelta(days=1)
    session.flush()
    for position, stop in enumerate(stops):
        session.add(
            PlanCheckpoint(
                plan_id=plan.id,
                position=position,
                checkpoint_id=stop.checkpoint_id,
                target_visits=stop.target_visits,
                valid_from=from_day,
            )
        )
    for offset, row in enumerate(temporary):
        row.position = len(stops) + offset
    session.flush()


def _audit(session: Session, *, plan: PatrolPlan, actor: str, action: str, **extra: Any) -> None:
    snapshot = read(session, plan).model_dump(mode="json")
    audit_service.record(
        session,
        actor=actor,
        action=action,
        object_type="patrol_plan",
        object_id=plan.id,
        station_id=plan.station_id,
        payload={**snapshot, **extra},
        event={"plan": snapshot},
        topic="patrol.plan",
    )


def create_plan(
    session: Session, *, data: PlanCreate, principal: Principal, local_timezone: str
) -> PatrolPlan:
    """A commander's route for a shift window; audited with a ``patrol.plan`` event. The
    shift hours are in ``data.timezone``, or else the station's ``local_timezone``."""
    if data.start_time == data.end_time:
        raise InvalidInput("A shift cannot start and end at the same time.", field="end_time")
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise InvalidInput("valid_to is before valid_from.", field="valid_to")
    _check_route(session, station_id=principal.station_id, stops=data.checkpoints)
    now = utcnow()
    plan = PatrolPlan(
        station_id=principal.station_id,
        name=data.name,
        timezone=data.timezone or local_timezone,
        start_time=data.start_time,
        end_time=data.end_time,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        active=True,
        created_by=principal.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    session.flush()
    _replace_route(session, plan, data.checkpoints, from_day=None)
    _audit(session, plan=plan, actor=principal.actor, action="patrol_plan.created")
    return plan


def update_plan(
    session: Session, *, plan_id: int, data: PlanUpdate, principal: Principal
) -> PatrolPlan:
    plan = get_plan(session, plan_id=plan_id, station_id=principal.station_id)
    changes = data.model_dump(exclude_unset=True, mode="json")
    for key in ("name", "active", "checkpoints"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"'{key}' cannot be null.", field=key)
    if "valid_to" in changes and data.valid_to is not None and data.valid_to < plan.valid_from:
        raise InvalidInput("valid_to is before valid_from.", field="valid_to")
    if data.checkpoints is not None:
        _check_route(session, station_id=plan.station_id, stops=data.checkpoints)
        _replace_route(session, plan, data.checkpoints, from_day=local_today(plan))
    if data.name is not None:
        plan.name = data.name
    if data.active is not None:
        plan.active = data.active
    if "valid_to" in changes:
        plan.valid_to = data.valid_to
    plan.updated_at = utcnow()
    session.flush()
    _audit(session, plan=plan, actor=principal.actor, action="patrol_plan.updated", changes=changes)
    return plan


def runs_on(plan: PatrolPlan, day: date) -> bool:
    return plan.valid_from <= day and (plan.valid_to is None or day <= plan.valid_to)


def _stop_applies(stop: PlanCheckpoint, day: date) -> bool:
    return (stop.valid_from is None or stop.valid_from <= day) and (
        stop.valid_to is None or day <= stop.valid_to
    )


def current_shift_date(plan: PatrolPlan, now: datetime) -> date:
    """The date of the plan's shift running at ``now``, else the last one that started."""
    local_today = now.astimezone(ZoneInfo(plan.timezone)).date()
    for day in (local_today, local_today - timedelta(days=1)):
        start, end = compliance.shift_window(
            day=day, start_time=plan.start_time, end_time=plan.end_time, timezone=plan.timezone
        )
        if start <= now < end:
            return day
    start, _ = compliance.shift_window(
        day=local_today,
        start_time=plan.start_time,
        end_time=plan.end_time,
        timezone=plan.timezone,
    )
    return local_today if start <= now else local_today - timedelta(days=1)


# --- temporary stops (house-watch) -----------------------------------------------------------


def add_temporary_stop(
    session: Session,
    *,
    plan_id: int,
    station_id: str,
    checkpoint_id: str,
    valid_from: date,
    valid_to: date,
    target_visits: int,
    housewatch_request_id: int,
    actor: str,
) -> PlanCheckpoint:
    """Put a house under watch on a plan for its dates (audited on the plan)."""
    plan = get_plan(session, plan_id=plan_id, station_id=station_id)
    if not plan.active:
        raise Conflict(f"Patrol plan {plan_id} is not active.", field="plan_ids")
    stops = _stops(session, plan.id)
    if any(s.checkpoint_id == checkpoint_id for s in stops):
        raise Conflict(f"Checkpoint '{checkpoint_id}' is already on plan {plan_id}.")
    stop = PlanCheckpoint(
        plan_id=plan.id,
        position=max((s.position for s in stops), default=-1) + 1,
        checkpoint_id=checkpoint_id,
        target_visits=target_visits,
        valid_from=valid_from,
        valid_to=valid_to,
        housewatch_request_id=housewatch_request_id,
    )
    session.add(stop)
    session.flush()
    _audit(
        session,
        plan=plan,
        actor=actor,
        action="patrol_plan.stop_added",
        checkpoint_id=checkpoint_id,
        housewatch_request_id=housewatch_request_id,
    )
    return stop


def end_temporary_stops(
    session: Session, *, housewatch_request_id: int, last_day: date, actor: str
) -> int:
    """Stop a house-watch stop from applying after ``last_day`` (a cancelled request);
    stops that would then apply on no day are removed. Returns how many changed."""
    rows = list(
        session.scalars(
            select(PlanCheckpoint).where(
                PlanCheckpoint.housewatch_request_id == housewatch_request_id
            )
        )
    )
    changed = 0
    for row in rows:
        if row.valid_to is not None and row.valid_to <= last_day:
            continue
        plan = session.get(PatrolPlan, row.plan_id)
        assert plan is not None
        if row.valid_from is not None and row.valid_from > last_day:
            session.delete(row)
        else:
            row.valid_to = last_day
        session.flush()
        _audit(
            session,
            plan=plan,
            actor=actor,
            action="patrol_plan.stop_ended",
            checkpoint_id=row.checkpoint_id,
            housewatch_request_id=housewatch_request_id,
        )
        changed += 1
    return changed


# --- compliance ------------------------------------------------------------------------------


def compliance_report(
    session: Session,
    *,
    plan_id: int,
    station_id: str,
    day: date | None = None,
    now: datetime | None = None,
) -> ComplianceReport:
    """On time / late / missed per checkpoint, slot and officer for the plan's shift that
    starts on ``day`` (local; default: the shift running now, or the last one)."""
    now = now or utcnow()
    plan = get_plan(session, plan_id=plan_id, station_id=station_id)
    day = day or current_shift_date(plan, now)
    if not runs_on(plan, day):
        raise InvalidInput(
            f"Plan {plan.id} has no shift on {day.isoformat()} (it runs from "
            f"{plan.valid_from.isoformat()}"
            + (f" to {plan.valid_to.isoformat()}" if plan.valid_to else "")
            + ").",
            field="date",
        )
    start, end = compliance.shift_window(
        day=day, start_time=plan.start_time, end_time=plan.end_time, timezone=plan.timezone
    )
    stops = [s for s in _stops(session, plan.id) if _stop_applies(s, day)]
    ids = [s.checkpoint_id for s in stops]
    rows = list(
        session.scalars(
            select(CheckIn)
            .where(
                CheckIn.station_id == plan.station_id,
                CheckIn.checkpoint_id.in_(ids),
                CheckIn.scanned_at >= start,
                CheckIn.scanned_at < end,
            )
            .order_by(CheckIn.scanned_at, CheckIn.id)
        )
    )
    by_checkpoint: dict[str, list[compliance.Visit]] = defaultdict(list)
    rejected: dict[str, int] = defaultdict(int)
    officer_rejected: dict[int, int] = defaultdict(int)
    officer_checkins: dict[int, int] = defaultdict(int)
    for row in rows:
        assert row.checkpoint_id is not None
        if row.status == "rejected":
            rejected[row.checkpoint_id] += 1
            officer_rejected[row.officer_user_id] += 1
            continue
        officer_checkins[row.officer_user_id] += 1
        by_checkpoint[row.checkpoint_id].append(
            compliance.Visit(
                checkin_id=row.id,
                officer_user_id=row.officer_user_id,
                scanned_at=row.scanned_at,
                status="flagged" if row.status == "flagged" else "accepted",
            )
        )
    # Officers on duty during the shift appear even with nothing to their name.
    on_duty = session.scalars(
        select(Shift.officer_user_id).where(
            Shift.station_id == plan.station_id,
            Shift.started_at < end,
            (Shift.ended_at.is_(None)) | (Shift.ended_at > start),
        )
    ).all()
    names: dict[int, str] = {}

    def name_of(user_id: int) -> str:
        if user_id not in names:
            try:
                user = auth_service.get_user(session, user_id=user_id, station_id=station_id)
                names[user_id] = user.username
            except NotFound:
                names[user_id] = f"#{user_id}"
        return names[user_id]

    kind = zones_service.KINDS["checkpoint"]
    credited: dict[int, dict[str, int]] = defaultdict(
        lambda: {"on_time": 0, "late": 0, "flagged": 0}
    )
    checkpoints = []
    totals = compliance.Tally()
    for stop in stops:
        slots, extra = compliance.judge(
            start=start,
            end=end,
            target=stop.target_visits,
            visits=by_checkpoint.get(stop.checkpoint_id, []),
            now=now,
        )
        counts = compliance.tally(slots)
        totals = compliance.Tally(
            on_time=totals.on_time + counts.on_time,
            late=totals.late + counts.late,
            missed=totals.missed + counts.missed,
            pending=totals.pending + counts.pending,
            flagged=totals.flagged + counts.flagged,
        )
        for slot in slots:
            if slot.visit is not None:
                tally_of = credited[slot.visit.officer_user_id]
                tally_of[slot.outcome] += 1
                if slot.visit.status == "flagged":
                    tally_of["flagged"] += 1
        asset = zones_service.find_asset(session, kind=kind, asset_id=stop.checkpoint_id)
        checkpoints.append(
            CheckpointCompliance(
                position=stop.position,
                checkpoint_id=stop.checkpoint_id,
                name=(asset.name if asset is not None else "") or stop.checkpoint_id,
                lat=asset.lat if asset is not None else None,
                lon=asset.lon if asset is not None else None,
                target_visits=stop.target_visits,
                state=compliance.state(counts),
                extra_visits=len(extra),
                rejected_scans=rejected.get(stop.checkpoint_id, 0),
                housewatch_request_id=stop.housewatch_request_id,
                on_time=counts.on_time,
                late=counts.late,
                missed=counts.missed,
                pending=counts.pending,
                flagged=counts.flagged,
                slots=[
                    SlotRead(
                        index=s.index,
                        due_from=s.due_from,
                        due_until=s.due_until,
                        outcome=s.outcome,
                        checkin_id=s.visit.checkin_id if s.visit else None,
                        officer_user_id=s.visit.officer_user_id if s.visit else None,
                        officer=name_of(s.visit.officer_user_id) if s.visit else None,
                        scanned_at=s.visit.scanned_at if s.visit else None,
                        checkin_status=s.visit.status if s.visit else None,
                    )
                    for s in slots
                ],
            )
        )
    officer_ids = sorted(
        set(on_duty) | set(officer_checkins) | set(officer_rejected) | set(credited)
    )
    officers = [
        OfficerCompliance(
            officer_user_id=uid,
            officer=name_of(uid),
            on_time=credited[uid]["on_time"] if uid in credited else 0,
            late=credited[uid]["late"] if uid in credited else 0,
            flagged=credited[uid]["flagged"] if uid in credited else 0,
            checkins=officer_checkins.get(uid, 0),
            rejected_scans=officer_rejected.get(uid, 0),
        )
        for uid in officer_ids
    ]
    return ComplianceReport(
        plan_id=plan.id,
        plan_name=plan.name,
        station_id=plan.station_id,
        date=day,
        timezone=plan.timezone,
        shift_start=start,
        shift_end=end,
        generated_at=now,
        finished=now >= end,
        totals=Counts(
            on_time=totals.on_time,
            late=totals.late,
            missed=totals.missed,
            pending=totals.pending,
            flagged=totals.flagged,
        ),
        checkpoints=checkpoints,
        officers=officers,
    )


def latest_visit_ids(session: Session, *, checkpoint_ids: list[str]) -> dict[str, int]:
    """The id of the newest counted check-in (accepted or flagged) at each of the
    checkpoints that has one: a cheap read to learn whether ``visits_at`` has news."""
    if not checkpoint_ids:
        return {}
    rows = session.execute(
        select(CheckIn.checkpoint_id, func.max(CheckIn.id))
        .where(CheckIn.checkpoint_id.in_(checkpoint_ids), CheckIn.status != "rejected")
        .group_by(CheckIn.checkpoint_id)
    ).all()
    return {checkpoint_id: latest for checkpoint_id, latest in rows if checkpoint_id}


def visits_at(session: Session, *, checkpoint_id: str, after_id: int = 0) -> list[CheckIn]:
    """Counted check-ins (accepted or flagged) at a checkpoint with an id above
    ``after_id``, oldest first: what house-watch tells the owner about."""
    return list(
        session.scalars(
            select(CheckIn)
            .where(
                CheckIn.checkpoint_id == checkpoint_id,
                CheckIn.status != "rejected",
                CheckIn.id > after_id,
            )
            .order_by(CheckIn.id)
        )
    )
