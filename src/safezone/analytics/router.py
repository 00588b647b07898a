"""Analytics API: hotspot map layers for the caller's station.

The control room (operators, commanders, admins) reads them: the maps summarise where
incidents happen, which the command centre uses to plan patrols. Officers and citizens do
not get them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from safezone.analytics import service as analytics_service
from safezone.core.deps import SessionDep
from safezone.core.permissions import CONTROL_ROOM, Principal, allow
from safezone.incidents.schemas import Category

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/hotspots", response_model=dict[str, Any])
def hotspots(
    session: SessionDep,
    principal: ControlRoom,
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
    next-day risk of the station's incidents in the window."""
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
    )
