"""Public alerts API.

Public: the CAP document of every message, the Atom feed for partners and the active
alerts for the citizen PWA. Staff (operators, commanders, admins): issue, update, cancel
and list their station's alerts. The fixed paths come before the ``{alert_id}`` ones so
that ``feed.atom`` and ``active`` are never taken for an alert id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from safezone.alerts import cap, schemas
from safezone.alerts import service as alerts_service
from safezone.alerts.models import Alert
from safezone.core.db import utcnow
from safezone.core.deps import SessionDep
from safezone.core.errors import InvalidInput
from safezone.core.permissions import CONTROL_ROOM, Principal, allow, public

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Anyone = Annotated[Principal | None, public()]


def _cap_url(request: Request, alert: Alert) -> str:
    return str(request.url_for("alert_cap", alert_id=alert.id))


def _read(request: Request, alert: Alert) -> schemas.AlertRead:
    return schemas.AlertRead(**alerts_service.summary(alert), cap_url=_cap_url(request, alert))


def _public(request: Request, alert: Alert) -> schemas.AlertPublic:
    values = {
        name: getattr(alert, name) for name in schemas.AlertPublic.model_fields if name != "cap_url"
    }
    return schemas.AlertPublic.model_validate({**values, "cap_url": _cap_url(request, alert)})


@router.get(
    "/feed.atom",
    response_class=Response,
    responses={200: {"content": {cap.ATOM_MEDIA_TYPE: {}}, "description": "Atom 1.0 feed"}},
    name="alerts_feed",
)
def feed(
    request: Request,
    session: SessionDep,
    principal: Anyone,
    station: Annotated[str | None, Query(max_length=32, description="Only this station")] = None,
) -> Response:
    """The current message of every alert thread that has not expired, for partners:
    live alerts, and the Cancel message of each cancelled one. Each entry links to its
    CAP 1.2 document."""
    alerts = alerts_service.current_messages(session, station_id=station)
    feed_url = request.url_for("alerts_feed")
    feed_id = str(feed_url.include_query_params(station=station) if station else feed_url)
    body = cap.render_feed(
        alerts,
        feed_id=feed_id,
        self_url=str(request.url),
        cap_url=lambda alert: _cap_url(request, alert),
        now=utcnow(),
    )
    return Response(
        body, media_type=cap.ATOM_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=30"}
    )


@router.get("/active", response_model=list[schemas.AlertPublic])
def active(
    request: Request,
    session: SessionDep,
    principal: Anyone,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="WGS84 latitude")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="WGS84 longitude")] = None,
) -> Any:
    """Alerts in force now. With lat and lon, only those whose zones contain the point;
    without, every station's (the PWA may then match zones itself and keep the
    citizen's position on the phone)."""
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(
            f"Give both lat and lon, or neither ({missing} is missing).", field=missing
        )
    if lat is not None and lon is not None:
        alerts = alerts_service.active_for_point(session, lat=lat, lon=lon)
    else:
        alerts = alerts_service.active_public_alerts(session)
    return [_public(request, alert) for alert in alerts]


@router.get(
    "/{alert_id}.cap",
    response_class=Response,
    responses={200: {"content": {cap.CAP_MEDIA_TYPE: {}}, "description": "CAP 1.2 message"}},
    name="alert_cap",
)
def cap_document(alert_id: int, session: SessionDep, principal: Anyone) -> Response:
    """One message as a CAP 1.2 document. Messages never change once sent."""
    alert = alerts_service.get_public_message(session, alert_id=alert_id)
    return Response(
        cap.render_alert(alert),
        media_type=cap.CAP_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("", response_model=list[schemas.AlertRead])
def list_alerts(
    request: Request,
    session: SessionDep,
    principal: ControlRoom,
    include_inactive: Annotated[
        bool,
        Query(description="Also superseded, cancelled and expired alerts and Cancel messages"),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    alerts = alerts_service.list_alerts(
        session,
        station_id=principal.station_id,
        include_inactive=include_inactive,
        limit=limit,
    )
    return [_read(request, alert) for alert in alerts]


@router.post("", response_model=schemas.AlertRead, status_code=201)
def issue_alert(
    request: Request, data: schemas.AlertCreate, session: SessionDep, principal: ControlRoom
) -> Any:
    alert = alerts_service.issue_alert(session, data=data, principal=principal)
    return _read(request, alert)


@router.get("/{alert_id}", response_model=schemas.AlertRead)
def get_alert(request: Request, alert_id: int, session: SessionDep, principal: ControlRoom) -> Any:
    alert = alerts_service.get_alert(session, alert_id=alert_id, station_id=principal.station_id)
    return _read(request, alert)


@router.post("/{alert_id}/update", response_model=schemas.AlertRead, status_code=201)
def update_alert(
    request: Request,
    alert_id: int,
    data: schemas.AlertUpdate,
    session: SessionDep,
    principal: ControlRoom,
) -> Any:
    """Send an Update message; the answer is the new message (the old one is superseded)."""
    alert = alerts_service.update_alert(session, alert_id=alert_id, data=data, principal=principal)
    return _read(request, alert)


@router.post("/{alert_id}/cancel", response_model=schemas.AlertRead, status_code=201)
def cancel_alert(
    request: Request,
    alert_id: int,
    session: SessionDep,
    principal: ControlRoom,
    data: schemas.AlertCancel | None = None,
) -> Any:
    """Send a Cancel message (the body is optional); the answer is the Cancel message."""
    alert = alerts_service.cancel_alert(
        session, alert_id=alert_id, note=data.note if data else None, principal=principal
    )
    return _read(request, alert)
