"""Public alerts: operators warn the people in one or more safety zones.

Each alert is a CAP 1.2 message. Messages are never edited once sent: an update is a new
Update message and a cancellation a new Cancel message, each referencing the earlier
messages of the thread, so partners who stored the first one can follow the thread. Every
message is written in one transaction with its audit entry and its outbox event
(``alert.issued``, ``alert.updated``, ``alert.cancelled``).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any, get_args

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from safezone.alerts import cap
from safezone.alerts.models import Alert
from safezone.alerts.schemas import (
    AlertCreate,
    AlertSummary,
    AlertUpdate,
    Severity,
    State,
)
from safezone.audit import service as audit_service
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from safezone.core.geo import contains, polygon_geometry
from safezone.core.permissions import CONTROL_ROOM, Principal
from safezone.incidents import service as incidents_service
from safezone.zones import service as zones_service

MAX_LIFETIME = timedelta(days=7)
MAX_LIST = 1000
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
# Fields an Update may change but never remove.
_REQUIRED = (
    "category",
    "event_th",
    "event_en",
    "urgency",
    "severity",
    "certainty",
    "headline_th",
    "description_th",
    "zone_ids",
    "effective",
    "expires",
)
# The message content an Update carries over from the message it replaces.
_CONTENT = (
    "status",
    "category",
    "event_th",
    "event_en",
    "response_type",
    "urgency",
    "severity",
    "certainty",
    "headline_th",
    "headline_en",
    "description_th",
    "description_en",
    "instruction_th",
    "instruction_en",
    "zone_ids",
    "incident_id",
    "effective",
    "expires",
)


def _name_part(station_id: str) -> str:
    # CAP identifiers and senders may not hold spaces, commas, '<' or '&'.
    return re.sub(r"[^A-Za-z0-9-]+", "-", station_id).strip("-") or "station"


def sender_for(station_id: str) -> str:
    """CAP <sender> for a station's messages: unique per station, no spaces or commas."""
    return f"safezone@{_name_part(station_id).lower()}.police.local"


def reference_to(alert: Alert) -> str:
    """How later messages name this one in CAP <references>: sender,identifier,sent."""
    return f"{alert.sender},{alert.identifier},{cap.cap_time(alert.sent)}"


def state_of(alert: Alert, now: datetime | None = None) -> State:
    now = now or utcnow()
    if alert.msg_type == "Cancel":
        return "cancellation"
    if alert.cancelled_at is not None:
        return "cancelled"
    if alert.replaced_by_id is not None:
        return "superseded"
    if alert.expires <= now:
        return "expired"
    if alert.effective > now:
        return "pending"
    return "active"


def summary(alert: Alert, now: datetime | None = None) -> dict[str, Any]:
    """The message as carried in events and staff lists (JSON-ready)."""
    values = {name: getattr(alert, name) for name in AlertSummary.model_fields if name != "state"}
    values["state"] = state_of(alert, now)
    return AlertSummary.model_validate(values).model_dump(mode="json")


# --- checking what an operator sends ----------------------------------------------------


def _areas(session: Session, *, station_id: str, zone_ids: list[str]) -> list[dict[str, Any]]:
    """The named zones of the station, copied as the message's areas."""
    kind = zones_service.KINDS["zone"]
    areas: list[dict[str, Any]] = []
    for index, zone_id in enumerate(zone_ids):
        field = f"zone_ids.{index}"
        if zone_id in zone_ids[:index]:
            raise InvalidInput(f"Zone '{zone_id}' is listed twice.", field=field)
        try:
            zone = zones_service.get_asset(
                session, kind=kind, station_id=station_id, asset_id=zone_id
            )
        except NotFound:
            raise InvalidInput(
                f"There is no safety zone '{zone_id}' at your station.", field=field
            ) from None
        if not zone.active:
            raise InvalidInput(
                f"Safety zone '{zone_id}' is switched off; switch it on or pick another.",
                field=field,
            )
        areas.append(
            {
                "zone_id": zone.id,
                "name_th": zone.name,
                "name_en": zone.name_en or zone.name,
                "geometry": zone.geometry,
            }
        )
    return areas


def _check_times(effective: datetime, expires: datetime, now: datetime) -> None:
    if expires <= now:
        raise InvalidInput(
            "expires must be in the future (give a time with a UTC offset, "
            "e.g. 2026-11-26T18:00:00+07:00).",
            field="expires",
        )
    if expires > now + MAX_LIFETIME:
        raise InvalidInput(
            f"expires may be at most {MAX_LIFETIME.days} days ahead; "
            "send an Update later to extend it.",
            field="expires",
        )
    if effective >= expires:
        raise InvalidInput("effective must be before expires.", field="effective")


