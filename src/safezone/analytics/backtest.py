"""Rolling-origin backtests: forecast each test day from earlier days, score the hits.

For each test day, the cells of the study area (cells with at least one event before the
first test day) are ranked by the forecast; the top 1, 2, 5, 10 and 20 % of the study
area are "flagged". The hit rate at k % is the share of the test days' events that fell
in flagged cells (pooled over days; events outside the study area count as misses);
PAI = hit rate / area share. Ties in the ranking are broken at random with a fixed seed,
so a method that cannot tell cells apart scores as chance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safezone.analytics.forecast import DailyCells, Forecaster

AREAS = (1, 2, 5, 10, 20)
FloatArray = NDArray[np.float64]


@dataclass
class BacktestResult:
    method: str
    events: int  # test events (the hit-rate denominator)
    days: int
    study_cells: int
    hits: NDArray[np.int64]  # days x len(AREAS)
    per_day_events: NDArray[np.int64]
    seconds: float
    ms_per_forecast: float
    extra: dict[str, Any] = field(default_factory=dict)

    def hit_rate(self, area: int) -> float:
        total = int(self.per_day_events.sum())
        return float(self.hits[:, AREAS.index(area)].sum() / total) if total else 0.0

    def pai(self, area: int) -> float:
        return self.hit_rate(area) / (area / 100.0)

    def summary(self) -> dict[str, Any]:
        lo, hi = bootstrap_ci(self.hits[:, AREAS.index(5)], self.per_day_events)
        return {
            "method": self.method,
            "events": self.events,
            "days": self.days,
            "hit_rate": {str(a): round(self.hit_rate(a), 4) for a in AREAS},
            "pai": {str(a): round(self.pai(a), 3) for a in AREAS},
            "ci95_hit_rate_5": [round(lo, 4), round(hi, 4)],
            "ms_per_forecast": round(self.ms_per_forecast, 2),
            **self.extra,
        }


def top_cells(scores: FloatArray, tiebreak: FloatArray, k: int) -> NDArray[np.int64]:
    """Indices of the k highest scores; ties go to the higher ``tiebreak``."""
    order = np.lexsort((-tiebreak, -scores))
    return order[:k].astype(np.int64)


def run_backtest(
    history: DailyCells,
    forecaster: Forecaster,
    *,
    start_day: int,
    days: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Forecast ``days`` days from ``start_day`` on, each from the days before it."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if start_day + days - 1 > history.last_day:
        raise ValueError("the test window runs past the last event in the file")
    seen = history.counts_between(history.first_day, start_day) > 0
    study = np.flatnonzero(seen)
    if len(study) == 0:
        raise ValueError("no events before the start day: the study area is empty")
    in_study = np.zeros(history.grid.size, dtype=bool)
    in_study[study] = True
    sizes = [max(1, round(len(study) * a / 100)) for a in AREAS]
    rng = np.random.default_rng(seed)
    hits = np.zeros((days, len(AREAS)), dtype=np.int64)
    per_day = np.zeros(days, dtype=np.int64)
    spent = 0.0
    began = time.perf_counter()
    for i in range(days):
        day = start_day + i
        t0 = time.perf_counter()
        scores = forecaster.forecast(day)[study]
        spent += time.perf_counter() - t0
        order = top_cells(scores, rng.random(len(study)), sizes[-1])
        rank = np.full(history.grid.size, len(study), dtype=np.int64)
        rank[study[order]] = np.arange(len(order))
        cells = history.cells_on(day)
        per_day[i] = len(cells)
        event_rank = rank[cells]
        for j, size in enumerate(sizes):
            hits[i, j] = int(np.count_nonzero(event_rank < size))
        if progress is not None:
            progress(i + 1, days)
    return BacktestResult(
        method=forecaster.name,
        events=int(per_day.sum()),
        days=days,
        study_cells=len(study),
        hits=hits,
        per_day_events=per_day,
        seconds=time.perf_counter() - began,
        ms_per_forecast=1000.0 * spent / days,
    )


def bootstrap_ci(
    hits: NDArray[np.int64],
    events: NDArray[np.int64],
    *,
    reps: int = 2000,
    seed: int = 12345,
) -> tuple[float, float]:
    """95 % CI of a pooled hit rate, resampling whole days with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(hits), size=(reps, len(hits)))
    h = hits[idx].sum(axis=1)
    e = np.maximum(events[idx].sum(axis=1), 1)
    rates = h / e
    return float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975))


def paired_difference(
    result: BacktestResult, baseline: BacktestResult, *, area: int = 5, reps: int = 2000
) -> dict[str, Any]:
    """Hit-rate difference at ``area`` % against a baseline on the same days, with a
    day-bootstrap 95 % CI (the same resampled days for both)."""
    if result.days != baseline.days or not np.array_equal(
        result.per_day_events, baseline.per_day_events
    ):
        raise ValueError("a paired difference needs both backtests on the same days")
    j = AREAS.index(area)
    diff_per_day = result.hits[:, j] - baseline.hits[:, j]
    rng = np.random.default_rng(54321)
    idx = rng.integers(0, result.days, size=(reps, result.days))
    e = np.maximum(result.per_day_events[idx].sum(axis=1), 1)
    diffs = diff_per_day[idx].sum(axis=1) / e
    return {
        "vs": baseline.method,
        f"vs_hit_rate_{area}": round(baseline.hit_rate(area), 4),
        f"diff_hit_rate_{area}": round(result.hit_rate(area) - baseline.hit_rate(area), 4),
        f"ci95_diff_{area}": [
            round(float(np.quantile(diffs, 0.025)), 4),
            round(float(np.quantile(diffs, 0.975)), 4),
        ],
    }


def combine(results: list[BacktestResult]) -> BacktestResult:
    """Several windows of one method as one result (days pooled, in order)."""
    if not results:
        raise ValueError("nothing to combine")
    days = sum(r.days for r in results)
    spent = sum(r.ms_per_forecast * r.days for r in results)
    return BacktestResult(
        method=results[0].method,
        events=sum(r.events for r in results),
        days=days,
        study_cells=max(r.study_cells for r in results),
        hits=np.concatenate([r.hits for r in results]),
        per_day_events=np.concatenate([r.per_day_events for r in results]),
        seconds=sum(r.seconds for r in results),
        ms_per_forecast=spent / days,
    )
