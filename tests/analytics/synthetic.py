"""Seeded synthetic events for the analytics tests."""

from __future__ import annotations

import numpy as np

from safezone.analytics.events import Events
from safezone.analytics.grid import Grid

GRID = Grid(lat0=13.70, lon0=100.50, cell_m=200.0, nx=20, ny=20)
FIRST_DAY = 17_000


def events_from_cells(days: list[int], cells: list[int], grid: Grid = GRID) -> Events:
    """Events at the centres of the given cells, on the given day numbers."""
    centres = [grid.cell_centre(c) for c in cells]
    order = np.argsort(np.asarray(days), kind="stable")
    return Events(
        day=np.asarray(days, dtype=np.int64)[order],
        hour=np.zeros(len(days), dtype=np.int64),
        category=np.zeros(len(days), dtype=np.int64),
        lat=np.asarray([c[0] for c in centres], dtype=np.float64)[order],
        lon=np.asarray([c[1] for c in centres], dtype=np.float64)[order],
        categories=("theft",),
    )


def simulate_hawkes(mu: np.ndarray, theta: float, q: float, days: int, seed: int) -> np.ndarray:
    """Counts (days x cells) of a discrete-time grid self-exciting process:
    n[t, c] ~ Poisson(mu[c] + theta * (1 - q) * sum_k n[t-k, c] q**(k-1))."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((days, len(mu)))
    a = np.zeros(len(mu))
    for t in range(days):
        if t:
            a = q * a + counts[t - 1]
        counts[t] = rng.poisson(mu + theta * (1 - q) * a)
    return counts


def counts_to_events(counts: np.ndarray, grid: Grid = GRID) -> Events:
    days: list[int] = []
    cells: list[int] = []
    for t, c in zip(*np.nonzero(counts), strict=True):
        for _ in range(int(counts[t, c])):
            days.append(FIRST_DAY + int(t))
            cells.append(int(c))
    return events_from_cells(days, cells, grid)
