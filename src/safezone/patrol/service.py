"""Patrol: units and the nearest-unit ranking; checkpoint keys and codes, officers'
devices, shifts and check-ins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.auth import service as auth_service
from safezone.config import Settings
from safezone.core import security
from safezone.core.bus import outbox
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from safezone.core.geo import haversine_m
from safezone.core.permissions import Principal
from safezone.patrol import checkins, qr, roads
from safezone.patrol.models import CheckIn, CheckpointKey, OfficerDevice, Shift, Unit
from safezone.patrol.schemas import (
    CheckInCreate,
    CheckInRead,
    DeviceRead,
    DeviceRegister,
    DisplayKeyRead,
    KeyRotated,
    LocationReport,
    RouteKind,
    ShiftRead,
    UnitCreate,
    UnitRead,
    UnitSuggestion,
    UnitUpdate,
)
from safezone.zones import service as zones_service

# Straight-line travel speeds in town, metres per second (about 30, 25 and 5 km/h);
# lanes around the market are narrow, so motorbikes are nearly as quick as cars.
SPEED_M_S = {"car": 8.3, "motorbike": 6.9, "foot": 1.4}
# A location older than this says nothing about where the unit is now.
LOCATION_FRESH_FOR = timedelta(minutes=15)
# Locations arriving faster than this are not stored (phones send every few seconds).
LOCATION_MIN_INTERVAL = timedelta(seconds=5)


def _snapshot(unit: Unit) -> dict[str, Any]:
    return UnitRead.model_validate(unit).model_dump(mode="json")


def get_unit(session: Session, *, unit_id: str, station_id: str) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or unit.station_id != station_id:
        raise NotFound(f"No unit with id '{unit_id}' at your station.", field="id")
    return unit


def list_units(session: Session, *, station_id: str) -> list[Unit]:
    return list(
        session.scalars(select(Unit).where(Unit.station_id == station_id).order_by(Unit.id))
    )


def _check_crew(session: Session, *, user_id: int | None, station_id: str) -> None:
    """A unit is crewed by an active officer of its own station (or nobody)."""
    if user_id is None:
        return
    try:
        officer = _officer(session, user_id=user_id, station_id=station_id)
    except NotFound:
        raise InvalidInput(
            f"User {user_id} is not an officer of this station.", field="officer_user_id"
        ) from None
    if not officer.active:
        raise InvalidInput(
            f"User {user_id}'s account is disabled: choose an active officer, or have an "
            "admin enable the account first.",
            field="officer_user_id",
        )


def create_unit(session: Session, *, data: UnitCreate, principal: Principal) -> Unit:
    if session.get(Unit, data.id) is not None:
        raise Conflict(f"A unit with id '{data.id}' already exists.", field="id")
    _check_crew(session, user_id=data.officer_user_id, station_id=principal.station_id)
    now = utcnow()
    unit = Unit(
        **data.model_dump(), station_id=principal.station_id, created_at=now, updated_at=now
    )
    session.add(unit)
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action="unit.created",
        object_type="unit",
        object_id=unit.id,
        station_id=unit.station_id,
        payload=_snapshot(unit),
        event={"unit": _snapshot(unit)},
        topic="unit.changed",
    )
    return unit


def update_unit(session: Session, *, unit_id: str, data: UnitUpdate, principal: Principal) -> Unit:
    """Change a unit. Officers may change only the status of the unit they crew. A new
    crew (``officer_user_id``) takes over the unit's open dispatch assignments in the same
    transaction (ADR 0018)."""
    unit = get_unit(session, unit_id=unit_id, station_id=principal.station_id)
    previous_officer = unit.officer_user_id
    changes = data.model_dump(exclude_unset=True)
    if principal.role == "officer":
        if unit.officer_user_id != principal.user_id:
            raise Forbidden("Officers may change only their own unit.")
        if set(changes) - {"status"}:
            raise Forbidden("Officers may change only their unit's status.")
    for key, value in changes.items():
        if value is None and key != "officer_user_id":
            raise InvalidInput(f"'{key}' cannot be null.", field=key)
    if "officer_user_id" in changes and changes["officer_user_id"] != previous_officer:
        _check_crew(session, user_id=changes["officer_user_id"], station_id=unit.station_id)
    _change_unit(session, unit, changes, actor=principal.actor, payload={"changes": changes})
    if unit.officer_user_id != previous_officer:
        _hand_over(session, unit, actor=principal.actor)
    return unit


def stand_down_officer(session: Session, *, user_id: int, actor: str, reason: str) -> list[str]:
    """An officer who may no longer crew a unit (the account was disabled, or is no
    longer an officer's) leaves every unit they crew, in the caller's transaction: each
    unit is left with no officer, audited with ``reason``, and its open assignments stay
    open for the control room (ADR 0018, 0019). Returns the units' ids."""
    units = session.scalars(
        select(Unit).where(Unit.officer_user_id == user_id).order_by(Unit.id)
    ).all()
    for unit in units:
        changes = {"officer_user_id": None}
        _change_unit(
            session, unit, changes, actor=actor, payload={"changes": changes, "reason": reason}
        )
        _hand_over(session, unit, actor=actor)
    return [unit.id for unit in units]


def _change_unit(
    session: Session, unit: Unit, changes: dict[str, Any], *, actor: str, payload: dict[str, Any]
) -> None:
    for key, value in changes.items():
        setattr(unit, key, value)
    unit.updated_at = utcnow()
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="unit.updated",
        object_type="unit",
        object_id=unit.id,
        station_id=unit.station_id,
        payload=payload,
        event={"unit": _snapshot(unit)},
        topic="unit.changed",
    )


