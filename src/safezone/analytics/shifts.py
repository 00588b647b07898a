"""Next-shift risk per cell, and the patrol plan it proposes.

Shifts are the station's three watches in local time (``SAFEZONE_LOCAL_TIMEZONE``, passed in
as ``timezone``; Asia/Bangkok by default): 06:00-14:00, 14:00-22:00 and 22:00-06:00 (the night
watch ends the next day).

The shift forecast is the ``default`` next-day forecast (ADR 0009) of the local day on which
the shift starts, times each cell's shift-of-day profile: the share of the cell's incidents
of the last 730 days that fell in the watch's hours, shrunk towards the station's share with
a prior of ``PROFILE_ALPHA`` incidents, (n_cs + alpha p_s) / (n_c + alpha). On Toronto
(bench/shift_hotspot.py, ADR 0015) alpha = 50 was picked on 2018 and beat the plain
next-day ranking on 2019 by 0.38 points of hit rate at 5 % of the area (CI +0.18..+0.57).
Each cell carries ``risk`` (its share of the shift's total, summing to 1 over the grid)
and ``expected`` (expected incidents in the shift: risk x the station's mean daily
incidents of the last 90 days x the station's share of the watch, (n_s + 1) / (n + 3)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from safezone.analytics import forecast
from safezone.analytics.events import Events, day_number
from safezone.analytics.grid import Grid
from safezone.core.geo import haversine_m

FloatArray = NDArray[np.float64]
# (start hour, end hour) in local time; the night watch wraps past midnight.
SHIFTS: tuple[tuple[int, int], ...] = ((6, 14), (14, 22), (22, 6))
SHIFT_NAMES = tuple(f"{a:02d}-{b:02d}" for a, b in SHIFTS)
HISTORY_DAYS = 730
PROFILE_DAYS = 730
PROFILE_ALPHA = 50.0
RATE_DAYS = 90
MAX_CELLS = 40_000
METHOD = "default next-day risk x shrunk per-cell shift-of-day profile (alpha 50)"
Point = tuple[datetime, str, float, float]


@dataclass(frozen=True)
class ShiftWindow:
    """One watch: its local date and hours in ``timezone``, and its bounds in UTC."""

    name: str
    local_date: date
    start_hour: int
    end_hour: int
    start: datetime
    end: datetime
    timezone: str

    @property
    def start_time(self) -> str:
        return f"{self.start_hour:02d}:00"

    @property
    def end_time(self) -> str:
        return f"{self.end_hour:02d}:00"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "date": self.local_date.isoformat(),
            "timezone": self.timezone,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def window(local_date: date, index: int, timezone: str) -> ShiftWindow:
    """Watch ``index`` of ``local_date``, in the stations' zone ``timezone``."""
    zone = ZoneInfo(timezone)
    start_hour, end_hour = SHIFTS[index]
    start = datetime.combine(local_date, time(start_hour), tzinfo=zone)
    end_date = local_date + timedelta(days=1) if end_hour <= start_hour else local_date
    end = datetime.combine(end_date, time(end_hour), tzinfo=zone)
    return ShiftWindow(
        SHIFT_NAMES[index],
        local_date,
        start_hour,
        end_hour,
        start.astimezone(UTC),
        end.astimezone(UTC),
        timezone,
    )


def current(now: datetime, timezone: str) -> ShiftWindow:
    """The watch under way at ``now``."""
    local = now.astimezone(ZoneInfo(timezone))
    if local.hour < SHIFTS[0][0]:
        return window(local.date() - timedelta(days=1), len(SHIFTS) - 1, timezone)
    for i, (start_hour, end_hour) in enumerate(SHIFTS):
        if end_hour > start_hour and start_hour <= local.hour < end_hour:
            return window(local.date(), i, timezone)
    return window(local.date(), len(SHIFTS) - 1, timezone)


def following(shift: ShiftWindow) -> ShiftWindow:
    index = SHIFT_NAMES.index(shift.name)
    if index + 1 < len(SHIFTS):
        return window(shift.local_date, index + 1, shift.timezone)
    return window(shift.local_date + timedelta(days=1), 0, shift.timezone)


