"""Next-shift forecasts on real data (Toronto MCI, bench/data): does weighting each cell by
its own shift-of-day profile beat the next-day ranking for the events of one shift?

Watches by local hour: 06-14, 14-22 and 22-06 (the night watch here is the hours 22-24 and
00-06 of the same calendar day, so every test shift is forecast from days before its day).
For each test day d and watch s, cells of the study area (cells with an event before the
window) are ranked by

- ``day``: the ``default`` next-day forecast for d (the same ranking for every watch;
  this is what the product ships, scaled by the station's share of watch s);
- ``shift(alpha)``: ``default`` x (n_cs + alpha p_s) / (n_c + alpha), where n_cs are the
  cell's events in watch s over the last 730 days, n_c all its events then, p_s the
  share of watch s in the whole city over the same days (a shrunk per-cell profile);
- ``counts365_shift``: the cell's events in watch s over the last 365 days.

Hit rate at 5 % of the study area = events of the test shifts in the flagged cells / all
events of the test shifts (pooled); the paired difference to ``day`` has a day-bootstrap
95 % CI. Prints one JSON line per window. Usage:
    python bench/shift_hotspot.py [--start 2018-01-01] [--days 360] [--alphas 2,10,50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from safezone.analytics import forecast, shifts
from safezone.analytics.backtest import top_cells
from safezone.analytics.events import day_number, load_events
from safezone.analytics.service import prepare

DATA = Path(__file__).parent / "data" / "toronto_mci_2014_2019.csv.gz"
PROFILE_DAYS = 730
COUNT_DAYS = 365
AREA = 5


def shift_of_hour(hours: np.ndarray) -> np.ndarray:
    out = np.full(len(hours), 2, dtype=np.int64)
    for s in range(len(shifts.SHIFTS)):
        out[shifts.in_shift_hours(hours, s)] = s
    return out


def run(start: date, days: int, alphas: list[float], seed: int = 0) -> dict[str, Any]:
    events = load_events(DATA)
    history = prepare(events, cell_m=200.0, category=None)
    size = history.grid.size
    watch = shift_of_hour(history.hour)
    start_day = day_number(start)
    seen = history.counts_between(history.first_day, start_day) > 0
    study = np.flatnonzero(seen)
    k = max(1, round(len(study) * AREA / 100))
    rng = np.random.default_rng(seed)
    fc = forecast.make("default", history)

    def counts(lo: int, hi: int, s: int | None) -> np.ndarray:
        a = int(np.searchsorted(history.day, lo))
        b = int(np.searchsorted(history.day, hi))
        cells = history.cell[a:b]
        if s is not None:
            cells = cells[watch[a:b] == s]
        return np.bincount(cells, minlength=size).astype(np.float64)

    methods = ["day", *[f"shift({a:g})" for a in alphas], "counts365_shift"]
    hits = {m: np.zeros((days, 3), dtype=np.int64) for m in methods}
    per = np.zeros((days, 3), dtype=np.int64)
    began = time.perf_counter()
    for i in range(days):
        d = start_day + i
        base = fc.forecast(d)
        total = counts(d - PROFILE_DAYS, d, None)
        tiebreak = rng.random(len(study))
        rows = history.rows_on(d)
        day_cells = history.cell[rows]
        day_watch = watch[rows]
        by_watch = [counts(d - PROFILE_DAYS, d, s) for s in range(3)]
        city = np.asarray([w.sum() for w in by_watch])
        city = city / max(city.sum(), 1.0)
        for s in range(3):
            cells = day_cells[day_watch == s]
            per[i, s] = len(cells)
            scores: dict[str, np.ndarray] = {"day": base}
            for a in alphas:
                profile = shifts.shift_profile(by_watch[s], total, float(city[s]), a)
                scores[f"shift({a:g})"] = base * profile
            scores["counts365_shift"] = counts(d - COUNT_DAYS, d, s)
            for m, score in scores.items():
                order = top_cells(score[study], tiebreak, k)
                flagged = np.zeros(size, dtype=bool)
                flagged[study[order]] = True
                hits[m][i, s] = int(np.count_nonzero(flagged[cells]))
        if (i + 1) % 30 == 0:
            print(f"  day {i + 1}/{days}", file=sys.stderr, flush=True)
    events_total = int(per.sum())
    out: dict[str, Any] = {
        "bench": "shift_hotspot",
        "start": start.isoformat(),
        "days": days,
        "events": events_total,
        "study_cells": len(study),
        "seconds": round(time.perf_counter() - began, 1),
        "hit_rate_5": {m: round(float(hits[m].sum()) / events_total, 4) for m in methods},
        "hit_rate_5_by_shift": {
            m: [
                round(float(hits[m][:, s].sum()) / max(int(per[:, s].sum()), 1), 4)
                for s in range(3)
            ]
            for m in methods
        },
    }
    boot = np.random.default_rng(12345)
    idx = boot.integers(0, days, size=(2000, days))
    e = per.sum(axis=1)[idx].sum(axis=1)
    base_rate = hits["day"].sum(axis=1)[idx].sum(axis=1) / e
    out["diff_vs_day_ci95"] = {}
    for m in methods[1:]:
        diff = hits[m].sum(axis=1)[idx].sum(axis=1) / e - base_rate
        point = (float(hits[m].sum()) - float(hits["day"].sum())) / events_total
        out["diff_vs_day_ci95"][m] = [
            round(point, 4),
            round(float(np.quantile(diff, 0.025)), 4),
            round(float(np.quantile(diff, 0.975)), 4),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2018-01-01")
    parser.add_argument("--days", type=int, default=360)
    parser.add_argument("--alphas", default="2,10,50")
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",") if a]
    print(json.dumps(run(date.fromisoformat(args.start), args.days, alphas)))


if __name__ == "__main__":
    main()