def _hand_over(session: Session, unit: Unit, *, actor: str) -> None:
    """The unit's open assignments follow its crew now (ADR 0018)."""
    # Dispatch builds on patrol (it sends units), so it is imported here, not at the top;
    # the hand-over must not wait for another transaction, or the new officer could not
    # acknowledge and the old one still could.
    from safezone.dispatch import service as dispatch_service

    dispatch_service.follow_crew_change(
        session, unit_id=unit.id, officer_user_id=unit.officer_user_id, actor=actor
    )


def _reporting_unit(session: Session, *, unit_id: str, principal: Principal) -> Unit:
    unit = get_unit(session, unit_id=unit_id, station_id=principal.station_id)
    if principal.role == "officer" and unit.officer_user_id != principal.user_id:
        raise Forbidden("Officers may report only their own unit's location.")
    return unit


def _throttled(unit: Unit, now: datetime) -> bool:
    return unit.location_at is not None and now - unit.location_at < LOCATION_MIN_INTERVAL


def location_due(session: Session, *, unit_id: str, principal: Principal) -> bool:
    """Whether a fix from this caller for this unit would be stored now (same checks as
    ``report_location``, read only)."""
    unit = _reporting_unit(session, unit_id=unit_id, principal=principal)
    return not _throttled(unit, utcnow())


def report_location(
    session: Session, *, unit_id: str, report: LocationReport, principal: Principal
) -> tuple[Unit, bool]:
    """Record where a unit is. Returns (unit, stored): fixes closer together than
    LOCATION_MIN_INTERVAL are accepted but not stored, to spare the database."""
    unit = _reporting_unit(session, unit_id=unit_id, principal=principal)
    now = utcnow()
    if _throttled(unit, now):
        return unit, False
    unit.lat, unit.lon, unit.accuracy_m = report.lat, report.lon, report.accuracy_m
    unit.location_at = now
    session.flush()
    # Positions are not audited one by one (they are not decisions), but the map hears them.
    outbox.enqueue(
        session,
        topic="unit.location",
        payload={"unit": _snapshot(unit)},
        station_id=unit.station_id,
        audit_seq=None,
    )
    return unit, True


def set_unit_status(session: Session, *, unit: Unit, status: str, actor: str, reason: str) -> None:
    """Change a unit's status on behalf of another domain's rule (dispatch), audited."""
    if unit.status == status:
        return
    previous, unit.status, unit.updated_at = unit.status, status, utcnow()
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="unit.updated",
        object_type="unit",
        object_id=unit.id,
        station_id=unit.station_id,
        payload={"changes": {"status": status}, "from": previous, "reason": reason},
        event={"unit": _snapshot(unit)},
        topic="unit.changed",
    )


