"""Hotspot map layers on the metric grid: counts, KDE, Getis-Ord Gi* and next-day risk.

Getis-Ord Gi* (Getis and Ord 1992; Ord and Getis 1995) with binary weights: the
neighbourhood of a cell is every cell whose centre lies within ``radius`` cells of its
centre, the cell itself included. For n cells with values x, mean X and
S = sqrt(sum(x^2)/n - X^2):

    Gi*_i = (sum_j w_ij x_j - X sum_j w_ij) / (S sqrt((n sum_j w_ij^2 - (sum_j w_ij)^2) / (n - 1)))

a z-score: above 1.96 a hot spot, below -1.96 a cold spot (95 %, no correction for
multiple tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import numpy as np
from numpy.typing import NDArray

from safezone.analytics import forecast
from safezone.analytics.events import Events, day_number
from safezone.analytics.grid import Grid, convolve_image, gaussian_smooth

FloatArray = NDArray[np.float64]
MAX_CELLS = 40_000
Z95 = 1.96


def neighbourhood(radius_cells: float) -> FloatArray:
    """Binary weights of the cells whose centres are within ``radius_cells`` (self included)."""
    r = int(math.floor(radius_cells))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    inside = np.hypot(dx, dy) <= radius_cells + 1e-9
    return np.where(inside, 1.0, 0.0)


def gi_star(image: FloatArray, radius_cells: float = 1.5) -> FloatArray:
    """Gi* z-score of every cell of a (rows, cols) image; 0 where the image is flat."""
    values = np.asarray(image, dtype=np.float64)
    n = values.size
    mean = float(values.mean())
    s = math.sqrt(max(float((values**2).mean()) - mean**2, 0.0))
    if n < 2 or s == 0.0:
        return np.zeros_like(values)
    weights = neighbourhood(radius_cells)
    local = convolve_image(values, weights)
    w_sum = convolve_image(np.ones_like(values), weights)
    w_sq = convolve_image(np.ones_like(values), weights**2)
    denominator = s * np.sqrt(np.maximum((n * w_sq - w_sum**2) / (n - 1), 1e-12))
    return np.asarray((local - mean * w_sum) / denominator, dtype=np.float64)


def gi_star_sets(values: FloatArray, neighbours: list[NDArray[np.int64]]) -> FloatArray:
    """Gi* with binary weights on any set of cells: ``neighbours[i]`` lists the cells in
    cell i's neighbourhood (itself included)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(x.mean()) if n else 0.0
    s = math.sqrt(max(float((x**2).mean()) - mean**2, 0.0)) if n else 0.0
    if n < 2 or s == 0.0:
        return np.zeros(n)
    w_sum = np.asarray([len(j) for j in neighbours], dtype=np.float64)
    local = np.asarray([x[j].sum() for j in neighbours], dtype=np.float64)
    denominator = s * np.sqrt(np.maximum((n * w_sum - w_sum**2) / (n - 1), 1e-12))
    return np.asarray((local - mean * w_sum) / denominator, dtype=np.float64)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def hotspot_map(
    points: list[tuple[datetime, str, float, float]],
    *,
    window: Window,
    cell_m: float,
    bandwidth_m: float,
    gi_radius_m: float,
    timezone: str = "UTC",
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the grid cells worth drawing, each with its count,
    KDE (expected events per cell over the window), Gi* z-score and next-day risk (the
    ``default`` forecast for the day after the window, scaled to sum to 1). Days, for
    the risk, are local days in ``timezone`` (``risk_day`` says which day it is for).

    Cells are drawn when they hold an event, a KDE of at least 1 % of the peak, or a
    significant Gi*. Raises ValueError when the grid would be too large.
    """
    meta: dict[str, Any] = {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "grid": "square",
        "cell_m": cell_m,
        "bandwidth_m": bandwidth_m,
        "gi_radius_m": gi_radius_m,
        "events": len(points),
        "timezone": timezone,
        "risk_day": next_day(window, ZoneInfo(timezone)).isoformat(),
    }
    if not points:
        return {"type": "FeatureCollection", "features": [], "properties": meta}
    lat = np.asarray([p[2] for p in points])
    lon = np.asarray([p[3] for p in points])
    # A margin of a bandwidth (at least one cell) lets the KDE and Gi* spread past the
    # outermost events.
    margin = max(bandwidth_m, gi_radius_m, cell_m)
    probe = Grid.covering(lat, lon, cell_m)
    dlat = margin / (math.pi * 6_371_008.8 / 180.0)
    dlon = dlat / math.cos(math.radians(probe.lat0))
    grid = Grid.covering(
        np.concatenate([lat, [lat.min() - dlat, lat.max() + dlat]]),
        np.concatenate([lon, [lon.min() - dlon, lon.max() + dlon]]),
        cell_m,
    )
    if grid.size > MAX_CELLS:
        raise ValueError(
            f"the events span {grid.nx} x {grid.ny} cells of {cell_m:g} m; "
            f"use larger cells (at most {MAX_CELLS} cells)"
        )
    cells = grid.cells(lat, lon)
    counts = np.bincount(cells, minlength=grid.size).astype(np.float64)
    image = grid.as_image(counts)
    kde = gaussian_smooth(image, bandwidth_m / cell_m).ravel()
    gi = gi_star(image, gi_radius_m / cell_m).ravel()
    risk = _next_day_risk(points, grid, window, ZoneInfo(timezone))
    show = (counts > 0) | (kde >= 0.01 * kde.max()) | (np.abs(gi) >= Z95)
    features = []
    for cell in np.flatnonzero(show):
        south, west, north, east = grid.cell_bounds(int(cell))
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        features.append(
            {
                "type": "Feature",
                "id": int(cell),
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]],
                },
                "properties": {
                    "cell": int(cell),
                    "count": int(counts[cell]),
                    "kde": round(float(kde[cell]), 4),
                    "gi_star": round(float(gi[cell]), 3),
                    "hot": bool(gi[cell] >= Z95),
                    "cold": bool(gi[cell] <= -Z95),
                    "risk": round(float(risk[cell]), 6),
                },
            }
        )
    meta["cells"] = grid.size
    return {"type": "FeatureCollection", "features": features, "properties": meta}


def next_day(window: Window, zone: ZoneInfo) -> date:
    """The local day after the window's last moment: the day the risk layer is for."""
    return (window.until - timedelta(microseconds=1)).astimezone(zone).date() + timedelta(days=1)


def _next_day_risk(
    points: list[tuple[datetime, str, float, float]], grid: Grid, window: Window, zone: ZoneInfo
) -> FloatArray:
    """The ``default`` forecast for the first local day after the window, summing to 1
    (events counted on the local days and hours they happened)."""
    names = sorted({p[1] for p in points})
    local = [p[0].astimezone(zone) for p in points]
    events = Events(
        day=np.asarray([day_number(t.date()) for t in local], dtype=np.int64),
        hour=np.asarray([t.hour for t in local], dtype=np.int64),
        category=np.asarray([names.index(p[1]) for p in points], dtype=np.int64),
        lat=np.asarray([p[2] for p in points]),
        lon=np.asarray([p[3] for p in points]),
        categories=tuple(names),
    )
    history = forecast.DailyCells(events, grid)
    scores = forecast.make("default", history).forecast(day_number(next_day(window, zone)))
    total = float(scores.sum())
    return scores / total if total > 0 else scores


MAX_H3_CELLS = 40_000


def h3_hotspot_map(
    points: list[tuple[datetime, str, float, float]],
    *,
    window: Window,
    resolution: int,
    bandwidth_m: float,
    gi_radius_m: float,
) -> dict[str, Any]:
    """The same layers as :func:`hotspot_map` on H3 cells of one resolution.

    Distances are counted in rings of neighbouring cells (centre spacing about
    sqrt(3) x the edge length): the KDE weight of a cell k rings away is
    exp(-(k x spacing / bandwidth)^2 / 2), normalised over the disk; the Gi* neighbourhood
    is the disk of round(gi_radius / spacing) rings (at least 1). The study area is every
    cell within that many rings of an event. The next-day risk is a metric-grid forecast,
    so it is not given on H3 cells.
    """
    spacing = math.sqrt(3) * float(h3.average_hexagon_edge_length(resolution, unit="m"))
    gi_rings = max(1, round(gi_radius_m / spacing))
    kde_rings = max(0, math.ceil(3 * bandwidth_m / spacing)) if bandwidth_m > 0 else 0
    meta: dict[str, Any] = {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "grid": "h3",
        "h3_resolution": resolution,
        "bandwidth_m": bandwidth_m,
        "gi_radius_m": gi_radius_m,
        "gi_rings": gi_rings,
        "events": len(points),
    }
    if not points:
        return {"type": "FeatureCollection", "features": [], "properties": meta}
    event_cells = [str(h3.latlng_to_cell(p[2], p[3], resolution)) for p in points]
    occupied = sorted(set(event_cells))
    universe: set[str] = set()
    for cell in occupied:
        universe.update(h3.grid_disk(cell, max(gi_rings, kde_rings)))
        if len(universe) > MAX_H3_CELLS:
            raise ValueError(
                f"the events cover more than {MAX_H3_CELLS} H3 cells at resolution "
                f"{resolution}; use a coarser resolution"
            )
    cells = sorted(universe)
    index = {cell: i for i, cell in enumerate(cells)}
    counts = np.zeros(len(cells))
    for cell in event_cells:
        counts[index[cell]] += 1
    kde = np.zeros(len(cells))
    if kde_rings == 0:
        kde = counts.copy()
    else:
        weights = [math.exp(-0.5 * (k * spacing / bandwidth_m) ** 2) for k in range(kde_rings + 1)]
        norm = weights[0] + sum(6 * k * weights[k] for k in range(1, kde_rings + 1))
        for cell in occupied:
            for k in range(kde_rings + 1):
                for other in h3.grid_ring(cell, k):
                    if other in index:
                        kde[index[other]] += counts[index[cell]] * weights[k] / norm
    neighbours = [
        np.asarray([index[c] for c in h3.grid_disk(cell, gi_rings) if c in index], dtype=np.int64)
        for cell in cells
    ]
    gi = gi_star_sets(counts, neighbours)
    show = (counts > 0) | (kde >= 0.01 * kde.max()) | (np.abs(gi) >= Z95)
    features = []
    for i in np.flatnonzero(show):
        boundary = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cells[i])]
        features.append(
            {
                "type": "Feature",
                "id": cells[i],
                "geometry": {"type": "Polygon", "coordinates": [[*boundary, boundary[0]]]},
                "properties": {
                    "cell": cells[i],
                    "count": int(counts[i]),
                    "kde": round(float(kde[i]), 4),
                    "gi_star": round(float(gi[i]), 3),
                    "hot": bool(gi[i] >= Z95),
                    "cold": bool(gi[i] <= -Z95),
                    "risk": None,
                },
            }
        )
    meta["cells"] = len(cells)
    return {"type": "FeatureCollection", "features": features, "properties": meta}