def _check_languages(values: dict[str, Any]) -> None:
    if values.get("headline_en") is None:
        for key in ("description_en", "instruction_en"):
            if values.get(key) is not None:
                raise InvalidInput(
                    f"{key} needs an English headline too (headline_en).", field="headline_en"
                )
    if values.get("instruction_en") is not None and values.get("instruction_th") is None:
        raise InvalidInput(
            "An English instruction needs the Thai one (instruction_th): Thai comes first.",
            field="instruction_th",
        )


def _check_incident(session: Session, *, incident_id: int | None, station_id: str) -> None:
    if incident_id is None:
        return
    try:
        incidents_service.get_incident(session, incident_id=incident_id, station_id=station_id)
    except NotFound:
        raise InvalidInput(
            f"There is no incident {incident_id} at your station.", field="incident_id"
        ) from None


def _require_control_room(principal: Principal) -> None:
    if principal.role not in CONTROL_ROOM:
        raise Forbidden("Only operators, commanders and admins issue public alerts.")


# --- sending messages -------------------------------------------------------------------


def _send(
    session: Session,
    *,
    station_id: str,
    msg_type: str,
    content: dict[str, Any],
    areas: list[dict[str, Any]],
    note: str | None,
    previous: Alert | None,
    actor: str,
    now: datetime,
) -> Alert:
    station = zones_service.get_station(session, station_id=station_id)
    references = [*previous.references, reference_to(previous)] if previous else []
    alert = Alert(
        # A unique stand-in until the row has its id, which the identifier names.
        identifier=f"pending-{secrets.token_hex(16)}",
        station_id=station.id,
        sender=sender_for(station.id),
        sender_name_th=station.name_th,
        sender_name_en=station.name_en or station.name_th,
        msg_type=msg_type,
        areas=areas,
        note=note,
        cap_references=references,
        previous_id=previous.id if previous else None,
        created_by=actor,
        created_at=now,
        **content,
    )
    # CAP times are whole seconds: keep what the document says.
    alert.effective = alert.effective.replace(microsecond=0)
    alert.expires = alert.expires.replace(microsecond=0)
    session.add(alert)
    session.flush()
    alert.identifier = f"safezone-{_name_part(station.id)}-{alert.id}-{secrets.token_hex(4)}"
    if previous is not None:
        previous.replaced_by_id = alert.id
    session.flush()
    return alert


def _record(
    session: Session, alert: Alert, *, action: str, actor: str, now: datetime, **extra: Any
) -> None:
    audit_service.record(
        session,
        actor=actor,
        action=action,
        object_type="alert",
        object_id=alert.id,
        station_id=alert.station_id,
        payload={
            "identifier": alert.identifier,
            "msg_type": alert.msg_type,
            "status": alert.status,
            "headline_th": alert.headline_th,
            "zone_ids": alert.zone_ids,
            "severity": alert.severity,
            "urgency": alert.urgency,
            "effective": cap.cap_time(alert.effective),
            "expires": cap.cap_time(alert.expires),
            "references": alert.references,
            **extra,
        },
        event={"alert": summary(alert, now), **extra},
    )


def issue_alert(session: Session, *, data: AlertCreate, principal: Principal) -> Alert:
    """Send a new public alert (CAP msgType Alert) to zones of the caller's station."""
    _require_control_room(principal)
    now = utcnow()
    content = {key: getattr(data, key) for key in _CONTENT}
    content["effective"] = content["effective"] or now
    _check_times(content["effective"], content["expires"], now)
    _check_languages(content)
    _check_incident(session, incident_id=data.incident_id, station_id=principal.station_id)
    areas = _areas(session, station_id=principal.station_id, zone_ids=data.zone_ids)
    alert = _send(
        session,
        station_id=principal.station_id,
        msg_type="Alert",
        content=content,
        areas=areas,
        note=data.note,
        previous=None,
        actor=principal.actor,
        now=now,
    )
    _record(session, alert, action="alert.issued", actor=principal.actor, now=now)
    return alert


def _current_message(session: Session, *, alert_id: int, station_id: str, now: datetime) -> Alert:
    """The message to update or cancel, locked; only a live message may be replaced."""
    alert = session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None or alert.station_id != station_id:
        raise NotFound(f"No alert with id {alert_id} at your station.", field="id")
    state = state_of(alert, now)
    if state == "superseded":
        raise Conflict(
            f"Alert {alert_id} has already been updated; change the latest message "
            f"(id {alert.replaced_by_id}) instead.",
            field="id",
        )
    if state == "cancelled":
        raise Conflict(f"Alert {alert_id} is already cancelled.", field="id")
    if state == "cancellation":
        raise Conflict(
            f"Message {alert_id} is a cancellation; it cannot be updated or cancelled.",
            field="id",
        )
    if state == "expired":
        raise Conflict(f"Alert {alert_id} has expired; issue a new alert instead.", field="id")
    return alert