def road_graph(settings: Settings) -> roads.RoadGraph | None:
    """The station's road network when one is configured (SAFEZONE_ROAD_GRAPH)."""
    return roads.load(settings.road_graph) if settings.road_graph else None


def _estimate(
    kind: str,
    at: tuple[float, float],
    *,
    lat: float,
    lon: float,
    graph: roads.RoadGraph | None,
    table: roads.Distances | None,
) -> tuple[float, float, RouteKind]:
    """(metres, seconds, route) for a unit of ``kind`` at ``at`` (lat, lon) to the point."""
    distance: float | None = None
    route: RouteKind = "straight"
    if graph is not None and table is not None:
        distance = graph.route_m(table, at[0], at[1])
        if distance is not None:
            route = "road"
    if distance is None:
        distance = haversine_m(lat, lon, at[0], at[1])
    return round(distance, 1), round(distance / SPEED_M_S[kind], 1), route


def travel_estimate(
    unit: Unit,
    *,
    lat: float,
    lon: float,
    now: datetime | None = None,
    graph: roads.RoadGraph | None = None,
) -> tuple[float, float] | None:
    """(metres, seconds) from the unit's fresh location, by road where a road graph is
    given and connects them, else in a straight line; None without a fresh location."""
    now = now or utcnow()
    if unit.lat is None or unit.lon is None or unit.location_at is None:
        return None
    if unit.location_at < now - LOCATION_FRESH_FOR:
        return None
    table = graph.distances_to(lat, lon) if graph is not None else None
    at = (unit.lat, unit.lon)
    distance, eta, _ = _estimate(unit.kind, at, lat=lat, lon=lon, graph=graph, table=table)
    return distance, eta


_AVAILABLE = select(Unit.id, Unit.callsign, Unit.kind, Unit.lat, Unit.lon).where(
    Unit.station_id == bindparam("station"),
    Unit.status == "available",
    Unit.lat.is_not(None),
    Unit.lon.is_not(None),
    Unit.location_at >= bindparam("since"),
)


def rank_available(
    session: Session,
    *,
    station_id: str,
    lat: float,
    lon: float,
    limit: int = 3,
    now: datetime | None = None,
    graph: roads.RoadGraph | None = None,
) -> list[UnitSuggestion]:
    """Available units with a fresh location, by estimated travel time: by road where a
    road graph is given (one search from the point serves every unit), else straight line."""
    now = now or utcnow()
    session.flush()  # (as the ORM would: this transaction's own changes count)
    candidates = (
        session.connection()  # Core: plain rows (this runs for every SOS)
        .execute(_AVAILABLE, {"station": station_id, "since": now - LOCATION_FRESH_FOR})
        .all()
    )
    table = graph.distances_to(lat, lon) if graph is not None and candidates else None
    ranked = []
    for unit in candidates:
        at = (unit.lat, unit.lon)  # not null: the query asked for a location
        distance, eta, route = _estimate(unit.kind, at, lat=lat, lon=lon, graph=graph, table=table)
        ranked.append(
            UnitSuggestion(
                unit_id=unit.id,
                callsign=unit.callsign,
                kind=unit.kind,
                distance_m=distance,
                eta_s=eta,
                lat=unit.lat,
                lon=unit.lon,
                route=route,
            )
        )
    ranked.sort(key=lambda s: (s.eta_s, s.unit_id))
    return ranked[:limit]


# --- checkpoint keys and codes -----------------------------------------------------------


def _checkpoint(session: Session, *, checkpoint_id: str, station_id: str) -> Any:
    return zones_service.get_asset(
        session,
        kind=zones_service.KINDS["checkpoint"],
        station_id=station_id,
        asset_id=checkpoint_id,
    )


def _keys(session: Session, checkpoint_id: str) -> list[CheckpointKey]:
    return list(
        session.scalars(
            select(CheckpointKey)
            .where(CheckpointKey.checkpoint_id == checkpoint_id)
            .order_by(CheckpointKey.version)
        )
    )


def _current_key(session: Session, checkpoint_id: str) -> CheckpointKey | None:
    return session.scalar(
        select(CheckpointKey).where(
            CheckpointKey.checkpoint_id == checkpoint_id, CheckpointKey.retired_at.is_(None)
        )
    )


