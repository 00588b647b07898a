"""Patrol units: the registry, live locations and the nearest-unit ranking."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.core.bus import outbox
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from safezone.core.geo import haversine_m
from safezone.core.permissions import Principal
from safezone.patrol.models import Unit
from safezone.patrol.schemas import LocationReport, UnitCreate, UnitRead, UnitSuggestion, UnitUpdate

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


def create_unit(session: Session, *, data: UnitCreate, principal: Principal) -> Unit:
    if session.get(Unit, data.id) is not None:
        raise Conflict(f"A unit with id '{data.id}' already exists.", field="id")
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
    """Change a unit. Officers may change only the status of the unit they crew."""
    unit = get_unit(session, unit_id=unit_id, station_id=principal.station_id)
    changes = data.model_dump(exclude_unset=True)
    if principal.role == "officer":
        if unit.officer_user_id != principal.user_id:
            raise Forbidden("Officers may change only their own unit.")
        if set(changes) - {"status"}:
            raise Forbidden("Officers may change only their unit's status.")
    for key, value in changes.items():
        if value is None and key != "officer_user_id":
            raise InvalidInput(f"'{key}' cannot be null.", field=key)
        setattr(unit, key, value)
    unit.updated_at = utcnow()
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action="unit.updated",
        object_type="unit",
        object_id=unit.id,
        station_id=unit.station_id,
        payload={"changes": changes},
        event={"unit": _snapshot(unit)},
        topic="unit.changed",
    )
    return unit


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


def rank_available(
    session: Session,
    *,
    station_id: str,
    lat: float,
    lon: float,
    limit: int = 3,
    now: datetime | None = None,
) -> list[UnitSuggestion]:
    """Available units with a fresh location, by estimated travel time (straight line)."""
    now = now or utcnow()
    candidates = session.scalars(
        select(Unit).where(
            Unit.station_id == station_id,
            Unit.status == "available",
            Unit.lat.is_not(None),
            Unit.location_at >= now - LOCATION_FRESH_FOR,
        )
    ).all()
    ranked = []
    for unit in candidates:
        assert unit.lat is not None and unit.lon is not None
        distance = haversine_m(lat, lon, unit.lat, unit.lon)
        ranked.append(
            UnitSuggestion(
                unit_id=unit.id,
                callsign=unit.callsign,
                kind=unit.kind,
                distance_m=round(distance, 1),
                eta_s=round(distance / SPEED_M_S[unit.kind], 1),
                lat=unit.lat,
                lon=unit.lon,
            )
        )
    ranked.sort(key=lambda s: (s.eta_s, s.unit_id))
    return ranked[:limit]
