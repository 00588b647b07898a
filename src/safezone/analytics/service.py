"""Analytics entry points used by the CLI and the benchmark: backtests from an event file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from safezone.analytics import forecast, hotspots, shifts
from safezone.analytics.backtest import paired_difference, run_backtest
from safezone.analytics.events import Events, day_number, day_of, load_events
from safezone.analytics.grid import Grid
from safezone.core.errors import InvalidInput
from safezone.core.geo import contains, haversine_m, polygon_geometry
from safezone.incidents import service as incidents_service
from safezone.zones import service as zones_service

Progress = Callable[[str, int, int], None]


def prepare(events: Events, *, cell_m: float, category: str | None) -> forecast.DailyCells:
    """The events (of one category, if given) on a grid of ``cell_m`` metres."""
    if category:
        events = events.only(category)
    if len(events) == 0:
        raise ValueError("no events to backtest")
    grid = Grid.covering(events.lat, events.lon, cell_m)
    return forecast.DailyCells(events, grid)


def backtest(
    events: Events,
    *,
    method: str,
    cell_m: float,
    start: date,
    days: int,
    category: str | None = None,
    vs: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Backtest one method (and a baseline on the same days, with ``vs``): the summary
    the CLI prints with ``--json``. ValueError/KeyError for bad arguments."""
    history = prepare(events, cell_m=cell_m, category=category)
    start_day = day_number(start)
    if start_day <= history.first_day:
        raise ValueError(f"--start must be after the first event ({day_of(history.first_day)})")

    def stage(name: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        report = progress
        return lambda done, total: report(name, done, total)

    result = run_backtest(
        history,
        forecast.make(method, history),
        start_day=start_day,
        days=days,
        progress=stage(method),
    )
    summary = result.summary()
    summary["seconds"] = round(result.seconds, 2)
    if vs:
        baseline = run_backtest(
            history,
            forecast.make(vs, history),
            start_day=start_day,
            days=days,
            progress=stage(vs),
        )
        summary.update(paired_difference(result, baseline))
    return summary


def load(path: Path, mapping: Mapping[str, str] | None = None) -> Events:
    return load_events(path, mapping)


MAX_WINDOW = timedelta(days=3660)


def hotspot_layers(
    session: Session,
    *,
    station_id: str,
    since: datetime,
    until: datetime,
    category: str | None,
    cell_m: float,
    bandwidth_m: float,
    gi_radius_m: float,
    h3_resolution: int | None = None,
    timezone: str = "UTC",
) -> dict[str, Any]:
    """Counts, KDE, Gi* and next-day risk per cell for a station's incidents in a window,
    as GeoJSON: square cells of ``cell_m`` (``hotspots.hotspot_map``), or H3 cells when
    ``h3_resolution`` is given (``hotspots.h3_hotspot_map``). The next day is a local day
    in ``timezone``."""
    if since >= until:
        raise InvalidInput("since must be before until.", field="since")
    if until - since > MAX_WINDOW:
        raise InvalidInput("The window may span at most 10 years.", field="since")
    if h3_resolution is None and gi_radius_m < cell_m:
        raise InvalidInput(
            "gi_radius_m must be at least one cell (cell_m), or no cell has neighbours.",
            field="gi_radius_m",
        )
    points = incidents_service.incident_points(
        session, station_id=station_id, since=since, until=until, category=category
    )
    window = hotspots.Window(since, until)
    try:
        if h3_resolution is not None:
            collection = hotspots.h3_hotspot_map(
                points,
                window=window,
                resolution=h3_resolution,
                bandwidth_m=bandwidth_m,
                gi_radius_m=gi_radius_m,
            )
        else:
            collection = hotspots.hotspot_map(
                points,
                window=window,
                cell_m=cell_m,
                bandwidth_m=bandwidth_m,
                gi_radius_m=gi_radius_m,
                timezone=timezone,
            )
    except ValueError as exc:
        field = "h3_resolution" if h3_resolution is not None else "cell_m"
        raise InvalidInput(str(exc), field=field) from exc
    collection["properties"].update({"station_id": station_id, "category": category})
    return collection


# --- next-shift forecasts and patrol recommendations -------------------------------------


def _shift_inputs(
    session: Session, *, station_id: str, shift: shifts.ShiftWindow, cell_m: float
) -> tuple[shifts.ShiftForecast, list[Any], list[Any]]:
    """The shift forecast on a grid over the station's incidents (the last two years before
    the shift), active zones and active checkpoints."""
    zones = [
        z
        for z in zones_service.list_assets(
            session, kind=zones_service.KINDS["zone"], station_id=station_id
        )
        if z.active
    ]
    checkpoints = [
        c
        for c in zones_service.list_assets(
            session, kind=zones_service.KINDS["checkpoint"], station_id=station_id
        )
        if c.active
    ]
    points = incidents_service.incident_points(
        session,
        station_id=station_id,
        since=shift.start - timedelta(days=shifts.HISTORY_DAYS),
        until=shift.start,
    )
    station = zones_service.get_station(session, station_id=station_id)
    # The station itself anchors the grid when it has no incidents, zones or checkpoints.
    extra: list[tuple[float, float]] = [(station.lat, station.lon)]
    extra += [(c.lat, c.lon) for c in checkpoints]
    for zone in zones:
        west, south, east, north = polygon_geometry(zone.geometry).bounds
        extra += [(south, west), (north, east)]
    try:
        grid = shifts.grid_for(points, extra, cell_m)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="cell_m") from exc
    return shifts.forecast_shift(points, grid, shift), zones, checkpoints


