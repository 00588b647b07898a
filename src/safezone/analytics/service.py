"""Analytics entry points used by the CLI and the benchmark: backtests from an event file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from safezone.analytics import forecast, hotspots
from safezone.analytics.backtest import paired_difference, run_backtest
from safezone.analytics.events import Events, day_number, day_of, load_events
from safezone.analytics.grid import Grid
from safezone.core.errors import InvalidInput
from safezone.incidents import service as incidents_service

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
) -> dict[str, Any]:
    """Counts, KDE, Gi* and next-day risk per cell for a station's incidents in a window,
    as GeoJSON: square cells of ``cell_m`` (``hotspots.hotspot_map``), or H3 cells when
    ``h3_resolution`` is given (``hotspots.h3_hotspot_map``)."""
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
            )
    except ValueError as exc:
        field = "h3_resolution" if h3_resolution is not None else "cell_m"
        raise InvalidInput(str(exc), field=field) from exc
    collection["properties"].update({"station_id": station_id, "category": category})
    return collection