def _new_key(session: Session, *, checkpoint: Any, version: int, actor: str) -> CheckpointKey:
    key = CheckpointKey(
        checkpoint_id=checkpoint.id,
        version=version,
        secret=security.random_secret(32),
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="checkpoint.key_created",
        object_type="checkpoint",
        object_id=checkpoint.id,
        station_id=checkpoint.station_id,
        payload={"key_version": version},
    )
    return key


def ensure_key(session: Session, *, checkpoint: Any, actor: str) -> CheckpointKey:
    """The checkpoint's current signing key, made (and audited) the first time it is needed."""
    # Two first requests at once must not both make version 1.
    outbox.serialize_writers(session)
    key = _current_key(session, checkpoint.id)
    if key is not None:
        return key
    versions = [k.version for k in _keys(session, checkpoint.id)]
    return _new_key(
        session, checkpoint=checkpoint, version=max(versions, default=0) + 1, actor=actor
    )


def printed_code(session: Session, *, checkpoint: Any, actor: str) -> str:
    """The static code to print on the checkpoint's poster."""
    key = ensure_key(session, checkpoint=checkpoint, actor=actor)
    return qr.static_code(checkpoint_id=checkpoint.id, key_version=key.version, secret=key.secret)


def checkpoint_qr(
    session: Session, *, checkpoint_id: str, kind: str, principal: Principal
) -> bytes:
    """The poster's QR code as SVG or PNG. Handing out a printable code is audited."""
    checkpoint = _checkpoint(session, checkpoint_id=checkpoint_id, station_id=principal.station_id)
    key = ensure_key(session, checkpoint=checkpoint, actor=principal.actor)
    code = qr.static_code(checkpoint_id=checkpoint.id, key_version=key.version, secret=key.secret)
    audit_service.record(
        session,
        actor=principal.actor,
        action="checkpoint.qr_issued",
        object_type="checkpoint",
        object_id=checkpoint.id,
        station_id=checkpoint.station_id,
        payload={"format": kind, "key_version": key.version},
    )
    return qr.svg(code) if kind == "svg" else qr.png(code)


def display_key(session: Session, *, checkpoint_id: str, principal: Principal) -> DisplayKeyRead:
    """Provision a checkpoint's screen: the key it makes rotating codes with (audited)."""
    checkpoint = _checkpoint(session, checkpoint_id=checkpoint_id, station_id=principal.station_id)
    key = ensure_key(session, checkpoint=checkpoint, actor=principal.actor)
    audit_service.record(
        session,
        actor=principal.actor,
        action="checkpoint.display_key_issued",
        object_type="checkpoint",
        object_id=checkpoint.id,
        station_id=checkpoint.station_id,
        payload={"key_version": key.version},
    )
    return DisplayKeyRead(
        checkpoint_id=checkpoint.id,
        key_version=key.version,
        display_key=qr.display_key(key.secret),
        window_s=qr.WINDOW_S,
        code_format="SZ1:R:<checkpoint_id>:<window>:<sig>",
    )


def rotate_key(session: Session, *, checkpoint_id: str, principal: Principal) -> KeyRotated:
    """Retire the checkpoint's key: its posters and screen stop working until replaced."""
    checkpoint = _checkpoint(session, checkpoint_id=checkpoint_id, station_id=principal.station_id)
    outbox.serialize_writers(session)
    old = _current_key(session, checkpoint.id)
    if old is not None:
        old.retired_at = utcnow()
    versions = [k.version for k in _keys(session, checkpoint.id)]
    key = _new_key(
        session, checkpoint=checkpoint, version=max(versions, default=0) + 1, actor=principal.actor
    )
    audit_service.record(
        session,
        actor=principal.actor,
        action="checkpoint.key_rotated",
        object_type="checkpoint",
        object_id=checkpoint.id,
        station_id=checkpoint.station_id,
        payload={"key_version": key.version, "retired_version": old.version if old else None},
    )
    return KeyRotated(
        checkpoint_id=checkpoint.id,
        key_version=key.version,
        retired_version=old.version if old else None,
    )