def resolve(shift: str, *, now: datetime, timezone: str, on: date | None = None) -> ShiftWindow:
    """``next`` (the default) or ``current``, or a watch by name (``06-14``, ``14-22``,
    ``22-06``) on local date ``on`` (default: its next start after ``now``), in local time
    of ``timezone``. ValueError names what is wrong."""
    if shift in ("next", "current"):
        if on is not None:
            raise ValueError("date goes with a shift name (06-14, 14-22 or 22-06), not 'next'")
        under_way = current(now, timezone)
        return under_way if shift == "current" else following(under_way)
    if shift not in SHIFT_NAMES:
        raise ValueError(
            f"unknown shift '{shift}'; use next, current or one of {', '.join(SHIFT_NAMES)}"
        )
    index = SHIFT_NAMES.index(shift)
    if on is not None:
        return window(on, index, timezone)
    candidate = window(now.astimezone(ZoneInfo(timezone)).date(), index, timezone)
    return (
        candidate
        if candidate.start > now
        else window(candidate.local_date + timedelta(days=1), index, timezone)
    )


def in_shift_hours(hours: NDArray[np.int64], index: int) -> NDArray[np.bool_]:
    start_hour, end_hour = SHIFTS[index]
    if end_hour > start_hour:
        return (hours >= start_hour) & (hours < end_hour)
    return (hours >= start_hour) | (hours < end_hour)


def grid_for(points: list[Point], extra: list[tuple[float, float]], cell_m: float) -> Grid:
    """A grid over the events and the extra places (zone corners, checkpoints), with a cell
    of margin. ValueError when nothing is given or it would be too large."""
    lats = [p[2] for p in points] + [e[0] for e in extra]
    lons = [p[3] for p in points] + [e[1] for e in extra]
    if not lats:
        raise ValueError("no incidents, zones or checkpoints to place a grid on")
    lat = np.asarray(lats)
    lon = np.asarray(lons)
    dlat = cell_m / (math.pi * 6_371_008.8 / 180.0)
    dlon = dlat / math.cos(math.radians(float(lat.min())))
    grid = Grid.covering(
        np.concatenate([lat, [lat.min() - dlat, lat.max() + dlat]]),
        np.concatenate([lon, [lon.min() - dlon, lon.max() + dlon]]),
        cell_m,
    )
    if grid.size > MAX_CELLS:
        raise ValueError(
            f"the area spans {grid.nx} x {grid.ny} cells of {cell_m:g} m; use larger cells "
            f"(at most {MAX_CELLS} cells)"
        )
    return grid


@dataclass(frozen=True)
class ShiftForecast:
    shift: ShiftWindow
    grid: Grid
    risk: FloatArray  # per cell, sums to 1 (all zeros without history)
    expected: FloatArray  # expected incidents per cell in the shift
    shift_share: float
    daily_rate: float
    events: int


def station_share(in_watch: int, everything: int) -> float:
    """The station's share of incidents in a watch, with one incident of prior per watch
    (Laplace): a watch without any incident yet keeps a little risk."""
    return (in_watch + 1.0) / (everything + len(SHIFTS))


def shift_profile(
    in_watch: FloatArray, everything: FloatArray, share: float, alpha: float = PROFILE_ALPHA
) -> FloatArray:
    """Per cell, the shrunk share of its incidents that fell in the watch:
    (n_cs + alpha p_s) / (n_c + alpha)."""
    return np.asarray((in_watch + alpha * share) / (everything + alpha), dtype=np.float64)


