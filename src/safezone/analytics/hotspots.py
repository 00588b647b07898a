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
from datetime import datetime, timedelta
from typing import Any

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
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the grid cells worth drawing, each with its count,
    KDE (expected events per cell over the window), Gi* z-score and next-day risk (the
    ``default`` forecast for the day after the window, scaled to sum to 1).

    Cells are drawn when they hold an event, a KDE of at least 1 % of the peak, or a
    significant Gi*. Raises ValueError when the grid would be too large.
    """
    meta: dict[str, Any] = {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "cell_m": cell_m,
        "bandwidth_m": bandwidth_m,
        "gi_radius_m": gi_radius_m,
        "events": len(points),
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
    risk = _next_day_risk(points, grid, window)
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


def _next_day_risk(
    points: list[tuple[datetime, str, float, float]], grid: Grid, window: Window
) -> FloatArray:
    """The ``default`` forecast for the first day after the window, summing to 1."""
    names = sorted({p[1] for p in points})
    events = Events(
        day=np.asarray([day_number(p[0].date()) for p in points], dtype=np.int64),
        hour=np.asarray([p[0].hour for p in points], dtype=np.int64),
        category=np.asarray([names.index(p[1]) for p in points], dtype=np.int64),
        lat=np.asarray([p[2] for p in points]),
        lon=np.asarray([p[3] for p in points]),
        categories=tuple(names),
    )
    history = forecast.DailyCells(events, grid)
    last = window.until - timedelta(microseconds=1)
    scores = forecast.make("default", history).forecast(day_number(last.date()) + 1)
    total = float(scores.sum())
    return scores / total if total > 0 else scores