def poster_codes(
    session: Session, *, station_id: str, actor: str, ids: Sequence[str] = ()
) -> list[tuple[Any, str]]:
    """(checkpoint, printed code) for the station's active checkpoints, or the ones named."""
    kind = zones_service.KINDS["checkpoint"]
    if ids:
        checkpoints = [
            zones_service.get_asset(session, kind=kind, station_id=station_id, asset_id=i)
            for i in ids
        ]
    else:
        checkpoints = [
            c
            for c in zones_service.list_assets(session, kind=kind, station_id=station_id)
            if c.active
        ]
    result = [(c, printed_code(session, checkpoint=c, actor=actor)) for c in checkpoints]
    if result:
        audit_service.record(
            session,
            actor=actor,
            action="checkpoint.posters_printed",
            object_type="station",
            object_id=station_id,
            station_id=station_id,
            payload={"checkpoints": [c.id for c, _ in result]},
        )
    return result


# --- officer devices ------------------------------------------------------------------------


def _officer(session: Session, *, user_id: int, station_id: str) -> Any:
    user = auth_service.get_user(session, user_id=user_id, station_id=station_id)
    if user.role != "officer":
        raise InvalidInput(f"User {user_id} is not an officer.", field="officer_user_id")
    return user


def register_device(
    session: Session, *, data: DeviceRegister, principal: Principal
) -> OfficerDevice:
    """Bind a phone to an officer. A phone belongs to one officer at a time."""
    _officer(session, user_id=data.officer_user_id, station_id=principal.station_id)
    taken = session.scalar(
        select(OfficerDevice).where(
            OfficerDevice.device_id == data.device_id, OfficerDevice.revoked_at.is_(None)
        )
    )
    if taken is not None:
        raise Conflict(
            f"Device '{data.device_id}' is already registered"
            + (
                " to this officer."
                if taken.officer_user_id == data.officer_user_id
                else " to another officer; revoke that first."
            ),
            field="device_id",
        )
    device = OfficerDevice(
        station_id=principal.station_id,
        officer_user_id=data.officer_user_id,
        device_id=data.device_id,
        label=data.label,
        registered_by=principal.actor,
        registered_at=utcnow(),
    )
    session.add(device)
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action="officer_device.registered",
        object_type="officer_device",
        object_id=device.id,
        station_id=device.station_id,
        payload=DeviceRead.model_validate(device).model_dump(mode="json"),
    )
    return device


def revoke_device(session: Session, *, registration_id: int, principal: Principal) -> OfficerDevice:
    device = session.get(OfficerDevice, registration_id)
    if device is None or device.station_id != principal.station_id:
        raise NotFound(f"No device registration {registration_id} at your station.", field="id")
    if device.revoked_at is not None:
        raise Conflict("This device registration is already revoked.", field="id")
    device.revoked_at = utcnow()
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action="officer_device.revoked",
        object_type="officer_device",
        object_id=device.id,
        station_id=device.station_id,
        payload={"officer_user_id": device.officer_user_id, "device_id": device.device_id},
    )
    return device


def list_devices(
    session: Session, *, principal: Principal, include_revoked: bool = False
) -> list[OfficerDevice]:
    """The station's registrations; an officer sees only their own."""
    query = select(OfficerDevice).where(OfficerDevice.station_id == principal.station_id)
    if principal.role == "officer":
        query = query.where(OfficerDevice.officer_user_id == principal.user_id)
    if not include_revoked:
        query = query.where(OfficerDevice.revoked_at.is_(None))
    return list(session.scalars(query.order_by(OfficerDevice.id)))


# --- shifts ---------------------------------------------------------------------------------


def open_shift(session: Session, *, officer_user_id: int) -> Shift | None:
    return session.scalar(
        select(Shift).where(Shift.officer_user_id == officer_user_id, Shift.ended_at.is_(None))
    )


def start_shift(session: Session, *, principal: Principal, now: datetime | None = None) -> Shift:
    """The officer goes on duty. Only one shift may be open at a time."""
    if open_shift(session, officer_user_id=principal.user_id) is not None:
        raise Conflict("Your shift is already running; end it before starting another.")
    shift = Shift(
        station_id=principal.station_id,
        officer_user_id=principal.user_id,
        started_at=now or utcnow(),
    )
    session.add(shift)
    session.flush()
    _record_shift(session, shift, principal=principal, action="shift.started")
    return shift