def forecast_shift(points: list[Point], grid: Grid, shift: ShiftWindow) -> ShiftForecast:
    """The shift's risk per cell from the incidents before the shift's local day."""
    zone = ZoneInfo(shift.timezone)
    first_day = datetime.combine(shift.local_date, time(0), tzinfo=zone).astimezone(UTC)
    usable = [p for p in points if _utc(p[0]) < first_day]
    index = SHIFT_NAMES.index(shift.name)
    if not usable:
        zeros = np.zeros(grid.size)
        return ShiftForecast(shift, grid, zeros, zeros.copy(), 1.0 / len(SHIFTS), 0.0, 0)
    local = [_utc(p[0]).astimezone(zone) for p in usable]
    names = sorted({p[1] for p in usable})
    events = Events(
        day=np.asarray([day_number(t.date()) for t in local], dtype=np.int64),
        hour=np.asarray([t.hour for t in local], dtype=np.int64),
        category=np.asarray([names.index(p[1]) for p in usable], dtype=np.int64),
        lat=np.asarray([p[2] for p in usable]),
        lon=np.asarray([p[3] for p in usable]),
        categories=tuple(names),
    )
    target = day_number(shift.local_date)
    history = forecast.DailyCells(events, grid)
    base = forecast.make("default", history).forecast(target)
    cells = grid.cells(events.lat, events.lon)
    recent = (events.day >= target - PROFILE_DAYS) & (cells >= 0)
    watch = in_shift_hours(events.hour, index)
    share = station_share(int(np.count_nonzero(recent & watch)), int(np.count_nonzero(recent)))
    in_watch = np.bincount(cells[recent & watch], minlength=grid.size).astype(np.float64)
    everything = np.bincount(cells[recent], minlength=grid.size).astype(np.float64)
    scores = base * shift_profile(in_watch, everything, share)
    total = float(scores.sum())
    risk = scores / total if total > 0 else np.zeros(grid.size)
    span = min(RATE_DAYS, target - int(events.day.min()))
    daily = float((events.day >= target - span).sum()) / span if span > 0 else 0.0
    return ShiftForecast(shift, grid, risk, risk * daily * share, share, daily, len(usable))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cell_feature(grid: Grid, cell: int, properties: dict[str, Any]) -> dict[str, Any]:
    south, west, north, east = grid.cell_bounds(cell)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "id": cell,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]],
        },
        "properties": {"cell": cell, **properties},
    }


def forecast_geojson(result: ShiftForecast, *, top: int) -> dict[str, Any]:
    """The ``top`` cells of the shift forecast (by risk, risk > 0) as GeoJSON."""
    order = [int(c) for c in np.argsort(-result.risk, kind="stable")[:top] if result.risk[c] > 0]
    features = [
        cell_feature(
            result.grid,
            cell,
            {
                "rank": rank + 1,
                "risk": round(float(result.risk[cell]), 6),
                "expected": round(float(result.expected[cell]), 4),
            },
        )
        for rank, cell in enumerate(order)
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "shift": result.shift.as_dict(),
            "cell_m": result.grid.cell_m,
            "method": METHOD,
            "shift_share": round(result.shift_share, 4),
            "daily_rate": round(result.daily_rate, 3),
            "events": result.events,
        },
    }


# --- patrol recommendations ------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    id: str
    name: str
    lat: float
    lon: float


def allocate(weights: list[float], total: int, *, cap: int = 48) -> list[int]:
    """Visits per stop in proportion to the weights (largest remainder), ``total`` in all;
    every stop gets at least 1 (taken from the stop with the most) and at most ``cap``."""
    n = len(weights)
    if n == 0:
        return []
    total = min(max(total, n), cap * n)
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1.0] * n, float(n)
    shares = [total * w / weight_sum for w in weights]
    visits = [int(math.floor(x)) for x in shares]
    order = sorted(range(n), key=lambda i: (-(shares[i] - visits[i]), -weights[i], i))
    for i in order[: total - sum(visits)]:
        visits[i] += 1
    for i in range(n):
        if visits[i] == 0:
            donor = max(range(n), key=lambda j: (visits[j], -j))
            visits[donor] -= 1
            visits[i] = 1
    excess = sum(max(0, v - cap) for v in visits)
    visits = [min(v, cap) for v in visits]
    for i in sorted(range(n), key=lambda i: (-weights[i], i)):
        step = min(cap - visits[i], excess)
        visits[i] += step
        excess -= step
    return visits


def route_order(stops: list[Place], weights: list[float]) -> list[int]:
    """Start at the riskiest stop, then always go to the nearest stop not yet visited."""
    if not stops:
        return []
    left = set(range(len(stops)))
    here = max(left, key=lambda i: (weights[i], -i))
    order = [here]
    left.remove(here)
    while left:
        current_stop = stops[here]
        here = min(
            left,
            key=lambda i: (
                haversine_m(current_stop.lat, current_stop.lon, stops[i].lat, stops[i].lon),
                i,
            ),
        )
        order.append(here)
        left.remove(here)
    return order