def update_alert(
    session: Session, *, alert_id: int, data: AlertUpdate, principal: Principal
) -> Alert:
    """Send an Update message replacing a live alert; left-out fields are carried over."""
    _require_control_room(principal)
    now = utcnow()
    changes = data.model_dump(exclude_unset=True)
    note = changes.pop("note", None)
    if not changes:
        raise InvalidInput("Nothing to change: give at least one field of the alert.")
    for key in _REQUIRED:
        if key in changes and changes[key] is None:
            raise InvalidInput(f"'{key}' cannot be null; leave it out to keep it.", field=key)
    previous = _current_message(
        session, alert_id=alert_id, station_id=principal.station_id, now=now
    )
    content = {key: getattr(previous, key) for key in _CONTENT} | changes
    if "expires" in changes or "effective" in changes:
        _check_times(content["effective"], content["expires"], now)
    _check_languages(content)
    if "zone_ids" in changes:
        areas = _areas(session, station_id=principal.station_id, zone_ids=changes["zone_ids"])
    else:
        # The zones stay as they were sent, even if a zone was edited or removed since.
        areas = previous.areas
    alert = _send(
        session,
        station_id=principal.station_id,
        msg_type="Update",
        content=content,
        areas=areas,
        note=note,
        previous=previous,
        actor=principal.actor,
        now=now,
    )
    _record(
        session,
        alert,
        action="alert.updated",
        actor=principal.actor,
        now=now,
        replaces=previous.id,
        changed=sorted(changes),
    )
    return alert


def cancel_alert(
    session: Session, *, alert_id: int, note: str | None, principal: Principal
) -> Alert:
    """Send a Cancel message for a live alert; it leaves every public list at once."""
    _require_control_room(principal)
    now = utcnow()
    previous = _current_message(
        session, alert_id=alert_id, station_id=principal.station_id, now=now
    )
    previous.cancelled_at = now
    previous.cancelled_by = principal.actor
    alert = _send(
        session,
        station_id=principal.station_id,
        msg_type="Cancel",
        content={key: getattr(previous, key) for key in _CONTENT},
        areas=previous.areas,
        note=note,
        previous=previous,
        actor=principal.actor,
        now=now,
    )
    _record(
        session,
        alert,
        action="alert.cancelled",
        actor=principal.actor,
        now=now,
        cancels=previous.id,
    )
    return alert


# --- reading ------------------------------------------------------------------------------


def get_alert(session: Session, *, alert_id: int, station_id: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.station_id != station_id:
        raise NotFound(f"No alert with id {alert_id} at your station.", field="id")
    return alert


def get_public_message(session: Session, *, alert_id: int) -> Alert:
    """Any station's message, for its CAP document: every message ever sent is public."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert with id {alert_id}.", field="id")
    return alert


def list_alerts(
    session: Session, *, station_id: str, include_inactive: bool = False, limit: int = 100
) -> list[Alert]:
    """The station's messages, newest first; by default only live alerts (active or
    pending), else every message: superseded, cancelled, expired and Cancel messages too."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}.", field="limit")
    query = select(Alert).where(Alert.station_id == station_id)
    if not include_inactive:
        query = query.where(
            Alert.msg_type != "Cancel",
            Alert.replaced_by_id.is_(None),
            Alert.expires > utcnow(),
        )
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    return list(session.scalars(query).all())


def current_messages(session: Session, *, station_id: str | None = None) -> list[Alert]:
    """For the partners' feed: the latest message of every thread that has not expired.

    That is each live alert (pending ones too: CAP says when they take effect) and the
    Cancel message of each cancelled alert until the alert would have expired, so a
    partner polling the feed learns of the cancellation.
    """
    query = select(Alert).where(Alert.replaced_by_id.is_(None), Alert.expires > utcnow())
    if station_id is not None:
        zones_service.get_station(session, station_id=station_id)
        query = query.where(Alert.station_id == station_id)
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(MAX_LIST)
    return list(session.scalars(query).all())


def active_public_alerts(session: Session) -> list[Alert]:
    """Alerts in force now for the public, every station's: status Actual (exercises and
    tests are for partners' systems, not citizens' phones), most severe first."""
    now = utcnow()
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.status == "Actual",
            Alert.msg_type != "Cancel",
            Alert.replaced_by_id.is_(None),
            Alert.effective <= now,
            Alert.expires > now,
        )
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(MAX_LIST)
    ).all()
    return sorted(alerts, key=lambda a: SEVERITIES.index(a.severity))


def _shapes(alert: Alert) -> list[BaseGeometry]:
    return [polygon_geometry(area["geometry"]) for area in alert.areas]


def active_for_point(session: Session, *, lat: float, lon: float) -> list[Alert]:
    """The active public alerts whose zones contain the point (a citizen's position)."""
    return [
        alert
        for alert in active_public_alerts(session)
        if any(contains(shape, lat, lon) for shape in _shapes(alert))
    ]