def _record_shift(session: Session, shift: Shift, *, principal: Principal, action: str) -> None:
    """A shift's start or end: audited, with a ``patrol.shift`` event for the map."""
    snapshot = ShiftRead.model_validate(shift).model_dump(mode="json")
    audit_service.record(
        session,
        actor=principal.actor,
        action=action,
        object_type="shift",
        object_id=shift.id,
        station_id=shift.station_id,
        payload=snapshot,
        event={"shift": snapshot},
        topic="patrol.shift",
    )


def end_shift(session: Session, *, principal: Principal) -> Shift:
    shift = open_shift(session, officer_user_id=principal.user_id)
    if shift is None:
        raise Conflict("You have no running shift to end.")
    shift.ended_at = utcnow()
    session.flush()
    _record_shift(session, shift, principal=principal, action="shift.ended")
    return shift


def list_shifts(
    session: Session, *, principal: Principal, running: bool | None = None, limit: int = 100
) -> list[Shift]:
    """The station's shifts, newest first; an officer sees only their own."""
    query = select(Shift).where(Shift.station_id == principal.station_id)
    if principal.role == "officer":
        query = query.where(Shift.officer_user_id == principal.user_id)
    if running is not None:
        query = query.where(Shift.ended_at.is_(None) if running else Shift.ended_at.is_not(None))
    return list(
        session.scalars(query.order_by(Shift.started_at.desc(), Shift.id.desc()).limit(limit))
    )


# --- check-ins ------------------------------------------------------------------------------


def checkin_policy(settings: Settings) -> checkins.Policy:
    return checkins.Policy(
        max_speed_m_s=settings.checkin_max_speed_kmh / 3.6,
        clock_skew_s=settings.checkin_clock_skew_s,
        replay_window_s=float(settings.checkin_replay_window_s),
        max_sync_delay_s=float(settings.checkin_max_sync_delay_s),
    )


def _prior(row: CheckIn) -> checkins.PriorCheckIn:
    return checkins.PriorCheckIn(
        checkpoint_id=row.checkpoint_id or "",
        code=row.code,
        mode="rotating" if row.mode == "rotating" else "static",
        lat=row.lat,
        lon=row.lon,
        accuracy_m=row.accuracy_m,
        scanned_at=row.scanned_at,
    )


def _context(
    session: Session, *, data: CheckInCreate, principal: Principal, policy: checkins.Policy
) -> tuple[checkins.Context, list[Shift]]:
    code = qr.parse(data.qr)
    facts = None
    kind = zones_service.KINDS["checkpoint"]
    checkpoint = (
        zones_service.find_asset(session, kind=kind, asset_id=code.checkpoint_id) if code else None
    )
    if checkpoint is not None and checkpoint.station_id == principal.station_id:
        keys = _keys(session, checkpoint.id)
        current = [k.version for k in keys if k.retired_at is None]
        facts = checkins.CheckpointFacts(
            id=checkpoint.id,
            lat=checkpoint.lat,
            lon=checkpoint.lon,
            radius_m=checkpoint.radius_m,
            active=checkpoint.active,
            current_key_version=current[0] if current else 0,
            secrets={k.version: k.secret for k in keys},
        )
    officer = principal.user_id
    devices = frozenset(
        session.scalars(
            select(OfficerDevice.device_id).where(
                OfficerDevice.officer_user_id == officer, OfficerDevice.revoked_at.is_(None)
            )
        )
    )
    skew = timedelta(seconds=policy.clock_skew_s)
    shifts = list(
        session.scalars(
            select(Shift).where(
                Shift.officer_user_id == officer,
                Shift.started_at <= data.scanned_at + skew,
                or_(Shift.ended_at.is_(None), Shift.ended_at >= data.scanned_at - skew),
            )
        )
    )
    counted = (CheckIn.officer_user_id == officer, CheckIn.status != "rejected")
    before = session.scalar(
        select(CheckIn)
        .where(*counted, CheckIn.scanned_at <= data.scanned_at)
        .order_by(CheckIn.scanned_at.desc(), CheckIn.id.desc())
        .limit(1)
    )
    after = session.scalar(
        select(CheckIn)
        .where(*counted, CheckIn.scanned_at > data.scanned_at)
        .order_by(CheckIn.scanned_at, CheckIn.id)
        .limit(1)
    )
    uses: list[CheckIn] = []
    if code is not None:
        window = timedelta(seconds=policy.replay_window_s)
        uses = list(
            session.scalars(
                select(CheckIn).where(
                    *counted,
                    CheckIn.checkpoint_id == code.checkpoint_id,
                    or_(
                        CheckIn.scanned_at.between(
                            data.scanned_at - window, data.scanned_at + window
                        ),
                        CheckIn.code == code.payload,
                    ),
                )
            )
        )
    context = checkins.Context(
        checkpoint=facts,
        devices=devices,
        shifts=[(s.started_at, s.ended_at) for s in shifts],
        neighbours=[_prior(r) for r in (before, after) if r is not None],
        uses=[_prior(r) for r in uses],
    )
    return context, shifts