def shift_window(
    shift: str, on: date | None, now: datetime, *, timezone: str
) -> shifts.ShiftWindow:
    """The watch asked for, in local time of ``timezone`` (SAFEZONE_LOCAL_TIMEZONE)."""
    try:
        return shifts.resolve(shift, now=now, on=on, timezone=timezone)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="shift" if on is None else "date") from exc


def shift_forecast_layer(
    session: Session, *, station_id: str, shift: shifts.ShiftWindow, cell_m: float, top: int
) -> dict[str, Any]:
    """The ``top`` cells of the shift's forecast as GeoJSON (a map layer)."""
    result, _, _ = _shift_inputs(session, station_id=station_id, shift=shift, cell_m=cell_m)
    collection = shifts.forecast_geojson(result, top=top)
    collection["properties"]["station_id"] = station_id
    return collection


def recommendations(
    session: Session,
    *,
    station_id: str,
    shift: shifts.ShiftWindow,
    cell_m: float = 200.0,
    per_zone: int = 3,
    visits: int | None = None,
    max_distance_m: float = 1000.0,
) -> dict[str, Any]:
    """The ``per_zone`` riskiest cells of each zone for the shift, each mapped to its nearest
    active checkpoint (within ``max_distance_m``), and the proposed patrol plan: those
    checkpoints in route order (riskiest first, then nearest next) with target visits in
    proportion to the risk they cover (``visits`` in all, default two per checkpoint).

    ``plan`` is exactly the body of the patrol plan creation request (POST
    /api/v1/patrol/plans): accepting the proposal is that one call. It is null when no
    checkpoint is near a risky cell."""
    result, zones, checkpoints = _shift_inputs(
        session, station_id=station_id, shift=shift, cell_m=cell_m
    )
    return propose(
        result,
        zones=zones,
        checkpoints=checkpoints,
        station_id=station_id,
        per_zone=per_zone,
        visits=visits,
        max_distance_m=max_distance_m,
    )


