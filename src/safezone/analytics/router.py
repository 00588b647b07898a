"""Analytics API: hotspot map layers for the caller's station.

The control room (operators, commanders, admins) reads them: the maps summarise where
incidents happen, which the command centre uses to plan patrols. Officers and citizens do
not get them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from safezone.analytics import service as analytics_service
from safezone.core.deps import SessionDep, SettingsDep
from safezone.core.permissions import COMMAND, CONTROL_ROOM, Principal, allow
from safezone.incidents.schemas import Category

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Command = Annotated[Principal, allow(*COMMAND)]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/hotspots", response_model=dict[str, Any])
def hotspots(
    session: SessionDep,
    principal: ControlRoom,
    settings: SettingsDep,
    category: Annotated[Category | None, Query(description="Only this category")] = None,
    since: Annotated[
        datetime | None, Query(description="Window start (default: 90 days before until)")
    ] = None,
    until: Annotated[datetime | None, Query(description="Window end (default: now)")] = None,
    cell_m: Annotated[float, Query(ge=25, le=5000, description="Cell size, metres")] = 200.0,
    bandwidth_m: Annotated[
        float, Query(ge=0, le=5000, description="KDE bandwidth (Gaussian sigma), metres")
    ] = 200.0,
    gi_radius_m: Annotated[
        float, Query(ge=25, le=10000, description="Gi* neighbourhood radius, metres")
    ] = 300.0,
    h3_resolution: Annotated[
        int | None,
        Query(ge=5, le=12, description="Use H3 cells of this resolution instead of squares"),
    ] = None,
) -> dict[str, Any]:
    """GeoJSON cells with the count, KDE, Getis-Ord Gi* z-score (hot/cold at 95 %) and
    next-day risk of the station's incidents in the window (the next day is a local day in
    SAFEZONE_LOCAL_TIMEZONE; ``risk_day`` says which)."""
    end = _utc(until) if until else datetime.now(UTC)
    start = _utc(since) if since else end - timedelta(days=90)
    return analytics_service.hotspot_layers(
        session,
        station_id=principal.station_id,
        since=start,
        until=end,
        category=category,
        cell_m=cell_m,
        bandwidth_m=bandwidth_m,
        gi_radius_m=gi_radius_m,
        h3_resolution=h3_resolution,
        timezone=settings.local_timezone,
    )


ShiftParam = Annotated[
    str,
    Query(
        max_length=16,
        description="next (default), current, or a watch by name: 06-14, 14-22, 22-06 "
        "(local time of SAFEZONE_LOCAL_TIMEZONE; the answer's shift.timezone names it)",
    ),
]
DateParam = Annotated[
    date | None,
    Query(
        alias="date", description="Local date of a named watch's start (default: its next start)"
    ),
]
CellParam = Annotated[float, Query(ge=50, le=2000, description="Cell size, metres")]


@router.get("/forecast", response_model=dict[str, Any])
def shift_forecast(
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
    shift: ShiftParam = "next",
    on: DateParam = None,
    cell_m: CellParam = 200.0,
    top: Annotated[int, Query(ge=1, le=2000, description="How many of the riskiest cells")] = 200,
) -> dict[str, Any]:
    """GeoJSON: the riskiest cells of the station for a shift, with each cell's share of
    the shift's risk and its expected incidents (ADR 0015)."""
    window = analytics_service.shift_window(
        shift, on, datetime.now(UTC), timezone=settings.local_timezone
    )
    return analytics_service.shift_forecast_layer(
        session, station_id=principal.station_id, shift=window, cell_m=cell_m, top=top
    )


@router.get("/recommendations", response_model=dict[str, Any])
def recommendations(
    session: SessionDep,
    settings: SettingsDep,
    principal: Command,
    shift: ShiftParam = "next",
    on: DateParam = None,
    cell_m: CellParam = 200.0,
    per_zone: Annotated[int, Query(ge=1, le=20, description="Riskiest cells per zone")] = 3,
    visits: Annotated[
        int | None, Query(ge=1, le=1000, description="Visits in all (default: 2 per checkpoint)")
    ] = None,
    max_distance_m: Annotated[
        float, Query(ge=10, le=10000, description="Farthest checkpoint that covers a cell")
    ] = 1000.0,
) -> dict[str, Any]:
    """A proposed patrol plan for a shift: the riskiest cells of each zone, their nearest
    checkpoints in route order and target visits in proportion to risk. ``plan`` is the
    body of POST /api/v1/patrol/plans as it stands."""
    window = analytics_service.shift_window(
        shift, on, datetime.now(UTC), timezone=settings.local_timezone
    )
    return analytics_service.recommendations(
        session,
        station_id=principal.station_id,
        shift=window,
        cell_m=cell_m,
        per_zone=per_zone,
        visits=visits,
        max_distance_m=max_distance_m,
    )