def check_in(
    session: Session,
    *,
    data: CheckInCreate,
    principal: Principal,
    policy: checkins.Policy,
    now: datetime | None = None,
) -> CheckIn:
    """Judge and store one scan. Every verdict, rejections included, is stored, audited and
    published (``patrol.checkin``) in this transaction."""
    # Take the writers' lock before reading, so two copies of one code sent at the same
    # moment are judged one after the other and the second is seen as a replay.
    outbox.serialize_writers(session)
    received = now or utcnow()
    context, shifts = _context(session, data=data, principal=principal, policy=policy)
    scan = checkins.Scan(
        qr=data.qr,
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        scanned_at=data.scanned_at,
        device_id=data.device_id,
        received_at=received,
    )
    verdict = checkins.verify(scan, context, policy)
    code = qr.parse(data.qr)
    skew = timedelta(seconds=policy.clock_skew_s)
    shift = next(
        (
            s
            for s in shifts
            if s.started_at - skew <= data.scanned_at
            and (s.ended_at is None or data.scanned_at <= s.ended_at + skew)
        ),
        None,
    )
    row = CheckIn(
        station_id=principal.station_id,
        officer_user_id=principal.user_id,
        checkpoint_id=verdict.checkpoint_id,
        mode=verdict.mode,
        code=code.payload if code else data.qr,
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        device_id=data.device_id,
        scanned_at=data.scanned_at,
        received_at=received,
        status=verdict.status,
        reasons=list(verdict.reasons),
        distance_m=verdict.distance_m,
        shift_id=shift.id if shift else None,
    )
    session.add(row)
    session.flush()
    snapshot = CheckInRead.model_validate(row).model_dump(mode="json")
    audit_service.record(
        session,
        actor=principal.actor,
        action="patrol.checkin",
        object_type="checkin",
        object_id=row.id,
        station_id=row.station_id,
        # The code itself is not copied into the trail (a printed code is a credential);
        # its hash ties the entry to the stored row.
        payload={
            **snapshot,
            "code_sha256": security.sha256_hex(row.code.encode("utf-8")),
            **verdict.details,
        },
        event={"checkin": snapshot},
        topic="patrol.checkin",
    )
    return row


def list_checkins(
    session: Session,
    *,
    principal: Principal,
    status: str | None = None,
    checkpoint_id: str | None = None,
    limit: int = 100,
) -> list[CheckIn]:
    """The station's check-ins, newest scan first; an officer sees only their own."""
    query = select(CheckIn).where(CheckIn.station_id == principal.station_id)
    if principal.role == "officer":
        query = query.where(CheckIn.officer_user_id == principal.user_id)
    if status is not None:
        query = query.where(CheckIn.status == status)
    if checkpoint_id is not None:
        query = query.where(CheckIn.checkpoint_id == checkpoint_id)
    return list(
        session.scalars(query.order_by(CheckIn.scanned_at.desc(), CheckIn.id.desc()).limit(limit))
    )


def checkin_verdicts(
    session: Session, *, station_id: str, since: datetime, until: datetime
) -> list[tuple[datetime, str]]:
    """(received_at, status) of the station's check-ins received in [since, until)."""
    rows = session.execute(
        select(CheckIn.received_at, CheckIn.status).where(
            CheckIn.station_id == station_id,
            CheckIn.received_at >= since,
            CheckIn.received_at < until,
        )
    ).all()
    return [(received, status) for received, status in rows]