def shift_outlook(
    session: Session, *, station_id: str, shift: shifts.ShiftWindow, top: int = 10
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shift's forecast layer (``top`` cells) and its proposed plan, from one forecast
    (the daily brief)."""
    result, zones, checkpoints = _shift_inputs(
        session, station_id=station_id, shift=shift, cell_m=200.0
    )
    layer = shifts.forecast_geojson(result, top=top)
    layer["properties"]["station_id"] = station_id
    plan = propose(result, zones=zones, checkpoints=checkpoints, station_id=station_id)
    return layer, plan


def propose(
    result: shifts.ShiftForecast,
    *,
    zones: list[Any],
    checkpoints: list[Any],
    station_id: str,
    per_zone: int = 3,
    visits: int | None = None,
    max_distance_m: float = 1000.0,
) -> dict[str, Any]:
    """The proposal of :func:`recommendations` from a computed shift forecast."""
    shift = result.shift
    cell_m = result.grid.cell_m
    grid = result.grid
    ranked = [int(c) for c in np.argsort(-result.risk, kind="stable") if result.risk[c] > 0]
    centres = {c: grid.cell_centre(c) for c in ranked}
    places = [shifts.Place(c.id, c.name, c.lat, c.lon) for c in checkpoints]
    covered: dict[str, float] = {}
    cells_of: dict[str, list[int]] = {}
    zone_out: list[dict[str, Any]] = []
    uncovered: list[dict[str, Any]] = []
    for zone in zones:
        polygon = polygon_geometry(zone.geometry)
        west, south, east, north = polygon.bounds
        chosen: list[int] = []
        for cell in ranked:
            lat, lon = centres[cell]
            if south <= lat <= north and west <= lon <= east and contains(polygon, lat, lon):
                chosen.append(cell)
                if len(chosen) == per_zone:
                    break
        cells_out = []
        for cell in chosen:
            lat, lon = centres[cell]
            nearest = min(
                ((haversine_m(lat, lon, p.lat, p.lon), p.id) for p in places), default=None
            )
            entry: dict[str, Any] = {
                "cell": cell,
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "risk": round(float(result.risk[cell]), 6),
                "expected": round(float(result.expected[cell]), 4),
                "checkpoint_id": None,
                "distance_m": None,
            }
            if nearest is not None and nearest[0] <= max_distance_m:
                entry["checkpoint_id"] = nearest[1]
                entry["distance_m"] = round(nearest[0], 1)
                covered[nearest[1]] = covered.get(nearest[1], 0.0) + float(result.risk[cell])
                cells_of.setdefault(nearest[1], []).append(cell)
            else:
                uncovered.append({**entry, "zone_id": zone.id})
            cells_out.append(entry)
        zone_out.append(
            {"zone_id": zone.id, "name": zone.name, "name_en": zone.name_en, "cells": cells_out}
        )
    stops = [p for p in places if p.id in covered]
    weights = [covered[p.id] for p in stops]
    order = shifts.route_order(stops, weights)
    stops = [stops[i] for i in order]
    weights = [weights[i] for i in order]
    total = visits if visits is not None else 2 * len(stops)
    targets = shifts.allocate(weights, total)
    weight_sum = sum(weights) or 1.0
    stop_out = [
        {
            "position": i,
            "checkpoint_id": p.id,
            "name": p.name,
            "lat": p.lat,
            "lon": p.lon,
            "risk": round(w, 6),
            "risk_share": round(w / weight_sum, 4),
            "target_visits": v,
            "cells": cells_of[p.id],
        }
        for i, (p, w, v) in enumerate(zip(stops, weights, targets, strict=True))
    ]
    plan = None
    if stop_out:
        plan = {
            "name": f"แผนตามพยากรณ์ / Forecast plan {shift.local_date.isoformat()} "
            f"{shift.start_time}-{shift.end_time}",
            "timezone": shift.timezone,
            "start_time": shift.start_time,
            "end_time": shift.end_time,
            "valid_from": shift.local_date.isoformat(),
            "valid_to": shift.local_date.isoformat(),
            "checkpoints": [
                {"checkpoint_id": s["checkpoint_id"], "target_visits": s["target_visits"]}
                for s in stop_out
            ],
        }
    return {
        "station_id": station_id,
        "shift": shift.as_dict(),
        "method": shifts.METHOD,
        "cell_m": cell_m,
        "events": result.events,
        "expected_incidents": round(float(result.expected.sum()), 3),
        "plan": plan,
        "stops": stop_out,
        "zones": zone_out,
        "uncovered": uncovered,
    }
