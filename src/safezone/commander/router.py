"""Commander's API: KPI figures and the daily brief (JSON and PDF), for commanders and
admins of their own station."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from safezone.commander import brief as brief_render
from safezone.commander import service
from safezone.core.deps import SessionDep, SettingsDep
from safezone.core.permissions import COMMAND, Principal, allow

router = APIRouter(prefix="/api/v1/commander", tags=["commander"])

Command = Annotated[Principal, allow(*COMMAND)]


@router.get("/kpis", response_model=dict[str, Any])
def kpis(
    session: SessionDep,
    settings: SettingsDep,
    principal: Command,
    start: Annotated[
        date | None, Query(description="First local day (default: 13 days before end)")
    ] = None,
    end: Annotated[date | None, Query(description="Last local day (default: today)")] = None,
) -> dict[str, Any]:
    """Incidents by category and day, response times (p50/p90) by priority, SOS counts and
    patrol check-ins by verdict, per local day (SAFEZONE_LOCAL_TIMEZONE, named in the
    answer's ``timezone``)."""
    zone = settings.local_timezone
    last = end or service.local_today(zone)
    first = start or last - timedelta(days=13)
    return service.kpis(
        session, station_id=principal.station_id, start=first, end=last, timezone=zone
    )


BriefDate = Annotated[
    date | None, Query(alias="date", description="Brief date (default: today, local)")
]


@router.get("/brief", response_model=dict[str, Any])
def daily_brief(
    session: SessionDep, settings: SettingsDep, principal: Command, on: BriefDate = None
) -> dict[str, Any]:
    """The daily brief: the day before's figures and the first watch's forecast and plan."""
    zone = settings.local_timezone
    return service.brief(
        session, station_id=principal.station_id, day=on or service.local_today(zone), timezone=zone
    )


@router.get("/brief.pdf", response_class=Response)
def daily_brief_pdf(
    session: SessionDep, settings: SettingsDep, principal: Command, on: BriefDate = None
) -> Response:
    zone = settings.local_timezone
    day = on or service.local_today(zone)
    data = service.brief(session, station_id=principal.station_id, day=day, timezone=zone)
    pdf = brief_render.render_pdf(data, printed_at=datetime.now(UTC))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="brief-{day.isoformat()}.pdf"'},
    )
